"""Runs the trades tests with the trades slice in the slice list even before bot/slices.py lists it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import bot.slices
import snpd.app
from bot.trades import SLICE


@pytest.fixture(autouse=True)
def trades_registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if SLICE not in bot.slices.SLICES:
        slices = (*bot.slices.SLICES, SLICE)
        monkeypatch.setattr(bot.slices, "SLICES", slices)
        monkeypatch.setattr(snpd.app, "SLICES", slices)
    yield
