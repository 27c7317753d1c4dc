"""In-store sightings: a member says what they saw on a shelf, others near them confirm it.

A sighting is filed under the geohash cell of the spotter's coarse location (their city), which is
the area it is shown in. Each member may confirm another's sighting once; when enough have, it is
confirmed and its spotter earns LACES through the economy's earn rule (a ``laces.earn`` event whose
source is the sighting, so the award is paid once however often it is announced). Both the sighting
and each confirmation are keyed on the platform's request id, so a redelivered request does nothing
twice.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.economy.service import EARN_TOPIC
from bot.scene import geohash
from bot.scene.config import SceneSection
from bot.scene.models import Sighting, SightingConfirmation
from bot.scene.place import Place
from bot.scene.places import gazetteer
from core.errors import NotFound, UserError
from core.storage.models import Member
from core.storage.types import utcnow

if TYPE_CHECKING:
    from core.engine import Engine


@dataclass(frozen=True)
class Confirmed:
    sighting: Sighting
    #: this request is the confirmation that made the sighting confirmed
    completed: bool
    #: the same request seen before: nothing new happened
    replayed: bool = False


def request_key(request_id: str | None) -> str:
    """The platform's request id, or a fresh token where the platform has none (the shell)."""
    return (request_id or f"local:{secrets.token_hex(12)}")[:160]


def area_name(cell: str) -> str:
    """``Brooklyn area`` for a cell: the biggest city in it (or nearest it), never a member's own city."""
    lat, lon = geohash.centre(cell)
    south, west, north, east = geohash.bounds(cell)
    places = gazetteer()
    inside = places.nearby(lat, lon, max(north - south, east - west) / 2, 1)
    city = inside[0] if inside else places.nearest(lat, lon)
    return f"{city.name} area"


class Sightings:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.db = engine.db
        self.settings = engine.config.get(SceneSection)

    def cell(self, place: Place) -> str:
        return geohash.encode(place.lat, place.lon, self.settings.geohash_precision)

    async def spot(
        self, member: Member, place: Place, store: str, item: str, sizes: Sequence[str], key: str,
        photo: str | None = None,
    ) -> tuple[Sighting, bool]:  # fmt: skip
        """Store a sighting in the spotter's area; ``(sighting, False)`` when this request was seen."""
        cell = self.cell(place)
        async with self.db.read() as session:
            earlier = await session.scalar(select(Sighting).where(Sighting.request_key == key))
            if earlier is not None:
                return earlier, False
        row = Sighting(
            member_id=member.id,
            store=store,
            item=item,
            sizes=list(sizes),
            lat=place.lat,
            lon=place.lon,
            geohash=cell,
            area=await asyncio.to_thread(area_name, cell),
            photo=photo,
            request_key=key,
            confirmations=0,
        )
        try:
            async with self.db.transaction() as session:
                session.add(row)
        except IntegrityError:  # the same request, delivered twice at once
            async with self.db.read() as session:
                earlier = await session.scalar(select(Sighting).where(Sighting.request_key == key))
            if earlier is None:
                raise
            return earlier, False
        return row, True

    async def get(self, sighting_id: int) -> Sighting:
        async with self.db.read() as session:
            row = await session.get(Sighting, sighting_id)
        if row is None:
            raise NotFound(f"No sighting #{sighting_id}.")
        return row

    async def confirm(self, member: Member, sighting_id: int, key: str) -> Confirmed:
        """One confirmation by ``member``: never their own sighting, once each, while it is fresh."""
        needed = self.settings.confirmations_needed
        async with self.db.transaction() as session:
            sighting = await session.get(Sighting, sighting_id)
            if sighting is None:
                raise NotFound(f"No sighting #{sighting_id}.")
            mine = await session.get(SightingConfirmation, (sighting_id, member.id))
            if mine is not None:
                if mine.request_key == key:  # a redelivery of the confirming request
                    return Confirmed(sighting, completed=False, replayed=True)
                raise UserError(f"You already confirmed sighting #{sighting_id}.")
            if sighting.member_id == member.id:
                raise UserError("You can't confirm your own sighting; others near you can.")
            if utcnow() - sighting.created_at > timedelta(hours=self.settings.confirm_hours):
                raise UserError(f"Sighting #{sighting_id} is too old to confirm now.")
            session.add(SightingConfirmation(sighting_id=sighting_id, member_id=member.id, request_key=key))
            await session.flush()
            count = await session.scalar(
                update(Sighting)
                .where(Sighting.id == sighting_id)
                .values(confirmations=Sighting.confirmations + 1)
                .returning(Sighting.confirmations)
            )
            completed = False
            if count is not None and count >= needed and sighting.confirmed_at is None:
                done = await session.execute(
                    update(Sighting)
                    .where(Sighting.id == sighting_id, Sighting.confirmed_at.is_(None))
                    .values(confirmed_at=utcnow())
                )
                completed = bool(done.rowcount)  # type: ignore[attr-defined]
            await session.refresh(sighting)
        if sighting.confirmed_at is not None:
            await self.pay(sighting)
        return Confirmed(sighting, completed=completed)

    async def pay(self, sighting: Sighting) -> None:
        """Ask the economy to pay the spotter; its key is the sighting, so a repeat pays nothing."""
        await self.engine.bus.publish(
            EARN_TOPIC,
            {
                "kind": self.settings.sighting_earn_kind,
                "member_id": sighting.member_id,
                "source_id": f"sighting:{sighting.id}",
                "note": f"sighting #{sighting.id} confirmed",
            },
        )

    async def recent(self, cells: Sequence[str], since: datetime, limit: int = 10) -> list[Sighting]:
        async with self.db.read() as session:
            rows = await session.execute(
                select(Sighting)
                .where(Sighting.geohash.in_(list(cells)), Sighting.created_at >= since)
                .order_by(Sighting.created_at.desc(), Sighting.id.desc())
                .limit(limit)
            )
            return list(rows.scalars())

    async def since(self, since: datetime) -> list[tuple[float, float]]:
        """Where sightings were made since ``since`` (the heat map's points)."""
        async with self.db.read() as session:
            rows = await session.execute(select(Sighting.lat, Sighting.lon).where(Sighting.created_at >= since))
            return [(float(lat), float(lon)) for lat, lon in rows.all()]
