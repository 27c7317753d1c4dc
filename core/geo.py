"""Coordinates as members type them, and the distance between two points.

Shared by the slices that deal in places (alert rules' ``near``, a monitor's shop location) so that
neither has to import the other, and so every platform reads ``lat,lon`` the same way.
"""

from __future__ import annotations

import math
import re

from core.errors import BadArgument

EARTH_RADIUS_KM = 6371.0
_SEPARATORS = re.compile(r"[\s,;]+")


def parse_lat_lon(text: str, field: str = "near") -> tuple[float, float]:
    """``"40.72,-73.99"`` (or space-separated) → ``(40.72, -73.99)``; a ``BadArgument`` naming ``field``."""
    parts = [part for part in _SEPARATORS.split(text.strip()) if part]
    try:
        lat, lon = (float(part) for part in parts)
    except ValueError:
        raise BadArgument(field, "expected `latitude,longitude`, e.g. `40.72,-73.99`") from None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise BadArgument(field, "latitude must be within ±90 and longitude within ±180")
    return lat, lon


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine): accurate to well under 1 % at the radii alerts use."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return EARTH_RADIUS_KM * 2 * math.asin(min(1.0, math.sqrt(a)))


__all__ = ["EARTH_RADIUS_KM", "distance_km", "parse_lat_lon"]
