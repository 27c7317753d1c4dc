"""Size normalisation: every documented spelling lands on one key; unknown systems name the field."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.alerts.sizes import EU_TO_US_MEN, SizeError, event_size, normalise_size, parse_sizes


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("10", "10"),
        ("US 10", "10"),
        ("10.0", "10"),
        ("10,0", "10"),
        ("M 10 / W 11.5", "10"),
        ("US M 10", "10"),
        ("Men's 10", "10"),
        ("10M", "10"),
        ("EU 44", "10"),
        ("UK 9", "10"),
        ("W 11.5", "10"),
        ("11.5W", "10"),
        ("WMNS 8", "6.5"),
        ("28 cm", "10"),
        ("JP 28", "10"),
        ("10½", "10.5"),
        ("10.25", "10.5"),
        ("5Y", "5Y"),
        ("GS 5.5", "5.5Y"),
        ("10C", "10C"),
        ("TD 4", "4C"),
        ("l", "L"),
        ("OS", "OS"),
        ("M", "M"),
    ],
)
def test_spellings_normalise(raw: str, key: str) -> None:
    assert normalise_size(raw) == key


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("AU 10", "unknown size system"),
        ("size 10", "unknown size system"),
        ("EU 80", "EU chart"),
        ("30", "run from 1 to 22"),
        ("", "empty"),
    ],
)
def test_unknown_sizes_name_the_field(raw: str, problem: str) -> None:
    with pytest.raises(SizeError) as caught:
        normalise_size(raw)
    assert caught.value.param == "sizes"
    assert problem in str(caught.value)


def test_event_sizes_are_lenient_and_lists_deduplicate() -> None:
    assert event_size("AU 10") == "au 10"
    assert event_size("US 10") == "10"
    assert parse_sizes("10, US 10; EU 44, 10.5 | W 12") == ["10", "10.5"]


@given(st.sampled_from(sorted(EU_TO_US_MEN)))
def test_every_eu_size_agrees_with_its_us_size(eu: float) -> None:
    us = EU_TO_US_MEN[eu]
    assert normalise_size(f"EU {eu:g}") == normalise_size(f"US {us:g}")


@given(st.integers(min_value=2, max_value=40).map(lambda halves: halves / 2 + 1))
def test_mens_womens_and_combined_labels_agree(men: float) -> None:
    label = f"M {men:g} / W {men + 1.5:g}"
    assert normalise_size(label) == normalise_size(f"{men:g}") == normalise_size(f"W {men + 1.5:g}")
    assert normalise_size(normalise_size(label)) == normalise_size(label)
