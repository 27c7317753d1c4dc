"""Distance bands: how far another member is, without ever saying exactly where they are."""

from __future__ import annotations

import itertools
from collections.abc import Sequence


def _km(value: float) -> str:
    return f"{value:g}"


def band(distance_km: float, edges: Sequence[float]) -> str:
    """``"< 10 km"``, ``"10–25 km"`` … ``"250+ km"`` for the configured band edges."""
    if distance_km < edges[0]:
        return f"< {_km(edges[0])} km"
    for low, high in itertools.pairwise(edges):
        if distance_km < high:
            return f"{_km(low)}–{_km(high)} km"
    return f"{_km(edges[-1])}+ km"


def band_rank(distance_km: float, edges: Sequence[float]) -> int:
    """The band's index, so lists can sort by band without revealing more than the band."""
    return sum(1 for edge in edges if distance_km >= edge)
