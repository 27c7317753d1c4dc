"""The LACES economy: a double-entry ledger, earn rules, tips, the shop, raffles and leaderboards.

Other features award LACES by publishing ``laces.earn`` events (``{"kind", "member_id",
"source_id"}``); they never write balances. They read it through ``engine.service(EconomyRuntime)``
(e.g. ``.shop.active(member_id, "premium_feed", "drops")``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sqlalchemy import and_, exists, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.economy import cli
from bot.economy.commands import all_commands
from bot.economy.config import EconomySection
from bot.economy.models import Entitlement, Purchase, RaffleEntry
from bot.economy.runtime import EconomyRuntime
from bot.economy.service import EARN_TOPIC
from core.config import Config
from core.engine import Engine
from core.slice import Slice


class EconomySlice(Slice[EconomyRuntime]):
    name = "economy"
    config_model = EconomySection
    models = ("bot.economy.models",)
    migrations = Path(__file__).parent / "migrations"

    def build(self, engine: Engine) -> EconomyRuntime:
        runtime = EconomyRuntime.build(engine)
        engine.registry.add(*all_commands(runtime))
        engine.bus.subscribe(EARN_TOPIC, runtime.economy.on_earn_event)
        engine.scheduler.every("economy.sweep", runtime.economy.settings.sweep_seconds, runtime.sweep, jitter=2)
        return runtime

    async def merge_members(
        self, services: EconomyRuntime, session: AsyncSession, survivor_id: int, absorbed_id: int
    ) -> None:
        """Purchases, entitlements and raffle entries follow the member. The balance follows too, but
        through the ledger (``Economy.wallet`` sweeps it in as a transfer), never by editing rows."""
        await session.execute(update(Purchase).where(Purchase.member_id == absorbed_id).values(member_id=survivor_id))
        await session.execute(
            update(Entitlement).where(Entitlement.member_id == absorbed_id).values(member_id=survivor_id)
        )
        # both entered the same raffle: the absorbed member's paid entry stays on their id (entries are
        # one per member), so the raffle's pot still matches its entries
        kept = RaffleEntry.__table__.alias("kept")
        await session.execute(
            update(RaffleEntry)
            .where(
                RaffleEntry.member_id == absorbed_id,
                ~exists().where(and_(kept.c.member_id == survivor_id, kept.c.raffle_id == RaffleEntry.raffle_id)),
            )
            .values(member_id=survivor_id)
        )

    def check_config(self, config: Config) -> list[str]:
        settings, feeds = config.get(EconomySection), config.feeds.names
        problems = []
        if settings.raffle_feed not in feeds:
            problems.append(f"[economy] raffle_feed: {_no_feed(settings.raffle_feed, feeds)}")
        for item in settings.shop:
            if item.kind == "premium_feed" and item.value not in feeds:
                problems.append(f"[[economy.shop]] {item.sku} value: {_no_feed(item.value, feeds)}")
        return problems

    def add_cli(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        cli.add_cli(subparsers)


def _no_feed(name: str, feeds: list[str]) -> str:
    return f"no feed named {name!r} (feeds: {', '.join(feeds)}; add it to [feeds] names)"


SLICE = EconomySlice()

__all__ = ["EARN_TOPIC", "SLICE", "EconomyRuntime", "EconomySlice"]
