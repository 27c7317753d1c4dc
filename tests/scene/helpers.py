"""What the scene tests share: a bot with the spotted feed and quick earnings, and feed capture."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.monitors.models import Monitor, MonitorEvent
from bot.trades.models import COMPLETED, TradeLeg, TradeProposal, TradeReview
from core.delivery.models import OutboxMessage
from core.engine import Engine
from core.feeds import FEED_TOPIC
from core.replies import Reply
from core.storage.types import utcnow
from tests.testbot import TestBot

#: LACES paid to brand-new test accounts (bot.toml's [feeds] names has the spotted feed)
SECTIONS: dict[str, dict[str, Any]] = {"economy": {"min_account_age_days": 0}}


def capture_feed(bot: TestBot, feed: str) -> list[Reply]:
    """Every item published to ``feed`` from now on."""
    posts: list[Reply] = []

    async def keep(_topic: str, payload: dict[str, Any]) -> None:
        if payload["feed"] == feed:
            posts.append(Reply.model_validate(payload["item"]))

    bot.engine.bus.subscribe(FEED_TOPIC, keep)
    return posts


async def completed_trade(engine: Engine, giver_id: int, receiver_id: int, have_id: int, stars: int) -> None:
    """A finished trade in the trades slice's tables: ``giver`` sent the have, both confirmed, and the
    receiver reviewed it (history to rank plugs by; the trades tests cover how it comes about)."""
    now = utcnow()
    async with engine.db.transaction() as session:
        proposal = TradeProposal(status=COMPLETED, deadline=now, created_at=now, opened_at=now, closed_at=now)
        session.add(proposal)
        await session.flush()
        session.add(
            TradeLeg(proposal_id=proposal.id, have_id=have_id, giver_id=giver_id, receiver_id=receiver_id,
                     sent_at=now, received_at=now)
        )  # fmt: skip
        session.add(TradeReview(proposal_id=proposal.id, reviewer_id=receiver_id, reviewee_id=giver_id, stars=stars))


async def outbox(engine: Engine, member_id: int, source: str) -> list[OutboxMessage]:
    async with engine.db.read() as session:
        rows = await session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.member_id == member_id, OutboxMessage.source == source)
            .order_by(OutboxMessage.id)
        )
        return list(rows.scalars())


async def shop_restocks(engine: Engine, lat: float, lon: float, ages_days: list[float]) -> None:
    """Restock events of a (paused) monitor that watches a physical shop at ``lat, lon``, as the
    monitors slice stores them, ``ages_days`` old."""
    now = utcnow()
    async with engine.db.transaction() as session:
        monitor = Monitor(kind="shopify", url="http://127.0.0.1:9/", host="127.0.0.1", interval_s=60, paused=True,
                          latitude=lat, longitude=lon)  # fmt: skip
        session.add(monitor)
        await session.flush()
        for number, age in enumerate(ages_days):
            when = now - timedelta(days=age)
            session.add(MonitorEvent(event_id=f"test:{monitor.id}:{number}", monitor_id=monitor.id, kind="restock",
                                     payload={}, created_at=when, published_at=when))  # fmt: skip
