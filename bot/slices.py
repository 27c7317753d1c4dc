"""The feature slices the app loads. A new feature adds its module name to ``SLICES``.

Each slice module has ``register(engine)``, which declares its commands and subscriptions. Importing
a slice registers its tables (``core.storage.metadata.register_models``) so migrations see them.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from core.engine import Engine

SLICES: tuple[str, ...] = ("bot.general", "bot.account", "bot.feeds", "bot.alerts", "bot.monitors", "bot.economy")


def load_slices() -> list[ModuleType]:
    return [importlib.import_module(name) for name in SLICES]


def register_all(engine: Engine) -> None:
    for module in load_slices():
        module.register(engine)
