"""Collects every slice's tables onto the shared metadata, for Alembic and schema checks.

Slices announce their model modules with ``register_models``; the composition root imports the
slices, so core never imports them itself.
"""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

from core.storage.models import Base

_MODEL_MODULES: list[str] = ["core.storage.models", "core.storage.consent", "core.conversations", "core.requests"]


def register_models(module: str) -> None:
    if module not in _MODEL_MODULES:
        _MODEL_MODULES.append(module)


def all_metadata() -> MetaData:
    for module in _MODEL_MODULES:
        importlib.import_module(module)
    return Base.metadata
