"""Twilio retries a webhook it got no answer to, also after our restart: the MessageSid is claimed in
the database, so a repeat is answered with the first answer and a captured STOP replayed after START
doesn't opt the member out again."""

from __future__ import annotations

from typing import Any

from adapters.sms.frontend import SmsFrontend
from core.storage import consent
from core.storage.database import Database
from tests.fakes.twilio_api import inbound_params
from tests.testbot import SmsTestBot

PHONE = "+14155550123"
OUR_NUMBER = "+14155550100"


async def opted_out(bot: SmsTestBot) -> str | None:
    assert bot.engine.vault is not None
    async with bot.engine.db.read() as session:
        return await consent.opt_out_reason(session, bot.engine.vault.lookup_key(PHONE))


async def restart(bot: SmsTestBot) -> None:
    """A new frontend object on the same engine and database: what a process restart leaves."""
    await bot.frontend.stop()
    bot.frontend = SmsFrontend(bot.engine)
    bot.engine.attach(bot.frontend)
    await bot.frontend.start()


async def test_a_stop_replayed_after_start_and_a_restart_changes_nothing(make_sms_bot: Any, database: Database) -> None:
    bot: SmsTestBot = await make_sms_bot(db=database, number=OUR_NUMBER)
    bot.member("sam", external_id=PHONE)
    stop = inbound_params(PHONE, "STOP", to=OUR_NUMBER)
    first = await bot.post(stop)
    assert await opted_out(bot) == "STOP"
    await bot.texts("sam", "START")
    assert await opted_out(bot) is None
    await restart(bot)
    replayed = await bot.post(stop)
    assert replayed == first
    assert await opted_out(bot) is None  # still subscribed
