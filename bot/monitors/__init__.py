"""Monitors: Shopify stores and rendered product pages watched for restocks, new products, sell-outs,
price changes and password pages; resale price observations; member restock reports.

``register(engine)`` adds the commands and starts the monitor engine once the scheduler runs.
"""

from __future__ import annotations

from bot.monitors import config as _config  # registers the [monitors] section
from bot.monitors.service import EVENT_TOPIC, MonitorService, service_for
from core.engine import Engine
from core.storage.metadata import register_models
from core.storage.types import utcnow

register_models("bot.monitors.models")

__all__ = ["EVENT_TOPIC", "MonitorService", "register", "service_for"]


def register(engine: Engine) -> MonitorService:
    from bot.monitors.commands import COMMANDS
    from bot.monitors.reports import COMMANDS as REPORT_COMMANDS

    service = MonitorService(engine, engine.config.section(_config.SECTION))
    engine.registry.add(*COMMANDS, *REPORT_COMMANDS)
    engine.scheduler.once("monitors:boot", utcnow(), service.boot)
    engine.on_stop(service.close)
    return service
