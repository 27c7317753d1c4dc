"""Runs the scene tests with the scene and trades slices in the slice list even before bot/slices.py
lists them (plugs are found through the trades slice's listings and reputation)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import bot.slices
import snpd.app
from bot.scene import SLICE as SCENE
from bot.trades import SLICE as TRADES


@pytest.fixture(autouse=True)
def scene_registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    missing = tuple(item for item in (SCENE, TRADES) if item not in bot.slices.SLICES)
    if missing:
        slices = (*bot.slices.SLICES, *missing)
        monkeypatch.setattr(bot.slices, "SLICES", slices)
        monkeypatch.setattr(snpd.app, "SLICES", slices)
    yield
