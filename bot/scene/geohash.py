"""Geohash: a place as a short base-32 string whose prefixes are ever larger cells.

Sightings are filed under the geohash of the spotter's coarse location, so "the area" of a sighting
is a cell of a fixed size (precision 4 is about 39 × 20 km) and its eight neighbours cover whoever
lives near an edge. No library for it is installed, and the algorithm is a dozen lines.
"""

from __future__ import annotations

BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"
_DECODE = {char: index for index, char in enumerate(BASE32)}


def encode(lat: float, lon: float, precision: int = 4) -> str:
    """The cell of ``precision`` characters holding ``(lat, lon)``; bits alternate longitude first."""
    if not 1 <= precision <= 12:
        raise ValueError("geohash precision is 1 to 12")
    lat_range, lon_range = [-90.0, 90.0], [-180.0, 180.0]
    chars: list[str] = []
    bits, value, even = 0, 0, True
    while len(chars) < precision:
        span, coordinate = (lon_range, lon) if even else (lat_range, lat)
        middle = (span[0] + span[1]) / 2
        value <<= 1
        if coordinate >= middle:
            value |= 1
            span[0] = middle
        else:
            span[1] = middle
        even = not even
        bits += 1
        if bits == 5:
            chars.append(BASE32[value])
            bits, value = 0, 0
    return "".join(chars)


def bounds(cell: str) -> tuple[float, float, float, float]:
    """``(south, west, north, east)`` of a cell; ``ValueError`` for a character not in the alphabet."""
    lat_range, lon_range = [-90.0, 90.0], [-180.0, 180.0]
    even = True
    for char in cell.lower():
        if char not in _DECODE:
            raise ValueError(f"{char!r} is not a geohash character")
        value = _DECODE[char]
        for shift in range(4, -1, -1):
            span = lon_range if even else lat_range
            middle = (span[0] + span[1]) / 2
            if (value >> shift) & 1:
                span[0] = middle
            else:
                span[1] = middle
            even = not even
    return lat_range[0], lon_range[0], lat_range[1], lon_range[1]


def centre(cell: str) -> tuple[float, float]:
    south, west, north, east = bounds(cell)
    return (south + north) / 2, (west + east) / 2


def neighbours(cell: str) -> list[str]:
    """The cell and the (up to) eight around it, found by stepping one cell size from its centre;
    longitude wraps at the antimeridian, and no cell lies past a pole."""
    south, west, north, east = bounds(cell)
    lat, lon = (south + north) / 2, (west + east) / 2
    height, width = north - south, east - west
    found: list[str] = []
    for d_lat in (0, -1, 1):
        step_lat = lat + d_lat * height
        if not -90 < step_lat < 90:
            continue
        for d_lon in (0, -1, 1):
            step_lon = (lon + d_lon * width + 180) % 360 - 180
            code = encode(step_lat, step_lon, len(cell))
            if code not in found:
                found.append(code)
    return found


def is_geohash(text: str) -> bool:
    return 1 <= len(text) <= 12 and all(char in _DECODE for char in text.lower())
