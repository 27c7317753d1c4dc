"""The local scene's service: members' coarse locations, plug follows and plug-listing alerts.

Other slices read locations through ``engine.service(Scene)`` (no import of our tables):

* ``await scene.location(member_id) -> Place | None``: the member's coarse location (a city centre)
  or ``None``; ``Place`` has ``lat``, ``lon``, ``label`` (``"Brooklyn, NY, US"``) and ``geohash``.
  Never show ``lat``/``lon`` or the label of someone else to a member: show ``band``.
* ``await scene.locations(member_ids) -> dict[int, Place]``: many at once (members without one left out).
* ``await scene.distance_km(a_id, b_id) -> float | None``: between two members' cities, ``None``
  when either has no location. For filters ("within 25 km"), never for display.
* ``scene.band(km) -> str``: the distance band to display (``"< 10 km"``, ``"10–25 km"``, …).

A followed plug's new listings arrive as ``trades.listing`` events (``{listing_id, member_id, kind,
item, size, price}``) and are written straight to the delivery outbox here, one message per follower
(rule kind "plug listing"), on the follower's channel order and after their quiet hours: a follow is
not a keyword rule, so the alert rule index has nothing to match it with.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from bot.alerts.models import AlertPrefs
from bot.alerts.service import channels_for
from bot.alerts.timing import quiet_until
from bot.delivery.service import Delivery
from bot.scene import geohash
from bot.scene.bands import band
from bot.scene.basemap import LAYERS, RESOLUTIONS, shapes
from bot.scene.config import SceneSection
from bot.scene.models import MemberLocation, PlugFollow
from bot.scene.place import Place
from bot.scene.places import City, gazetteer
from bot.scene.sightings import Sightings
from core.delivery import NewMessage, enqueue
from core.errors import NotFound, UserError
from core.geo import distance_km
from core.markup import escape
from core.photos import PhotoStore
from core.replies import Button, Reply, ReplyField
from core.storage.models import Identity, Member
from core.storage.types import utcnow

if TYPE_CHECKING:
    from core.engine import Engine

log = structlog.get_logger(__name__)

LISTING_TOPIC = "trades.listing"
#: outbox source of plug-listing alerts; the alert's kind as members see it
SOURCE = "plug"
RULE_KIND = "plug listing"
#: listing kinds that are haves (for trade, or for sale with a price)
HAVE_KINDS = ("trade", "sale")
_MAX_MERGE_DEPTH = 8

__all__ = ["LISTING_TOPIC", "RULE_KIND", "Place", "Scene"]


class Scene:
    def __init__(self, engine: Engine, delivery: Delivery) -> None:
        self.engine = engine
        self.db = engine.db
        self.delivery = delivery
        self.settings = engine.config.get(SceneSection)
        self.sightings = Sightings(engine)
        self.photos = PhotoStore.from_config(engine.config, self.settings.photos)
        self._warming: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ locations

    def band(self, km: float) -> str:
        return band(km, self.settings.distance_bands_km)

    async def location(self, member_id: int) -> Place | None:
        return (await self.locations([member_id])).get(member_id)

    async def locations(self, member_ids: Iterable[int] | None = None) -> dict[int, Place]:
        """Coarse locations by member id; every member's when ``member_ids`` is None."""
        query = select(MemberLocation)
        if member_ids is not None:
            wanted = list(set(member_ids))
            if not wanted:
                return {}
            query = query.where(MemberLocation.member_id.in_(wanted))
        async with self.db.read() as session:
            rows = (await session.execute(query)).scalars()
            return {row.member_id: _place(row) for row in rows}

    async def distance_km(self, first_id: int, second_id: int) -> float | None:
        found = await self.locations([first_id, second_id])
        first, second = found.get(first_id), found.get(second_id)
        if first is None or second is None:
            return None
        return distance_km(first.lat, first.lon, second.lat, second.lon)

    async def geocode(self, text: str) -> City:
        """A city from the offline place list, looked up in a worker thread (the list takes a second
        or two to build the first time; ``warm`` starts that at start-up)."""
        return await asyncio.to_thread(lambda: gazetteer().lookup(text))

    def warm(self) -> None:
        """Build the place list and read the map data in a worker thread now, so the first
        /location set or /heatmap doesn't wait for them."""
        if self._warming is None:
            self._warming = asyncio.get_running_loop().create_task(asyncio.to_thread(_warm))

    async def cool(self) -> None:
        """Wait for a warm-up still running (a thread can't be cancelled; the engine is stopping)."""
        if self._warming is not None:
            await asyncio.gather(self._warming, return_exceptions=True)
            self._warming = None

    async def set_location(self, member_id: int, text: str) -> Place:
        city = await self.geocode(text)
        place = Place(
            lat=round(city.lat, 2),
            lon=round(city.lon, 2),
            label=city.label,
            geohash=geohash.encode(city.lat, city.lon, 12),
            geonameid=city.geonameid,
        )
        async with self.db.transaction() as session:
            row = await session.get(MemberLocation, member_id)
            if row is None:
                row = MemberLocation(member_id=member_id)
                session.add(row)
            row.geonameid, row.label, row.lat, row.lon = place.geonameid, place.label, place.lat, place.lon
            row.geohash, row.updated_at = place.geohash, utcnow()
        return place

    async def clear_location(self, member_id: int) -> bool:
        async with self.db.transaction() as session:
            result = await session.execute(delete(MemberLocation).where(MemberLocation.member_id == member_id))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def post_sighting(self, post: Reply) -> bool:
        """Put a sighting on the spotted channel feed, when bot.toml has one; False when it hasn't."""
        feed = self.settings.spotted_feed
        if not feed or feed not in self.engine.feeds.names:
            return False
        await self.engine.feeds.publish(feed, post)
        return True

    # ------------------------------------------------------------------ follows

    async def find_member(self, text: str) -> Member:
        """A member by mention, ``@name`` or ``#id``, following /link merges to the survivor."""
        found = await self.engine.identity.find_by_handle(text)
        for _ in range(_MAX_MERGE_DEPTH):
            if found is None or found.merged_into is None:
                break
            found = await self.engine.identity.get(found.merged_into)
        if found is None:
            raise NotFound(f"No member called `{escape(text.strip()[:40])}`. Use an @mention, their @name or #id.")
        return found

    async def follow(self, follower: Member, plug: Member) -> bool:
        """Follow ``plug``; False when already following. Following yourself or a bot is refused."""
        if plug.id == follower.id:
            raise UserError("You can't follow yourself as a plug.")
        if plug.is_bot:
            raise UserError("Bots don't list pairs; follow a member.")
        try:
            async with self.db.transaction() as session:
                exists = await session.scalar(
                    select(PlugFollow.id).where(PlugFollow.follower_id == follower.id, PlugFollow.plug_id == plug.id)
                )
                if exists is not None:
                    return False
                session.add(PlugFollow(follower_id=follower.id, plug_id=plug.id))
            return True
        except IntegrityError:  # a double tap racing itself
            return False

    async def unfollow(self, follower: Member, plug: Member) -> bool:
        async with self.db.transaction() as session:
            result = await session.execute(
                delete(PlugFollow).where(PlugFollow.follower_id == follower.id, PlugFollow.plug_id == plug.id)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def following(self, member_id: int) -> list[Member]:
        async with self.db.read() as session:
            rows = await session.execute(
                select(Member)
                .join(PlugFollow, PlugFollow.plug_id == Member.id)
                .where(PlugFollow.follower_id == member_id)
                .order_by(PlugFollow.created_at, PlugFollow.id)
            )
            return list(rows.scalars())

    # ------------------------------------------------------------------ plug-listing alerts

    async def on_listing(self, _topic: str, payload: dict[str, Any]) -> None:
        """A new have from a member: tell each of their followers, once per listing and follower."""
        listing_id, plug_id = payload.get("listing_id"), payload.get("member_id")
        if not isinstance(plug_id, int) or listing_id in (None, ""):
            log.warning("scene.bad_listing_event", keys=sorted(payload))
            return
        if payload.get("kind") not in HAVE_KINDS:  # a want is nothing to tell followers about
            return
        queued = await self.alert_followers(plug_id, str(listing_id), payload)
        if queued:
            self.delivery.wake()
            log.info("scene.plug_listing", listing_id=listing_id, plug_id=plug_id, followers=queued)

    async def alert_followers(self, plug_id: int, listing_id: str, payload: Mapping[str, Any]) -> int:
        now = utcnow()
        console = "shell" in self.engine.frontends
        async with self.db.transaction() as session:
            plug = await session.get(Member, plug_id)
            if plug is None:
                return 0
            followers = list(
                (
                    await session.execute(
                        select(Member)
                        .join(PlugFollow, PlugFollow.follower_id == Member.id)
                        .where(PlugFollow.plug_id == plug_id, Member.merged_into.is_(None))
                    )
                ).scalars()
            )
            if not followers:
                return 0
            ids = [member.id for member in followers]
            platforms: dict[int, set[str]] = {}
            found = await session.execute(
                select(Identity.member_id, Identity.platform).where(Identity.member_id.in_(ids))
            )
            for member_id, platform in found.all():
                platforms.setdefault(member_id, set()).add(platform)
            prefs = {
                row.member_id: row
                for row in (await session.execute(select(AlertPrefs).where(AlertPrefs.member_id.in_(ids)))).scalars()
            }
            places = {
                row.member_id: _place(row)
                for row in (
                    await session.execute(select(MemberLocation).where(MemberLocation.member_id.in_([*ids, plug_id])))
                ).scalars()
            }
            messages = []
            for follower in followers:
                channels = channels_for(follower, platforms.get(follower.id, ()), [], False, console=console)
                if not channels:
                    continue
                pref = prefs.get(follower.id)
                not_before = (
                    quiet_until(now, follower.timezone, pref.quiet_start, pref.quiet_end) if pref is not None else None
                )
                reply = self._listing_reply(plug, payload, places.get(follower.id), places.get(plug_id))
                messages.append(
                    NewMessage(
                        source=SOURCE,
                        ref=listing_id[:80],
                        member_id=follower.id,
                        channels=channels,
                        reply=reply,
                        not_before=not_before,
                    )
                )
            validity = {"sms": float(self.engine.config.sms.validity_period_seconds)}
            await enqueue(session, messages, validity_s=validity)
            return len(messages)

    def _listing_reply(
        self, plug: Member, payload: Mapping[str, Any], near: Place | None, theirs: Place | None
    ) -> Reply:
        item = escape(str(payload.get("item") or "a pair")[:200])
        fields = []
        if payload.get("size"):
            fields.append(ReplyField(name="Size", value=escape(str(payload["size"])[:16])))
        price = payload.get("price")
        shown = (
            f"${float(price):,.0f}" if isinstance(price, int | float) and not isinstance(price, bool) else "for trade"
        )
        fields.append(ReplyField(name="Price", value=shown))
        if near is not None and theirs is not None:
            apart = distance_km(near.lat, near.lon, theirs.lat, theirs.lon)
            fields.append(ReplyField(name="Distance", value=self.band(apart)))
        return Reply(
            title=f"🔌 {escape(plug.display_name)} listed {item}",
            fields=fields,
            footer=f"{RULE_KIND} · you follow {plug.display_name[:60]}",
            buttons=[Button(label="Unfollow", action=f"plug unfollow #{plug.id}")],
        )


def _warm() -> None:
    gazetteer()
    for layer in LAYERS:
        for resolution in RESOLUTIONS:
            shapes(layer, resolution)


def _place(row: MemberLocation) -> Place:
    return Place(lat=row.lat, lon=row.lon, label=row.label, geohash=row.geohash, geonameid=row.geonameid)
