"""The feeds slice: binding named feeds (restocks, drops, raffles…) to channels and roles."""

from __future__ import annotations

from bot.feeds.commands import COMMANDS
from core.engine import Engine
from core.slice import Slice


class FeedsSlice(Slice[None]):
    name = "feeds"

    def build(self, engine: Engine) -> None:
        engine.registry.add(*COMMANDS)


SLICE = FeedsSlice()

__all__ = ["SLICE", "FeedsSlice"]
