"""The trades slice's service: listings, preferences, reputation, and the matcher's bookkeeping.

Other slices use it through ``engine.service(Trades)``:

* ``await trades.reputation(member_id) -> Reputation``: counted completed trades, average review,
  account age in days and ``score`` (the key to sort plugs by and to compare with minimums; see
  ``bot.trades.reputation``).
* ``await trades.reputations(member_ids) -> dict[int, Reputation]``: the same for many at once.
* ``await trades.listings(member_ids=None, item=None) -> list[Listing]``: open haves (``kind``
  ``trade`` or ``sale``) and wants (``want``), newest first; ``item`` is a catalog id or a pair's
  name as a member typed it.
* Bus topic ``trades.listing`` (``LISTING_TOPIC``): ``{listing_id, member_id, kind, item, size,
  price, catalog_id}`` each time a have is added (``kind`` ``trade`` or ``sale``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.market.service import Market
from bot.trades.config import TradesSection
from bot.trades.listings import Listing, have_listing, want_listing
from bot.trades.models import (
    LIVE,
    OPEN,
    REMOVED,
    TradeBlock,
    TradeHave,
    TradeLeg,
    TradePrefs,
    TradeProposal,
    TradeSolver,
    TradeWant,
)
from bot.trades.reputation import Reputation, reputations
from core.errors import UserError
from core.photos import PhotoStore
from core.storage.types import utcnow

if TYPE_CHECKING:
    from core.engine import Engine

LISTING_TOPIC = "trades.listing"
_ID = "#"


@dataclass(frozen=True)
class Point:
    latitude: float
    longitude: float


class Trades:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.db = engine.db
        self.settings = engine.config.get(TradesSection)
        #: a have's photos, checked and stripped of metadata (shared folder: files are named by hash)
        self.photos = PhotoStore.from_config(engine.config, self.settings.photos)

    # ------------------------------------------------------------------ for other slices

    async def reputation(self, member_id: int) -> Reputation:
        return (await self.reputations([member_id]))[member_id]

    async def reputations(self, member_ids: Collection[int]) -> dict[int, Reputation]:
        async with self.db.read() as session:
            found = await reputations(session, self.settings, member_ids)
        accuracy = await self._legit_accuracy(list(found))
        if not accuracy:
            return found
        return {
            member_id: Reputation(**{**rep.__dict__, "legit_accuracy": accuracy.get(member_id)})
            for member_id, rep in found.items()
        }

    async def listings(self, member_ids: Collection[int] | None = None, item: str | int | None = None) -> list[Listing]:
        """Open haves and wants, newest first, optionally of some members and of one pair."""
        catalog_id: int | None = None
        if item is not None:
            catalog_id = await self._catalog_id(item)
            if catalog_id is None:
                return []
        async with self.db.read() as session:
            haves = select(TradeHave).where(TradeHave.status == OPEN)
            wants = select(TradeWant)
            if member_ids is not None:
                haves = haves.where(TradeHave.member_id.in_(list(member_ids)))
                wants = wants.where(TradeWant.member_id.in_(list(member_ids)))
            if catalog_id is not None:
                haves = haves.where(TradeHave.catalog_id == catalog_id)
                wants = wants.where(TradeWant.catalog_id == catalog_id)
            found = [have_listing(row) for row in (await session.execute(haves)).scalars()]
            found += [want_listing(row) for row in (await session.execute(wants)).scalars()]
        return sorted(found, key=lambda listing: (listing.created_at, listing.kind, listing.id), reverse=True)

    # ------------------------------------------------------------------ optional neighbours

    def has_locations(self) -> bool:
        """Whether the scene slice runs: it owns members' coarse locations (meet-up listings need it)."""
        from bot.scene.service import Scene

        return self.engine.has_service(Scene)

    async def locations(self, member_ids: Collection[int]) -> dict[int, Point]:
        """Members' coarse locations from the scene slice; none when it isn't running."""
        if not self.has_locations():
            return {}
        from bot.scene.service import Scene

        found = await self.engine.service(Scene).locations(member_ids)
        return {member_id: Point(place.lat, place.lon) for member_id, place in found.items()}

    async def _legit_accuracy(self, member_ids: list[int]) -> dict[int, float]:
        """How often each member's legit-check votes agreed with the verdict, when the legitcheck
        slice runs (members who never had a vote judged are left out)."""
        from bot.legitcheck.service import LegitChecks

        if not self.engine.has_service(LegitChecks):
            return {}
        checks = self.engine.service(LegitChecks)
        found: dict[int, float] = {}
        for member_id in member_ids:
            voter, _votes = await checks.record(member_id)
            judged = voter.agreed + voter.disagreed if voter is not None else 0
            if voter is not None and judged:
                found[member_id] = voter.agreed / judged
        return found

    async def _catalog_id(self, item: str | int) -> int | None:
        if isinstance(item, int):
            return item
        if not self.engine.has_service(Market):
            return None
        resolved = await self.engine.service(Market).resolve(item)
        return resolved.product.id if resolved.product is not None else None

    # ------------------------------------------------------------------ listings

    async def count_listings(self, session: AsyncSession, member_id: int) -> int:
        count = select(func.count())
        haves = await session.scalar(
            count.select_from(TradeHave).where(TradeHave.member_id == member_id, TradeHave.status == OPEN)
        )
        wants = await session.scalar(count.select_from(TradeWant).where(TradeWant.member_id == member_id))
        return int(haves or 0) + int(wants or 0)

    async def check_room(self, session: AsyncSession, member_id: int) -> None:
        if await self.count_listings(session, member_id) >= self.settings.max_listings:
            raise UserError(f"You have {self.settings.max_listings} listings, the most allowed; remove one first.")

    async def add_have(self, member_id: int, values: Mapping[str, Any]) -> TradeHave:
        async with self.db.transaction() as session:
            await self.check_room(session, member_id)
            now = utcnow()
            row = TradeHave(member_id=member_id, status=OPEN, created_at=now, updated_at=now, **values)
            session.add(row)
            await session.flush()
            await changed(session, self.settings)
        listing = have_listing(row)
        await self.engine.bus.publish(LISTING_TOPIC, {
            "listing_id": row.id, "member_id": member_id, "kind": listing.kind, "item": row.item_name,
            "catalog_id": row.catalog_id, "size": row.size_key, "price": row.price,
        })  # fmt: skip
        return row

    async def add_want(self, member_id: int, values: Mapping[str, Any]) -> TradeWant:
        async with self.db.transaction() as session:
            await self.check_room(session, member_id)
            row = TradeWant(member_id=member_id, created_at=utcnow(), **values)
            session.add(row)
            await session.flush()
            await changed(session, self.settings)
        return row

    async def own_have(self, session: AsyncSession, member_id: int, have_id: int) -> TradeHave:
        row = await session.get(TradeHave, have_id)
        if row is None or row.member_id != member_id or row.status != OPEN:
            raise UserError(f"You have no open listing #{have_id} (see /have list).")
        live = await session.scalar(
            select(TradeProposal.id)
            .join(TradeLeg, TradeLeg.proposal_id == TradeProposal.id)
            .where(TradeLeg.have_id == have_id, TradeProposal.status.in_(LIVE))
            .limit(1)
        )
        if live is not None:
            raise UserError(f"Listing #{have_id} is in trade proposal #{live}; decline or finish that first.")
        return row

    async def edit_have(self, member_id: int, have_id: int, values: Mapping[str, Any]) -> TradeHave:
        async with self.db.transaction() as session:
            row = await self.own_have(session, member_id, have_id)
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
            await changed(session, self.settings)
        return row

    async def remove_have(self, member_id: int, have_id: int) -> TradeHave:
        async with self.db.transaction() as session:
            row = await self.own_have(session, member_id, have_id)
            row.status, row.updated_at = REMOVED, utcnow()
            await changed(session, self.settings)
        return row

    async def own_want(self, session: AsyncSession, member_id: int, want_id: int) -> TradeWant:
        row = await session.get(TradeWant, want_id)
        if row is None or row.member_id != member_id:
            raise UserError(f"You have no want #{want_id} (see /want list).")
        return row

    async def edit_want(self, member_id: int, want_id: int, values: Mapping[str, Any]) -> TradeWant:
        async with self.db.transaction() as session:
            row = await self.own_want(session, member_id, want_id)
            for key, value in values.items():
                setattr(row, key, value)
            await changed(session, self.settings)
        return row

    async def remove_want(self, member_id: int, want_id: int) -> TradeWant:
        async with self.db.transaction() as session:
            row = await self.own_want(session, member_id, want_id)
            await session.delete(row)
            await changed(session, self.settings)
        return row

    async def my_listings(self, member_id: int) -> tuple[list[TradeHave], list[TradeWant]]:
        async with self.db.read() as session:
            haves = (await session.execute(
                select(TradeHave)
                .where(TradeHave.member_id == member_id, TradeHave.status == OPEN)
                .order_by(TradeHave.id)
            )).scalars()  # fmt: skip
            wants = (await session.execute(
                select(TradeWant).where(TradeWant.member_id == member_id).order_by(TradeWant.id)
            )).scalars()  # fmt: skip
            return list(haves), list(wants)

    # ------------------------------------------------------------------ preferences

    async def block(self, member_id: int, other_id: int, *, on: bool) -> bool:
        """Block (or unblock) ``other_id``; False if nothing changed."""
        if member_id == other_id:
            raise UserError("You can't block yourself.")
        async with self.db.transaction() as session:
            existing = await session.scalar(
                select(TradeBlock).where(TradeBlock.member_id == member_id, TradeBlock.blocked_id == other_id)
            )
            if on == (existing is not None):
                return False
            if on:
                session.add(TradeBlock(member_id=member_id, blocked_id=other_id, created_at=utcnow()))
            else:
                await session.delete(existing)
            await changed(session, self.settings)
        return True

    async def blocked(self, member_id: int) -> list[int]:
        async with self.db.read() as session:
            rows = await session.execute(select(TradeBlock.blocked_id).where(TradeBlock.member_id == member_id))
            return [int(value) for value in rows.scalars()]

    async def set_min_reputation(self, member_id: int, value: float) -> None:
        async with self.db.transaction() as session:
            row = await session.get(TradePrefs, member_id)
            if row is None:
                session.add(TradePrefs(member_id=member_id, min_reputation=value))
            else:
                row.min_reputation = value
            await changed(session, self.settings)

    async def min_reputation(self, member_id: int) -> float:
        async with self.db.read() as session:
            row = await session.get(TradePrefs, member_id)
            return row.min_reputation if row is not None else 0.0


async def changed(session: AsyncSession, settings: TradesSection) -> None:
    """A listing or preference changed: the matcher runs once things have been quiet for the
    debounce, in whichever process claims it first."""
    await session.execute(
        update(TradeSolver)
        .where(TradeSolver.id == 1)
        .values(version=TradeSolver.version + 1, due_at=utcnow() + timedelta(seconds=settings.debounce_seconds))
    )


async def drop_member_rows(session: AsyncSession, member_id: int) -> None:
    """A member leaves trading: their open listings are withdrawn and their wants and blocks go."""
    await session.execute(
        update(TradeHave).where(TradeHave.member_id == member_id, TradeHave.status == OPEN).values(status=REMOVED)
    )
    await session.execute(delete(TradeWant).where(TradeWant.member_id == member_id))
    await session.execute(
        delete(TradeBlock).where(or_(TradeBlock.member_id == member_id, TradeBlock.blocked_id == member_id))
    )
