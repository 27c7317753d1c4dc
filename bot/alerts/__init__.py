"""Alert rules and their delivery: members say what they want, the monitors' events are matched
against every rule through an index, and the matches go out through the outbox on each member's
channels, within quiet hours, caps and digests.

Importing the slice registers its tables (and the outbox's) and its ``[alerts]`` config section.
"""

from __future__ import annotations

from bot.alerts import config as _config  # noqa: F401  (registers [alerts])
from bot.alerts.commands import COMMANDS
from bot.alerts.service import EVENT_TOPIC, AlertsRuntime, runtime_for, stop_runtime
from core.engine import Engine
from core.storage.metadata import register_models

register_models("bot.alerts.models")
register_models("core.delivery.models")


def register(engine: Engine) -> None:
    engine.registry.add(*COMMANDS)
    runtime = runtime_for(engine)
    engine.bus.subscribe(EVENT_TOPIC, runtime.on_event)
    engine.scheduler.every("alerts.delivery_start", 2.0, runtime.start_when_ready)
    engine.scheduler.every("alerts.housekeeping", runtime.settings.housekeeping_s, runtime.housekeeping)
    engine.on_stop(lambda: stop_runtime(engine))


__all__ = ["AlertsRuntime", "register", "runtime_for", "stop_runtime"]
