"""The sneaker market: the pair catalog every feature names pairs from, search that finds a pair
however members type it (/search, and autocomplete for every pair parameter), and /price, the
market of a pair from the price observations the monitors slice stores, with a chart.

Monitored products are linked to their catalog entry as their events go by (``monitor.event``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.market import cli
from bot.market.commands import COMMANDS, pair_param
from bot.market.service import REFRESH_S, Market
from bot.monitors.service import EVENT_TOPIC
from core.engine import Engine
from core.slice import Slice


class MarketSlice(Slice[Market]):
    name = "market"
    models = ("bot.market.models",)
    migrations = Path(__file__).parent / "migrations"
    depends_on = ("monitors",)

    def build(self, engine: Engine) -> Market:
        market = Market(engine.db)
        engine.registry.add(*COMMANDS)
        engine.bus.subscribe(EVENT_TOPIC, market.on_monitor_event)
        engine.scheduler.every("market.catalog_refresh", REFRESH_S, market.refresh_job)
        return market

    async def start(self, services: Market) -> None:
        await services.refresh(force=True)

    def add_cli(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        cli.add_cli(subparsers)


SLICE = MarketSlice()

__all__ = ["SLICE", "Market", "MarketSlice", "pair_param"]
