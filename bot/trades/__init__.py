"""Trades: haves and wants, a matcher that finds direct swaps and multi-way cycles (the solver in
``bot.trades.solver``), proposals members accept by DM, completing and reviewing trades, and
reputation that can't be farmed (``/rep``). Other slices use ``engine.service(Trades)`` (see
``bot.trades.service``) and the ``trades.listing`` bus event.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import and_, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.economy.config import EconomySection
from bot.trades import cli, proposals
from bot.trades.config import TradesSection
from bot.trades.listing_commands import COMMANDS as LISTING_COMMANDS
from bot.trades.models import (
    TradeBlock,
    TradeExclusion,
    TradeHave,
    TradeLeg,
    TradeParty,
    TradePrefs,
    TradeReview,
    TradeWant,
)
from bot.trades.service import LISTING_TOPIC, Trades
from bot.trades.trade_commands import COMMANDS as TRADE_COMMANDS
from bot.trades.trade_commands import remove_member
from core.config import Config
from core.engine import Engine
from core.slice import Slice

log = structlog.get_logger(__name__)

#: published by whatever notices a member left or was banned: ``{"member_id", "reason"}``
MEMBER_REMOVED_TOPIC = "member.removed"


class TradesSlice(Slice[Trades]):
    name = "trades"
    config_model = TradesSection
    models = ("bot.trades.models",)
    migrations = Path(__file__).parent / "migrations"
    depends_on = ("market", "delivery")

    def build(self, engine: Engine) -> Trades:
        trades = Trades(engine)
        engine.registry.add(*LISTING_COMMANDS, *TRADE_COMMANDS)
        seconds = trades.settings.check_seconds

        async def tick() -> None:
            await proposals.expire_due(trades)
            await proposals.run_solver(trades)

        async def removed(_topic: str, payload: dict[str, Any]) -> None:
            member_id = payload.get("member_id")
            if isinstance(member_id, int):
                await remove_member(trades, member_id, str(payload.get("reason") or "a member left the trade"))

        engine.scheduler.every("trades.tick", seconds, tick, jitter=min(2.0, seconds / 4))
        engine.bus.subscribe(MEMBER_REMOVED_TOPIC, removed)
        return trades

    async def merge_members(self, services: Trades, session: AsyncSession, survivor_id: int, absorbed_id: int) -> None:
        """Listings, reviews and finished trades follow the member; a live proposal either of them
        is in is voided (the cycle was matched for two people who are now one)."""
        await proposals.void_for_member(session, services, absorbed_id, "A member's accounts were merged.")
        await session.execute(update(TradeHave).where(TradeHave.member_id == absorbed_id).values(member_id=survivor_id))
        await session.execute(update(TradeWant).where(TradeWant.member_id == absorbed_id).values(member_id=survivor_id))
        for column in (TradeLeg.giver_id, TradeLeg.receiver_id):
            await session.execute(update(TradeLeg).where(column == absorbed_id).values({column: survivor_id}))
        for column in (TradeReview.reviewer_id, TradeReview.reviewee_id):
            await session.execute(update(TradeReview).where(column == absorbed_id).values({column: survivor_id}))
        kept = TradeParty.__table__.alias("kept")
        await session.execute(
            update(TradeParty)
            .where(TradeParty.member_id == absorbed_id,
                   ~exists().where(and_(kept.c.member_id == survivor_id, kept.c.proposal_id == TradeParty.proposal_id)))
            .values(member_id=survivor_id)
        )  # fmt: skip
        await session.execute(delete(TradeBlock).where(
            ((TradeBlock.member_id == absorbed_id) & (TradeBlock.blocked_id == survivor_id))
            | ((TradeBlock.member_id == survivor_id) & (TradeBlock.blocked_id == absorbed_id))
        ))  # fmt: skip
        excluded = TradeExclusion
        known = select(excluded.have_id).where(excluded.member_id == survivor_id)
        await session.execute(delete(excluded).where(excluded.member_id == absorbed_id, excluded.have_id.in_(known)))
        await session.execute(update(excluded).where(excluded.member_id == absorbed_id).values(member_id=survivor_id))
        blocks, prefs = TradeBlock, TradePrefs
        mine = select(blocks.blocked_id).where(blocks.member_id == survivor_id)
        theirs = select(blocks.member_id).where(blocks.blocked_id == survivor_id)
        await session.execute(delete(blocks).where(blocks.member_id == absorbed_id, blocks.blocked_id.in_(mine)))
        await session.execute(delete(blocks).where(blocks.blocked_id == absorbed_id, blocks.member_id.in_(theirs)))
        await session.execute(update(blocks).where(blocks.member_id == absorbed_id).values(member_id=survivor_id))
        await session.execute(update(blocks).where(blocks.blocked_id == absorbed_id).values(blocked_id=survivor_id))
        if await session.get(prefs, survivor_id) is None:
            await session.execute(update(prefs).where(prefs.member_id == absorbed_id).values(member_id=survivor_id))
        else:
            await session.execute(delete(prefs).where(prefs.member_id == absorbed_id))

    def check_config(self, config: Config) -> list[str]:
        settings = config.get(TradesSection)
        problems = []
        feed = settings.dispute_feed
        if feed and feed not in config.feeds.names:
            problems.append(f"[trades] dispute_feed: no feed named {feed!r} (feeds: {', '.join(config.feeds.names)})")
        rules = config.get(EconomySection).earn
        # a kind without a rule pays nothing (bot.toml's earn rules say so); only a kind the operator
        # named here is checked, to catch a typo
        if "earn_kind" in settings.model_fields_set and settings.earn_kind and settings.earn_kind not in rules:
            kind, known = settings.earn_kind, ", ".join(rules)
            problems.append(f"[trades] earn_kind: no [economy.earn.{kind}] rule (rules: {known})")
        return problems

    def add_cli(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        cli.add_cli(subparsers)


SLICE = TradesSlice()

__all__ = ["LISTING_TOPIC", "MEMBER_REMOVED_TOPIC", "SLICE", "Trades", "TradesSlice"]
