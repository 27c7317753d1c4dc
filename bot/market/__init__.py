"""The sneaker market: the pair catalog every feature names pairs from, search that finds a pair
however members type it (/search, and autocomplete for every pair parameter), and /price, the
market of a pair from the price observations the monitors slice stores, with a chart; /pricematch,
where a pair is cheapest right now; and /closet, the pairs a member owns valued at market.
/detective lists the pairs the forecast model expects to rise, and a job publishes them as
``prediction`` events for alert rules.

Monitored products are linked to their catalog entry as their events go by (``monitor.event``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.market import cli, closet, detective, pricematch
from bot.market.commands import COMMANDS, pair_param
from bot.market.config import MarketSection
from bot.market.models import ClosetItem
from bot.market.service import REFRESH_S, Market
from bot.monitors.service import EVENT_TOPIC
from core.engine import Engine
from core.slice import Slice


class MarketSlice(Slice[Market]):
    name = "market"
    config_model = MarketSection
    models = ("bot.market.models",)
    migrations = Path(__file__).parent / "migrations"
    depends_on = ("monitors",)

    def build(self, engine: Engine) -> Market:
        market = Market(engine.db)
        engine.registry.add(*COMMANDS, *pricematch.COMMANDS, *closet.COMMANDS)
        engine.bus.subscribe(EVENT_TOPIC, market.on_monitor_event)
        engine.scheduler.every("market.catalog_refresh", REFRESH_S, market.refresh_job)
        detectives = detective.Detective(engine.db, engine.bus, engine.config.get(MarketSection))
        engine.registry.add(*detective.commands(detectives))
        engine.scheduler.every("market.predictions", detectives.settings.prediction_check_s, detectives.job)
        return market

    async def start(self, services: Market) -> None:
        await services.refresh(force=True)

    async def merge_members(self, services: Market, session: AsyncSession, survivor_id: int, absorbed_id: int) -> None:
        """The absorbed member's closet pairs become the survivor's."""
        await session.execute(
            update(ClosetItem).where(ClosetItem.member_id == absorbed_id).values(member_id=survivor_id)
        )

    def add_cli(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        cli.add_cli(subparsers)


SLICE = MarketSlice()

__all__ = ["SLICE", "Market", "MarketSlice", "pair_param"]
