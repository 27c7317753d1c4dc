"""``Place``: a member's coarse location as every part of the scene (and other slices) sees it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Place:
    """A coarse location: the centre of a city from the offline place list, never a GPS point."""

    lat: float
    lon: float
    label: str
    geohash: str
    geonameid: int = 0
