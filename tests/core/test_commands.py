"""The command layer: declarations, validation, text parsing and the engine's error handling."""

from __future__ import annotations

import re

import pytest
import structlog

from core.commands import Command, Param, ParamType, Permission
from core.context import Context
from core.errors import BadArgument, UnknownCommand, UserError
from core.registry import CommandRegistry
from core.replies import Button, Reply
from tests.testbot import TestBot


@pytest.fixture
def bot(sqlite_bot: TestBot) -> TestBot:
    """Sam, a plain member on Telegram, talks to an engine on SQLite."""
    sqlite_bot.member("sam", "telegram")
    return sqlite_bot


async def _echo(ctx: Context, amount: int, note: str | None = None) -> Reply:
    return Reply(text=f"{amount} {note or ''}".strip())


ECHO = Command(
    name="laces echo",
    description="test",
    handler=_echo,
    params=(
        Param("amount", "how many", type=ParamType.INTEGER, min_value=1, max_value=1000),
        Param("note", "why", required=False),
    ),
)


def test_param_conversion_and_limits() -> None:
    amount = ECHO.params[0]
    assert amount.convert("1,000") == 1000
    for bad, message in [("abc", "whole number"), ("0", "at least 1"), ("5000", "at most 1,000"), ("2.5", "whole")]:
        with pytest.raises(BadArgument, match=message):
            amount.convert(bad)
    flag = Param("dm", "x", type=ParamType.BOOLEAN)
    assert flag.convert("off") is False and flag.convert("YES") is True
    price = Param("price", "x", type=ParamType.NUMBER)
    assert price.convert("$189.99") == 189.99
    with pytest.raises(BadArgument, match="finite"):
        price.convert("nan")
    choice = Param("period", "x", choices=("week", "month", "all"))
    assert choice.convert("WEEK") == "week"
    with pytest.raises(BadArgument, match="one of: week, month, all"):
        choice.convert("year")


def test_bind_reports_missing_and_unknown_parameters() -> None:
    with pytest.raises(BadArgument, match=r"`amount`: is required\. Usage: /laces echo <amount> \[note\]"):
        ECHO.bind({})
    with pytest.raises(BadArgument, match="not a parameter"):
        ECHO.bind({"amount": 1, "colour": "red"})
    assert ECHO.bind({"amount": "7"}) == {"amount": 7, "note": None}


def test_declaration_rules() -> None:
    with pytest.raises(ValueError, match="follows an optional"):
        Command("x", "d", _echo, params=(Param("a", "a", required=False), Param("b", "b")))
    with pytest.raises(ValueError, match="100 characters"):
        Command("x", "d" * 101, _echo)
    with pytest.raises(ValueError, match="64 bytes"):
        Button(label="x", action="/" + "a" * 80)


def test_registry_parses_text_lines() -> None:
    registry = CommandRegistry()
    registry.add(ECHO)
    command, words, named = registry.parse('/laces echo 5 "for the W"')
    assert command is ECHO and command.bind_words(words, named) == {"amount": 5, "note": "for the W"}
    command, words, named = registry.parse("/laces@snpd_bot echo note:hi amount=3")
    assert command.bind_words(words, named) == {"amount": 3, "note": "hi"}
    command, words, named = registry.parse("/laces echo 5 thanks for the pair")
    assert command.bind_words(words, named)["note"] == "thanks for the pair"
    with pytest.raises(UnknownCommand, match="Did you mean `/laces echo`"):
        registry.parse("/laces ecko 5")
    with pytest.raises(UserError, match="needs one of: echo"):
        registry.parse("/laces")
    with pytest.raises(BadArgument, match="unbalanced quotes"):
        registry.parse('/laces echo "5')
    with pytest.raises(ValueError, match="declared twice"):
        registry.add(ECHO)


