"""A platform may deliver the same request twice (a Telegram update after a restart, a retried Discord
interaction, a Twilio webhook retried after our restart): the side effects happen once and the repeat
gets the first answer, because the platform's own id is claimed in the database."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from bot.economy.models import Transfer
from core.commands import Permission
from core.engine import Engine
from core.identity import Caller
from core.requests import RequestLog
from core.storage.database import Database

ADMIN = Caller("shell", "local", "admin")
SAM = Caller("discord", "5150", "sam")


async def transfers(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(Transfer)) or 0)


async def test_the_same_request_id_runs_once_and_answers_the_same(engine: Engine) -> None:
    await engine.dispatch_line(SAM, "/profile")  # sam exists
    before = await transfers(engine.db)
    first = await engine.dispatch_line(ADMIN, "/admin grant @sam 50 welcome", request_id="777")
    again = await engine.dispatch_line(ADMIN, "/admin grant @sam 50 welcome", request_id="777")
    assert again == first and "Granted" in (first.title or "") + (first.text or "")
    assert await transfers(engine.db) == before + 1
    other = await engine.dispatch_line(ADMIN, "/admin grant @sam 50 welcome", request_id="778")
    assert other.title == first.title
    assert await transfers(engine.db) == before + 2


async def test_two_processes_handed_the_same_update_run_it_once(engine: Engine) -> None:
    await engine.dispatch_line(SAM, "/profile")
    before = await transfers(engine.db)
    replies = await asyncio.gather(
        *(engine.dispatch_line(ADMIN, "/admin grant @sam 5 race", request_id="race-1") for _ in range(8))
    )
    assert await transfers(engine.db) == before + 1
    assert sum("Granted" in (r.title or "") + (r.text or "") for r in replies) >= 1


async def test_a_claim_left_by_a_dead_process_is_taken_over_after_it_goes_stale(database: Database) -> None:
    from datetime import timedelta

    log = RequestLog(database, stale_after=timedelta(0))
    assert (await log.claim("telegram:1")).first
    assert (await log.claim("telegram:1")).first  # the first claimer died mid-run: stale at once here
    await log.finish("telegram:1", {"text": "done"})
    repeat = await log.claim("telegram:1")
    assert not repeat.first and repeat.answer == {"text": "done"}


async def test_a_telegram_update_redelivered_after_a_restart_pays_once(make_telegram_bot: Any) -> None:
    bot = await make_telegram_bot()
    alice = bot.member("alice", platform="telegram")
    bob = bot.member("bob", platform="telegram")
    admin = bot.member("boss", platform="telegram", role=Permission.ADMIN)
    await bot.join(alice, bob)
    await bot.ok(admin, "/admin grant @alice 20 start")
    update = bot.fake.command(alice.native, "/laces tip @bob 5 thanks")
    await bot.fake.wait_for_message(alice.native.id)
    before = await transfers(bot.engine.db)
    await bot.restart()
    bot.fake.redeliver(update)
    repeat = await bot.fake.wait_for_message(alice.native.id)
    assert "5" in repeat.text
    await asyncio.sleep(0.2)
    assert await transfers(bot.engine.db) == before
