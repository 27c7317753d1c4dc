"""The foundation's commands: help, ping, link, profile, settings and feed management."""

from __future__ import annotations

from bot.commands import account, feeds, general
from core.commands import Command
from core.engine import Engine

COMMANDS: list[Command] = [*general.COMMANDS, *account.COMMANDS, *feeds.COMMANDS]


def register(engine: Engine) -> None:
    engine.registry.add(*COMMANDS)
