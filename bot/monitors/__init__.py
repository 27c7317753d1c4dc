"""Monitors: Shopify stores and rendered product pages watched for restocks, new products, sell-outs,
price changes and password pages; resale price observations; member restock reports.

The slice publishes ``monitor.event`` on the bus; it knows nothing of who listens (alerts, feeds).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.monitors import cli
from bot.monitors.commands import COMMANDS
from bot.monitors.config import MonitorsSection
from bot.monitors.reports import COMMANDS as REPORT_COMMANDS
from bot.monitors.service import EVENT_TOPIC, MonitorService
from core.config import Config
from core.engine import Engine
from core.slice import Slice


class MonitorsSlice(Slice[MonitorService]):
    name = "monitors"
    config_model = MonitorsSection
    models = ("bot.monitors.models",)
    migrations = Path(__file__).parent / "migrations"

    def build(self, engine: Engine) -> MonitorService:
        engine.registry.add(*COMMANDS, *REPORT_COMMANDS)
        return MonitorService(engine, engine.config.get(MonitorsSection))

    async def start(self, services: MonitorService) -> None:
        await services.boot()

    async def stop(self, services: MonitorService) -> None:
        await services.close()

    def check_config(self, config: Config) -> list[str]:
        feed, feeds = config.get(MonitorsSection).default_feed, config.feeds.names
        if feed not in feeds:
            return [f"[monitors] default_feed: no feed named {feed!r} (feeds: {', '.join(feeds)})"]
        return []

    def add_cli(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        cli.add_cli(subparsers)


SLICE = MonitorsSlice()

__all__ = ["EVENT_TOPIC", "SLICE", "MonitorService", "MonitorsSlice"]
