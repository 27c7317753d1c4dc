"""Time zones in any case, and a warning for fixed-offset abbreviations that don't follow daylight
saving (``EST`` is UTC-5 in July too)."""

from __future__ import annotations

import pytest

from core.errors import BadArgument
from core.timezones import resolve_timezone


@pytest.mark.parametrize(
    ("typed", "name"), [("europe/london", "Europe/London"), ("AMERICA/NEW_YORK", "America/New_York")]
)
def test_any_case_finds_the_zone(typed: str, name: str) -> None:
    assert resolve_timezone(typed) == (name, None)


@pytest.mark.parametrize(
    ("typed", "hint"), [("EST", "America/New_York"), ("est", "America/New_York"), ("MST", "America/Denver")]
)
def test_fixed_offset_abbreviations_warn_and_suggest_a_city(typed: str, hint: str) -> None:
    zone = resolve_timezone(typed)
    assert zone.warning is not None and "no daylight saving" in zone.warning and hint in zone.warning


@pytest.mark.parametrize("typed", ["UTC", "Asia/Tokyo"])
def test_zones_without_daylight_saving_by_choice_do_not_warn(typed: str) -> None:
    assert resolve_timezone(typed).warning is None


def test_an_unknown_zone_names_an_example() -> None:
    with pytest.raises(BadArgument, match="unknown timezone `Mars/Base`; use a name like Europe/London"):
        resolve_timezone("Mars/Base")
