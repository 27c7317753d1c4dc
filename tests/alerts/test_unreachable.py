"""Alerts that can reach nobody are never silent (issue 11, item 2): the member hears it when adding
the rule, and admins see the notices in `/admin deadletters` with the reason. On both databases."""

from __future__ import annotations

from core.engine import Engine
from tests.adapters.shell.console import Console, notice_statuses, publish_event, restock_event
from tests.testbot import TestBot


async def test_unreachable_notices_are_listed_for_admins_with_the_reason(engine: Engine) -> None:
    console = Console(engine)
    bot = TestBot(engine)
    tara = bot.member("tara", "telegram")

    told = (await bot.ok(tara, "/alerts add jordan 4")).plain_text()
    assert "can't reach you" in told and "Telegram isn't running on this server" in told

    await console.say("/settings dm:off")
    await console.say("/alerts add jordan 4")
    assert "None. Everything was delivered." in await console.say("/admin deadletters")

    await publish_event(engine, restock_event("e1"))
    # Tara's alert waits in the outbox for Telegram to start; the shell member's has nowhere to go
    assert await notice_statuses(engine) == ["queued", "unreachable"]

    listing = await console.say("/admin deadletters")
    assert "Everything was delivered" not in listing
    assert "1 unreachable" in listing
    operator_id = (await engine.identity.resolve(console.shell.caller)).id
    assert f"unreachable · member #{operator_id}" in listing
    assert "alert #2: " in listing and "Air Jordan 4 Retro Bred" in listing
    assert "Why: DMs are off" in listing
