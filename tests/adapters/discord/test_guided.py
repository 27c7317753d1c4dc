"""Guided `/alerts add` on Discord: no options opens a modal; its submit runs the command through the
engine. Real discord.py against the fake Discord, rules stored on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from adapters.discord.forms import FORM_PREFIX, MODAL_FIELDS, form_params, label_for, modal_for
from adapters.discord.frontend import DiscordFrontend
from bot.alerts.models import AlertRule
from core.commands import Command, Guide, Param
from core.replies import Reply
from core.storage.database import Database
from tests.fakes.discord_api import FakeDiscord, FakeInteraction, modal_inputs
from tests.testbot import DiscordTestBot


@pytest.fixture
async def dc(make_discord_bot: Any, database: Database) -> DiscordTestBot:
    bot: DiscordTestBot = await make_discord_bot(db=database, frontend={"defer_after": 1.0})
    return bot


async def _rules(db: Database) -> list[AlertRule]:
    async with db.read() as session:
        return list((await session.execute(select(AlertRule).order_by(AlertRule.id))).scalars())


async def _open_form(fake: FakeDiscord) -> tuple[FakeInteraction, dict[str, Any]]:
    shown = await fake.send_command("alerts add")
    response = await fake.wait_for_response(shown)
    assert response["type"] == 9, "no options: the bot answers with a modal"
    return shown, response["data"]


async def test_no_options_opens_a_modal_built_from_the_guide(dc: DiscordTestBot) -> None:
    _, modal = await _open_form(dc.fake)
    assert modal["custom_id"] == FORM_PREFIX + "alerts add"
    assert modal["title"] == "New alert"
    inputs = modal_inputs(modal)
    assert [i["custom_id"] for i in inputs] == ["keywords", "sizes", "max_price", "stores", "priority"]
    assert [i["label"] for i in inputs] == ["Keywords", "Sizes", "Max price", "Stores", "Priority"]
    assert inputs[0]["placeholder"] == "Words that must all be in the title, e.g. jordan 4 bred"
    assert inputs[4]["placeholder"].startswith("normal or high: ")
    assert not any(i["required"] for i in inputs)


async def test_submitted_form_stores_the_rule_like_options_would(dc: DiscordTestBot) -> None:
    fake = dc.fake
    shown, _ = await _open_form(fake)
    values = {"keywords": "Jordan 4 Bred", "sizes": "10, US 10.5", "max_price": "$250", "priority": "High"}
    reply = await fake.wait_for_reply(await fake.submit_modal(shown, values))
    assert reply.ephemeral
    (stored,) = await _rules(dc.engine.db)
    assert reply.embeds[0]["title"] == f"🔔 Alert #{stored.id} added: jordan 4 bred"
    assert stored.keywords == ["jordan", "4", "bred"]
    assert stored.price_max == 250 and stored.high_priority and stored.stores == []
    assert len(stored.sizes) == 2

    typed = await dc.ok(dc.owner, "/alerts add dunk low max_price:120")  # options given: no modal, runs at once
    assert typed.ephemeral and "added: dunk low" in (typed.title or "")
    assert len(await _rules(dc.engine.db)) == 2


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"keywords": "jordan", "max_price": "abc"}, "`max_price`: expected a number, got `abc`"),
        ({"keywords": "jordan", "priority": "urgent"}, "`priority`: must be one of: normal, high"),
        ({"keywords": "jordan", "stores": "not a store"}, "`stores`: `not a store` is not a store host"),
        ({}, "A rule needs at least one criterion"),
    ],
)
async def test_bad_values_get_an_ephemeral_error_naming_the_field(
    dc: DiscordTestBot, values: dict[str, str], message: str
) -> None:
    shown, _ = await _open_form(dc.fake)
    reply = await dc.fake.wait_for_reply(await dc.fake.submit_modal(shown, values))
    assert reply.ephemeral and reply.embeds[0]["title"] == "⚠️ Not done"
    assert message in reply.embeds[0]["description"]
    assert await _rules(dc.engine.db) == []


async def test_a_form_opened_before_a_restart_is_still_understood(dc: DiscordTestBot) -> None:
    """The modal keeps no state in the process, so a new frontend handles its submit."""
    fake = dc.fake
    shown, _ = await _open_form(fake)
    await dc.frontend.stop()
    replacement = DiscordFrontend(dc.engine, defer_after=1.0, guild_ready_timeout=0.05)
    dc.engine.attach(replacement)
    await replacement.start()
    try:
        reply = await fake.wait_for_reply(await fake.submit_modal(shown, {"keywords": "yeezy 350"}))
        assert "added: yeezy 350" in reply.embeds[0]["title"]
        assert [r.keywords for r in await _rules(dc.engine.db)] == [["yeezy", "350"]]
    finally:
        await replacement.stop()


async def _noop(ctx: Any, **values: Any) -> Reply:
    return Reply(text="ok")


def test_form_holds_the_first_five_steps_and_needs_every_required_one() -> None:
    params = tuple(Param(f"field_{i}", f"Field {i}", required=False) for i in range(7))
    wide = Command("wide", "Many fields.", _noop, params, guide=Guide("Wide", tuple(p.name for p in params)))
    assert [p.name for p in form_params(wide)] == [f"field_{i}" for i in range(MODAL_FIELDS)]
    assert len(modal_for(wide).to_components()) == MODAL_FIELDS

    late = (*params[:6], Param("needed", "Required last"))
    with pytest.raises(ValueError, match="optional parameter"):
        Command("late", "Required after optional.", _noop, late)
    required_late = (Param("needed", "Required"), *params[:6])
    steps = (*(p.name for p in params[:6]), "needed")
    command = Command("late", "Required asked last.", _noop, required_late, guide=Guide("Late", steps))
    with pytest.raises(ValueError, match="past the 5 fields"):
        form_params(command)
    assert len(label_for(Param("a_very_long_parameter_name_that_goes_on_and_on_forever", "x"))) <= 45
