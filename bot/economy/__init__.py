"""The LACES economy: a double-entry ledger, earn rules, tips, the shop, raffles and leaderboards.

Other features award LACES by publishing ``laces.earn`` events (``{"kind", "member_id",
"source_id"}``); they never write balances. ``runtime_for(engine)`` gives other slices read access
(e.g. ``runtime_for(engine).shop.active(member_id, "premium_feed", "drops")``).
"""

from __future__ import annotations

from bot.economy import config as _config  # noqa: F401  (registers the [economy] section)
from bot.economy.commands import all_commands
from bot.economy.runtime import EconomyRuntime, runtime_for
from bot.economy.service import EARN_TOPIC
from core.engine import Engine
from core.storage.metadata import register_models

register_models("bot.economy.models")

__all__ = ["EARN_TOPIC", "register", "runtime_for"]


def register(engine: Engine) -> None:
    runtime = EconomyRuntime.build(engine)
    engine.registry.add(*all_commands(runtime))
    engine.bus.subscribe(EARN_TOPIC, runtime.economy.on_earn_event)
    engine.scheduler.every("economy.sweep", runtime.economy.settings.sweep_seconds, runtime.sweep, jitter=2)
