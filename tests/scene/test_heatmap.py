"""/heatmap through the engine on SQLite and PostgreSQL: restocks at shops, sightings and listings
drawn over the packaged base map; bad areas and day counts are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.scene.helpers import SECTIONS, shop_restocks
from tests.testbot import TestBot
from tests.trades.helpers import FRESH_OK, PINE, stock

PNG = b"\x89PNG\r\n\x1a\n"


async def test_a_heat_map_of_what_happened_nearby(make_bot: Any, tmp_path: Path) -> None:
    bot: TestBot = await make_bot(**FRESH_OK)
    await stock(bot.engine, tmp_path)
    for name in ("ann", "bob"):
        bot.member(name)
        await bot.ok(name, "/location set Brooklyn, NY")
    await shop_restocks(bot.engine, 40.72, -73.99, [1, 2, 3, 40])  # a Lower East Side shop
    await shop_restocks(bot.engine, 51.51, -0.13, [1])  # London: not on a New York map
    await bot.ok("ann", '/spot Kith "Jordan 4 Bred" 10')
    await bot.ok("bob", f'/have add "{PINE}" 10 ds')

    mine = await bot.ok("ann", "/heatmap")
    assert mine.title == "🗺️ Heat map · near you · 14 d" and mine.image is not None and mine.image.startswith(PNG)
    assert mine.image_name == "heatmap.png"
    assert mine.text == "3 restocks, 1 sighting and 1 listing."
    month = await bot.ok("ann", "/heatmap Brooklyn, NY 60")
    assert month.title == "🗺️ Heat map · Brooklyn, NY, US · 60 d" and month.text.startswith("4 restocks")
    world = await bot.ok("ann", "/heatmap world days:7")
    assert world.text == "4 restocks, 1 sighting and 1 listing." and world.image is not None
    state = await bot.ok("ann", "/heatmap New York")  # a US state's name wins over the city's
    assert state.title == "🗺️ Heat map · New York, US · 14 d" and state.image is not None
    empty = await bot.ok("ann", "/heatmap Leeds, UK")
    assert empty.text.startswith("Nothing happened on this map") and empty.image is not None


async def test_bad_areas_and_days_are_refused(make_bot: Any) -> None:
    bot: TestBot = await make_bot(**SECTIONS)
    bot.member("ann")
    nowhere = await bot.ok("ann", "/heatmap")  # no city set: the world, with a hint
    assert "world" in (nowhere.title or "") and nowhere.image is not None
    await bot.fails("ann", "/heatmap 0", "give 1 to 90 days")
    await bot.fails("ann", "/heatmap Paris 91", "give 1 to 90 days")
    await bot.fails("ann", "/heatmap days:1000", "at most 365")
    await bot.fails("ann", "/heatmap Qwzxv", "No city called")
    await bot.fails("ann", "/heatmap Springfield", "Several places are called")
    await bot.fails("ann", "/heatmap 10001 7", "Postal codes aren't")
