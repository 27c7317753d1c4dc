"""The command layer: declarations, validation, text parsing and the engine's error handling."""

from __future__ import annotations

import re

import pytest
import structlog

from core.commands import Command, Param, ParamType, Permission
from core.context import Context
from core.engine import Engine
from core.errors import BadArgument, UnknownCommand, UserError
from core.identity import Caller
from core.registry import CommandRegistry
from core.replies import Button, Reply

MEMBER = Caller(platform="telegram", external_id="42", display_name="sam")


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
    for bad, message in [("abc", "whole number"), ("0", "at least 1"), ("5000", "at most 1000"), ("2.5", "whole")]:
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


async def test_engine_answers_every_failure_with_a_short_message(sqlite_engine: Engine) -> None:
    assert (await sqlite_engine.dispatch_line(MEMBER, "/pign")).text == "Unknown command `/pign`. Did you mean `/ping`?"
    denied = await sqlite_engine.dispatch_line(MEMBER, "/feed bind restocks")
    assert denied.ephemeral and denied.text == "This command is for admins only."
    wrong = await sqlite_engine.dispatch_line(MEMBER, "/settings dm:maybe")
    assert wrong.ephemeral and wrong.text == "`dm`: expected on/off (yes/no)"
    typed = await sqlite_engine.dispatch(MEMBER, "settings", {"timezone": "Nowhere/Land"})
    assert typed.ephemeral and "unknown timezone" in typed.text


async def test_unexpected_error_shows_reference_and_logs_traceback(sqlite_engine: Engine) -> None:
    async def broken(ctx: Context) -> Reply:
        raise RuntimeError("database exploded")

    sqlite_engine.registry.add(Command("broken", "always fails", broken))
    with structlog.testing.capture_logs() as logs:
        reply = await sqlite_engine.dispatch_line(MEMBER, "/broken")
    assert reply.ephemeral
    found = re.search(r"Reference `([0-9a-f]{8})`", reply.text)
    assert found is not None and "exploded" not in reply.text
    [failure] = [entry for entry in logs if entry["event"] == "command.failed"]
    assert failure["ref"] == found.group(1)
    assert failure["log_level"] == "error" and failure["exc_info"] is True


async def test_private_commands_reply_ephemerally(sqlite_engine: Engine) -> None:
    reply = await sqlite_engine.dispatch_line(MEMBER, "/profile")
    assert reply.ephemeral and reply.title == "👤 sam"


async def test_help_hides_commands_above_the_callers_role(sqlite_engine: Engine) -> None:
    member_help = (await sqlite_engine.dispatch_line(MEMBER, "/help")).text
    admin = Caller(platform="telegram", external_id="1", display_name="boss", platform_role=Permission.ADMIN)
    admin_help = (await sqlite_engine.dispatch_line(admin, "/help")).text
    assert "/feed bind" not in member_help and "/feed bind" in admin_help
    assert "/profile" in member_help


async def test_autocomplete_offers_timezones(sqlite_engine: Engine) -> None:
    assert "Europe/London" in await sqlite_engine.autocomplete(MEMBER, "settings", "timezone", "london")
    assert await sqlite_engine.autocomplete(MEMBER, "feed bind", "feed", "re") == ["restocks", "reports"]


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