def test_words_map_onto_parameter_names_unconverted() -> None:
    """What a platform with typed options would send for the same line."""
    registry = CommandRegistry()
    registry.add(ECHO)
    command, words, named = registry.parse("/laces echo 1,000 for the W")
    assert command.raw_from_words(words, named) == {"amount": "1,000", "note": "for the W"}
    with pytest.raises(BadArgument, match="unexpected extra argument"):
        command.raw_from_words(["5", "a"], {"note": "b"})


async def test_engine_answers_every_failure_with_a_short_message(bot: TestBot) -> None:
    assert (await bot.say("sam", "/pign")).text == "Unknown command `/pign`. Did you mean `/ping`?"
    denied = await bot.say("sam", "/feed bind restocks")
    assert denied.ephemeral and denied.text == "This command is for admins only."
    wrong = await bot.say("sam", "/settings dm:maybe")
    assert wrong.ephemeral and wrong.text == "`dm`: expected on/off (yes/no)"
    typed = await bot.engine.dispatch(bot["sam"].caller, "settings", {"timezone": "Nowhere/Land"})
    assert typed.ephemeral and "unknown timezone" in typed.text


async def test_unexpected_error_shows_reference_and_logs_traceback(bot: TestBot) -> None:
    async def broken(ctx: Context) -> Reply:
        raise RuntimeError("database exploded")

    bot.engine.registry.add(Command("broken", "always fails", broken))
    with structlog.testing.capture_logs() as logs:
        reply = await bot.say("sam", "/broken")
    assert reply.ephemeral
    found = re.search(r"Reference `([0-9a-f]{8})`", reply.text)
    assert found is not None and "exploded" not in reply.text
    [failure] = [entry for entry in logs if entry["event"] == "command.failed"]
    assert failure["ref"] == found.group(1)
    assert failure["log_level"] == "error" and failure["exc_info"] is True


async def test_private_commands_reply_ephemerally(bot: TestBot) -> None:
    reply = await bot.say("sam", "/profile")
    assert reply.ephemeral and reply.title == "👤 sam"


async def test_help_hides_commands_above_the_callers_role(bot: TestBot) -> None:
    member_help = (await bot.say("sam", "/help")).text
    admin = bot.member("boss", "telegram", Permission.ADMIN)
    admin_help = (await bot.say(admin, "/help")).text
    assert "/feed bind" not in member_help and "/feed bind" in admin_help
    assert "/profile" in member_help


async def test_autocomplete_offers_timezones(bot: TestBot) -> None:
    assert "Europe/London" in await bot.engine.autocomplete(bot["sam"].caller, "settings", "timezone", "london")
    assert await bot.engine.autocomplete(bot["sam"].caller, "feed bind", "feed", "re") == ["restocks", "reports"]


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("/laces echo 5 it's Nike's don't", ["5", "it's", "Nike's", "don't"]),
        ("/laces echo 5 'sup", ["5", "'sup"]),
        ("/laces echo 5 \"re: bred\" 'for the W'", ["5", "re: bred", "for the W"]),
        (
            "/laces echo 5 22:00-08:00 https://kith.com discord:123",
            ["5", "22:00-08:00", "https://kith.com", "discord:123"],
        ),
    ],
)
def test_apostrophes_inside_words_and_colons_in_values_are_just_text(line: str, words: list[str]) -> None:
    registry = CommandRegistry()
    registry.add(ECHO)
    _command, parsed, named = registry.parse(line)
    assert parsed == words and named == {}


def test_an_option_with_nothing_after_it_is_an_empty_value_not_a_word() -> None:
    registry = CommandRegistry()
    registry.add(ECHO)
    with pytest.raises(BadArgument, match="`note`: empty value"):
        registry.parse("/laces echo 5 note:")
    with pytest.raises(BadArgument, match="`note`: empty value"):
        registry.parse('/laces echo 5 note:""')


def test_an_unknown_option_names_the_real_ones() -> None:
    registry = CommandRegistry()
    registry.add(ECHO)
    with pytest.raises(UserError, match=r"Unknown option `bogus` for /laces echo \(options: amount, note\)"):
        registry.parse("/laces echo 5 bogus:1")
