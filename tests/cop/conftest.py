"""Runs the cop tests with the cop slice in the slice list, whether or not bot/slices.py has it yet."""

from __future__ import annotations

import pytest

import bot.slices
import snpd.app
from bot.cop import SLICE as COP


@pytest.fixture(autouse=True)
def cop_slice(monkeypatch: pytest.MonkeyPatch) -> None:
    if COP not in bot.slices.SLICES:
        monkeypatch.setattr(bot.slices, "SLICES", (*bot.slices.SLICES, COP))
        monkeypatch.setattr(snpd.app, "SLICES", bot.slices.SLICES)
