"""/heatmap [area] [days]: an image of recent restocks, sightings and listings over a packaged map."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.scene import activity
from bot.scene.heatmap import FILENAME, WORLD, Box, draw
from bot.scene.places import City, gazetteer
from bot.scene.service import Scene
from core.commands import Command, Param, ParamType
from core.context import Context
from core.errors import BadArgument, UserError
from core.replies import Reply
from core.storage.types import utcnow

_LABELS = 60
#: a region's map leaves out its farthest few cities (Alaska and Hawaii would shrink the US to a dot)
_TRIM = 0.02


async def heatmap(ctx: Context, area: str | None = None, days: int | None = None) -> Reply:
    scene = ctx.service(Scene)
    settings = scene.settings
    words = (area or "").split()
    if words and words[-1].isdigit() and days is None:  # "/heatmap Brooklyn 30" on a text platform
        days, words = int(words[-1]), words[:-1]
    area = " ".join(words) or None
    days = settings.heatmap_days if days is None else days
    if not 1 <= days <= settings.heatmap_max_days:
        raise BadArgument("days", f"give 1 to {settings.heatmap_max_days} days")
    box, name = await _where(ctx, scene, area)
    since = utcnow() - timedelta(days=days)
    points = await activity.everything(ctx.engine, scene, since)
    places = await asyncio.to_thread(_labels, box)
    title = f"Restocks, sightings and listings · {name} · last {days} day{'s' if days != 1 else ''}"
    png = await asyncio.to_thread(draw, title, box, points, places)
    counts = {kind: sum(1 for p in found if box.holds(*p)) for kind, found in points.items()}
    text = (
        f"{_count(counts['restock'], 'restock')}, {_count(counts['sighting'], 'sighting')} and "
        f"{_count(counts['listing'], 'listing')}."
    )
    if not any(counts.values()):
        text = "Nothing happened on this map in that time." + (
            " Try more days." if days < settings.heatmap_max_days else ""
        )
    return Reply(title=f"🗺️ Heat map · {name} · {days} d", text=text, image=png, image_name=FILENAME)


async def _where(ctx: Context, scene: Scene, area: str | None) -> tuple[Box, str]:
    radius = scene.settings.heatmap_radius_km
    if area is None:
        place = await scene.location(ctx.member.id)
        if place is None:
            return WORLD, "world (set your city with /location set for a local map)"
        return Box.around(place.lat, place.lon, radius), "near you"
    if area.strip().lower() in ("world", "everywhere", "all"):
        return WORLD, "world"
    region = await asyncio.to_thread(lambda: gazetteer().region(area))
    if region is not None:
        name, cities = region
        if not cities:
            raise UserError(f"No cities of {name} are in the place list to draw a map around.")
        return _covering(cities), name
    city = await scene.geocode(area)
    return Box.around(city.lat, city.lon, radius), city.label


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _covering(cities: list[City]) -> Box:
    lats = sorted(city.lat for city in cities)
    lons = sorted(city.lon for city in cities)
    cut = int(len(cities) * _TRIM)
    kept = slice(cut, len(cities) - cut) if len(cities) > 2 * cut else slice(None)
    corners = [(lats[kept][0], lons[kept][0]), (lats[kept][-1], lons[kept][-1])]
    return Box.covering(corners)


def _labels(box: Box) -> list[City]:
    lat, lon = (box.south + box.north) / 2, (box.west + box.east) / 2
    return gazetteer().nearby(lat, lon, box.span / 2 + 1, _LABELS)


COMMANDS = [
    Command(
        name="heatmap",
        description="A map of recent restocks, sightings and listings near you, a city or a country.",
        handler=heatmap,
        params=(
            Param(
                "area",
                "A city, a country, a US state or world (default: near you)",
                required=False,
                max_length=120,
                rest=True,
            ),
            Param(
                "days",
                "How many days back (default 14)",
                type=ParamType.INTEGER,
                required=False,
                min_value=1,
                max_value=365,
            ),
        ),
    ),
]
