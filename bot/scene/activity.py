"""Where things happened lately, as map points: restocks at physical shops, sightings, listings.

Restocks are the monitors' stored events of monitors that watch a physical shop (``/monitor add
… near:``); online-only stores have no place. Listings are placed at their owner's coarse location
(a city centre), and only when the trades slice runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.monitors.models import Monitor, MonitorEvent
from bot.scene.service import HAVE_KINDS, Scene

if TYPE_CHECKING:
    from core.engine import Engine

Point = tuple[float, float]
#: at most this many points of each kind are drawn (the newest)
MAX_POINTS = 20_000


async def restocks(engine: Engine, since: datetime) -> list[Point]:
    async with engine.db.read() as session:
        rows = await session.execute(
            select(Monitor.latitude, Monitor.longitude)
            .join(MonitorEvent, MonitorEvent.monitor_id == Monitor.id)
            .where(
                MonitorEvent.kind == "restock",
                MonitorEvent.created_at >= since,
                Monitor.latitude.is_not(None),
                Monitor.longitude.is_not(None),
            )
            .order_by(MonitorEvent.created_at.desc())
            .limit(MAX_POINTS)
        )
        return [(float(lat), float(lon)) for lat, lon in rows.all() if lat is not None and lon is not None]


async def listings(engine: Engine, scene: Scene, since: datetime) -> list[Point]:
    from bot.trades.service import Trades

    if not engine.has_service(Trades):
        return []
    found = [
        listing
        for listing in await engine.service(Trades).listings()
        if listing.kind in HAVE_KINDS and listing.created_at >= since
    ][:MAX_POINTS]
    places = await scene.locations({listing.member_id for listing in found})
    return [
        (places[listing.member_id].lat, places[listing.member_id].lon)
        for listing in found
        if listing.member_id in places
    ]


async def everything(engine: Engine, scene: Scene, since: datetime) -> dict[str, list[Point]]:
    return {
        "restock": await restocks(engine, since),
        "sighting": await scene.sightings.since(since),
        "listing": await listings(engine, scene, since),
    }
