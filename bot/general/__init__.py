"""The general slice: /help and /ping, read from the command registry."""

from __future__ import annotations

from bot.general.commands import COMMANDS
from core.engine import Engine
from core.slice import Slice


class GeneralSlice(Slice[None]):
    name = "general"

    def build(self, engine: Engine) -> None:
        engine.registry.add(*COMMANDS)


SLICE = GeneralSlice()

__all__ = ["SLICE", "GeneralSlice"]
