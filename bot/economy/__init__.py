"""The LACES economy slice (in progress)."""

from __future__ import annotations

from bot.economy import config as _config  # noqa: F401  (registers the [economy] section)
from core.storage.metadata import register_models

register_models("bot.economy.models")
