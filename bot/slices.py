"""The feature slices this bot runs: the one list that the engine, the config loader, the migration
runner, the CLI and the command manifest all read. A new feature is a folder under ``bot/`` with a
``SLICE`` (a ``core.slice.Slice``) and one line here.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from bot.account import SLICE as ACCOUNT
from bot.alerts import SLICE as ALERTS
from bot.cop import SLICE as COP
from bot.delivery import SLICE as DELIVERY
from bot.drops import SLICE as DROPS
from bot.economy import SLICE as ECONOMY
from bot.feeds import SLICE as FEEDS
from bot.general import SLICE as GENERAL
from bot.legitcheck import SLICE as LEGITCHECK
from bot.market import SLICE as MARKET
from bot.monitors import SLICE as MONITORS
from bot.scene import SLICE as SCENE
from bot.trades import SLICE as TRADES
from core.config import Config, Section
from core.config import load_config as load_core_config
from core.errors import ConfigError
from core.slice import Slice, in_dependency_order

SLICES: tuple[Slice[Any], ...] = (
    GENERAL, ACCOUNT, FEEDS, DELIVERY, ALERTS, MONITORS, ECONOMY, MARKET, LEGITCHECK, SCENE, TRADES, DROPS, COP
)


def ordered() -> list[Slice[Any]]:
    return in_dependency_order(SLICES)


def config_sections() -> dict[str, type[Section]]:
    return {item.name: item.config_model for item in SLICES if item.config_model is not None}


def load_models() -> None:
    """Import every slice's model modules, so their tables are in the metadata migrations compare."""
    for item in SLICES:
        for module in item.models:
            importlib.import_module(module)


def migration_locations() -> list[Path]:
    return [item.migrations for item in ordered() if item.migrations is not None]


def load_config(path: Path | str | None = None, *, overrides: dict[str, dict[str, Any]] | None = None) -> Config:
    """bot.toml validated against core's sections and every slice's, then across sections (feed
    names and other cross-references), so ``snpd config check`` catches what would fail later."""
    config = load_core_config(path, overrides=overrides, sections=config_sections())
    where = f"{config.path}: " if config.path else ""
    for item in SLICES:
        problems = item.check_config(config)
        if problems:
            raise ConfigError(where + problems[0])
    return config
