"""The feeds slice."""

from __future__ import annotations

from bot.feeds.commands import COMMANDS
from core.engine import Engine


def register(engine: Engine) -> None:
    engine.registry.add(*COMMANDS)
