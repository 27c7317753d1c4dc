"""SMS shows a check but can't submit one; two processes sweeping the same deadline close it once and
pay once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from bot.economy import EconomyRuntime
from bot.legitcheck import LegitChecks
from bot.legitcheck.models import LcCheck, LcVoter
from core.storage.types import utcnow
from tests.legitcheck.photos import photo_set
from tests.testbot import TestBot

SECTIONS: dict[str, dict[str, Any]] = {
    "economy": {"min_account_age_days": 0},
    "legitcheck": {"min_voters": 3, "min_weight": 1.5, "min_lead": 1.0, "majority": 0.7},
}
PHOTOS = photo_set("astronaut", "coffee", "chelsea")


async def test_sms_shows_a_check_but_cannot_submit_one(make_sms_bot: Any) -> None:
    bot = await make_sms_bot(**SECTIONS)
    sam = bot.member("sam", "discord")
    await bot.ok(sam, '/lc submit "Dunk Low" 9', attachments=PHOTOS)
    texter = bot.member("tex")
    shown = await bot.ok(texter, "/lc show 1")
    assert "Legit check #1" in shown.plain_text() and "Dunk Low" in shown.plain_text()
    await bot.fails(texter, '/lc submit "Dunk Low" 9')
    assert "vote" in (await bot.ok(texter, "/lc queue")).plain_text()


async def test_two_processes_close_a_due_check_once(make_bot: Any) -> None:
    # a lead no vote reaches: the check stays open until its deadline
    bot: TestBot = await make_bot(**{**SECTIONS, "legitcheck": {**SECTIONS["legitcheck"], "min_lead": 100.0}})
    for name in ("sam", "ann", "bob", "cat"):
        bot.member(name, platform="discord")
    await bot.ok("sam", '/lc submit "Dunk Low"', attachments=PHOTOS)
    for name in ("ann", "bob", "cat"):
        await bot.ok(name, "/lc vote 1 real")
    async with bot.engine.db.transaction() as session:
        await session.execute(update(LcCheck).values(deadline_at=utcnow() - timedelta(seconds=1)))
    first, second = bot.engine.service(LegitChecks), LegitChecks(bot.engine)
    closed = await asyncio.gather(first.close_due(), second.close_due())
    assert sorted(closed) == [0, 1]
    await asyncio.gather(first.sweep(), second.sweep())
    async with bot.engine.db.read() as session:
        check = (await session.execute(select(LcCheck))).scalar_one()
        voter = await session.get(LcVoter, await bot.member_id("ann"))
    assert (check.status, check.verdict, check.paid, check.announced) == ("closed", "real", True, True)
    assert voter is not None and voter.agreed == 1
    economy = bot.engine.service(EconomyRuntime).economy
    assert [await economy.balance(await bot.member_id(n)) for n in ("ann", "bob", "cat")] == [5, 5, 5]
