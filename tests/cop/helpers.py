"""What the Cop Simulator tests share: a clock tests move instead of sleeping, the config that
turns the cop feed on, and short ways to read drops, entries and feed posts back."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.cop import Cop
from bot.cop.models import CopDrop, CopEntry
from bot.economy import EconomyRuntime
from core.delivery.models import OutboxMessage
from core.engine import Engine
from core.feeds import FEED_TOPIC
from core.replies import Reply
from core.storage.types import utcnow

FEEDS = ["restocks", "drops", "reports", "raffles", "cop"]


def sections(**cop: Any) -> dict[str, dict[str, Any]]:
    """Config sections for a bot with the cop feed, earn rules paying new accounts, and ``cop``
    settings on top of a short countdown."""
    return {
        "feeds": {"names": FEEDS},
        "economy": {"min_account_age_days": 0},
        "cop": {"countdown_s": 5, "random_window_s": 20} | cop,
    }


@dataclass
class Clock:
    """Real time plus an offset the test moves: time still flows, so delivery latency is real."""

    offset: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


def clocked(engine: Engine) -> tuple[Cop, Clock]:
    cop = engine.service(Cop)
    clock = Clock()
    cop.clock = clock
    return cop, clock


async def drop_row(engine: Engine, drop_id: int) -> CopDrop:
    async with engine.db.read() as session:
        found = await session.get(CopDrop, drop_id)
    assert found is not None
    return found


async def latest_drop(engine: Engine) -> CopDrop:
    async with engine.db.read() as session:
        found = (await session.scalars(select(CopDrop).order_by(CopDrop.id.desc()).limit(1))).first()
    assert found is not None
    return found


async def entries(engine: Engine, drop_id: int) -> list[CopEntry]:
    async with engine.db.read() as session:
        rows = await session.scalars(select(CopEntry).where(CopEntry.drop_id == drop_id).order_by(CopEntry.id))
        return list(rows)


async def drop_messages(engine: Engine) -> list[OutboxMessage]:
    async with engine.db.read() as session:
        query = select(OutboxMessage).where(OutboxMessage.source == "cop").order_by(OutboxMessage.id)
        return list(await session.scalars(query))


async def open_now(engine: Engine, clock: Clock, drop_id: int) -> CopDrop:
    """Move the clock to the drop's opening and run the sweep the scheduler runs."""
    drop = await drop_row(engine, drop_id)
    clock.offset += max(timedelta(0), drop.opens_at - clock()) + timedelta(milliseconds=1)
    await engine.service(Cop).sweep()
    opened = await drop_row(engine, drop_id)
    assert opened.status == "open", opened.status
    return opened


def feed_posts(engine: Engine) -> list[Reply]:
    """Every item published to the cop feed from now on, as the feed dispatcher receives it."""
    posts: list[Reply] = []

    async def collect(_topic: str, payload: dict[str, Any]) -> None:
        if payload["feed"] == "cop":
            posts.append(Reply.model_validate(payload["item"]))

    engine.bus.subscribe(FEED_TOPIC, collect)
    return posts


async def balance(engine: Engine, member_id: int) -> int:
    return await engine.service(EconomyRuntime).economy.balance(member_id)


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Wait for something the delivery worker does in the background (polls; never a fixed sleep)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def closed(engine: Engine, drop_id: int) -> bool:
    return (await drop_row(engine, drop_id)).status == "closed"
