"""Geohash cells, distance bands and the offline place list."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.scene import geohash
from bot.scene.bands import band, band_rank
from bot.scene.places import Ambiguous, NotAPlace, gazetteer

EDGES = [10.0, 25.0, 50.0, 100.0, 250.0]


def test_geohash_matches_the_published_example() -> None:
    # the example of the geohash's own description: 57.64911, 10.40744 is u4pruydqqvj
    assert geohash.encode(57.64911, 10.40744, 11) == "u4pruydqqvj"
    assert geohash.encode(40.7128, -74.0060, 4) == "dr5r"


@given(st.floats(-89.99, 89.99), st.floats(-179.99, 179.99), st.integers(1, 9))
def test_a_cell_holds_its_point_and_its_neighbours_touch_it(lat: float, lon: float, precision: int) -> None:
    cell = geohash.encode(lat, lon, precision)
    south, west, north, east = geohash.bounds(cell)
    assert south <= lat <= north and west <= lon <= east
    around = geohash.neighbours(cell)
    assert around[0] == cell and len(set(around)) == len(around) and 4 <= len(around) <= 9
    for other in around[1:]:
        s, w, n, e = geohash.bounds(other)
        touches_lat = abs(s - north) < 1e-9 or abs(n - south) < 1e-9 or (s == south and n == north)
        wraps = abs(abs(w - east) - 360) < 1e-9 or abs(abs(e - west) - 360) < 1e-9
        touches_lon = abs(w - east) < 1e-9 or abs(e - west) < 1e-9 or (w == west and e == east) or wraps
        assert touches_lat and touches_lon


def test_geohash_refuses_what_is_not_one() -> None:
    assert geohash.is_geohash("dr5r") and not geohash.is_geohash("dr5a") and not geohash.is_geohash("")
    with pytest.raises(ValueError):
        geohash.bounds("dr5a")


@pytest.mark.parametrize(
    ("km", "shown", "rank"),
    [(0.0, "< 10 km", 0), (9.99, "< 10 km", 0), (10.0, "10–25 km", 1), (49.0, "25–50 km", 2),
     (100.0, "100–250 km", 4), (4000.0, "250+ km", 5)],
)  # fmt: skip
def test_distance_bands(km: float, shown: str, rank: int) -> None:
    assert band(km, EDGES) == shown and band_rank(km, EDGES) == rank


@pytest.mark.parametrize(
    ("typed", "label"),
    [
        ("London", "London, United Kingdom"),  # 20 times bigger than London, Ontario: the one meant
        ("brooklyn, ny", "Brooklyn, NY, US"),
        ("Springfield, MO", "Springfield, MO, US"),
        ("Portland, Maine", "Portland, ME, US"),
        ("zurich", "Zürich, Switzerland"),
        ("New York", "New York City, NY, US"),
        ("London, CA", "London, Canada"),
        ("Paris, Texas", "Paris, TX, US"),
    ],
)
def test_cities_geocode_offline(typed: str, label: str) -> None:
    assert gazetteer().lookup(typed).label == label


def test_an_ambiguous_name_lists_candidates_biggest_first() -> None:
    with pytest.raises(Ambiguous) as raised:
        gazetteer().lookup("Springfield")
    labels = [city.label for city in raised.value.candidates]
    assert labels[0] == "Springfield, MO, US" and "Springfield, IL, US" in labels and len(labels) == 5
    assert "Add the state or country" in str(raised.value)


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("10001", "Postal codes aren't in the offline place list"),
        ("SW1A 1AA", "Postal codes aren't in the offline place list"),
        ("40.71,-74.00", "Coordinates aren't taken"),
        ("Springfield, Narnia", "“Narnia” is not a country or US state I know"),
        ("Qwzxv", "No city called “Qwzxv”"),
        ("Paris, Japan", "No city called “Paris” in Japan"),
        ("   ", "Give a city"),
    ],
)
def test_what_does_not_geocode_gets_a_clear_answer(typed: str, says: str) -> None:
    with pytest.raises(NotAPlace) as raised:
        gazetteer().lookup(typed)
    assert says in str(raised.value)


def test_a_misspelt_city_gets_suggestions() -> None:
    with pytest.raises(NotAPlace) as raised:
        gazetteer().lookup("Manchesterr")
    assert "manchester" in raised.value.suggestions
