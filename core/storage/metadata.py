"""Collects every slice's tables onto the shared metadata, for Alembic and schema checks.

Core's own model modules are listed here; each slice lists its modules in ``Slice.models`` and
``bot.slices.load_models`` imports them, so core never imports a slice.
"""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

from core.storage.models import Base

_MODEL_MODULES: tuple[str, ...] = (
    "core.storage.models", "core.storage.consent", "core.conversations", "core.requests", "core.feeds"
)


def all_metadata() -> MetaData:
    for module in _MODEL_MODULES:
        importlib.import_module(module)
    return Base.metadata
