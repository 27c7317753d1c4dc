"""Shared setup for the trades tests: a small catalog, three members whose listings form a cycle,
and reading the DMs the slice queued (from the outbox, where no chat frontend is attached)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update

from bot.market import Market
from core.delivery.models import OutboxMessage
from core.engine import Engine
from core.replies import Reply
from core.storage.models import Member
from core.storage.types import utcnow
from tests.market.data import PRODUCTS, write
from tests.testbot import TestBot

PINE = "Jordan 4 Retro SB Pine Green"
ZEBRA = "adidas Yeezy Boost 350 V2 Zebra"
FOG = "Nike Dunk Low Grey Fog"
#: lets fresh test accounts build reputation and earn (the anti-farming rules have their own test)
#: (and keeps the scheduled solve out of the way of the tests' own solves)
FRESH_OK = {"trades": {"min_account_age_days": 0, "debounce_seconds": 0, "check_seconds": 3600},
            "economy": {"min_account_age_days": 0}}  # fmt: skip


async def stock(engine: Engine, tmp_path: Path) -> None:
    await engine.service(Market).import_file(str(write(tmp_path, "products.csv", PRODUCTS)))


async def list_cycle(bot: TestBot) -> None:
    """alice has Pine Green and wants Zebra, bob has Zebra and wants Grey Fog, carol has Grey Fog
    and wants Pine Green: a three-way trade and no direct swap."""
    await bot.ok("alice", f'/have add "{PINE}" 10 ds')
    await bot.ok("alice", f'/want add "{ZEBRA}" sizes:"10, 10.5"')
    await bot.ok("bob", f'/have add "{ZEBRA}" US 10 vnds note:"worn once"')
    await bot.ok("bob", f'/want add "{FOG}" sizes:10')
    await bot.ok("carol", f'/have add "{FOG}" EU 44 used')
    await bot.ok("carol", f'/want add "{PINE}" sizes:10')


async def dms(engine: Engine, member_id: int, prefix: str = "") -> list[Reply]:
    """The trade DMs queued for a member, oldest first (``prefix``: only refs starting with it)."""
    async with engine.db.read() as session:
        rows = (await session.execute(
            select(OutboxMessage).where(OutboxMessage.member_id == member_id, OutboxMessage.source == "trade")
            .order_by(OutboxMessage.id)
        )).scalars().all()  # fmt: skip
    return [Reply.model_validate(row.payload) for row in rows if row.group_key.split(":")[1].startswith(prefix)]


async def age(engine: Engine, member_id: int, days: float) -> None:
    """Backdate a member's account."""
    from datetime import timedelta

    async with engine.db.transaction() as session:
        await session.execute(
            update(Member).where(Member.id == member_id).values(created_at=utcnow() - timedelta(days=days))
        )
