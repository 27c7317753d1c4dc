"""The ``Drops`` service: the calendar's one API. Commands, jobs and other slices (the Cop
Simulator) go through it; nothing else writes the drops tables.

Reading:
    ``get(drop_id)``, ``upcoming(until=None, brand=None)``, ``find(text)`` (a drop id or the best
    name match among upcoming drops), ``market_price(drop)``.
Writing (admins and mods; each returns the stored ``Drop``):
    ``add(NewDrop, by=)``: confirmed at once, posted to the ``[drops] feed`` under key ``drop:<id>``.
    ``edit(drop_id, DropChanges, by=)``: SEQUENCE raised, the feed post updated; a new release time
    retires the unsent reminder rows and the planner re-plans within ``planner_s``.
    ``cancel(drop_id, by=)``: STATUS cancelled, reminders off, holders told, the post updated.
    ``propose(...)`` / ``confirm(proposal_id, by=)`` / ``reject(proposal_id, by=)``: release dates
    found by the catalog or a monitor wait for a mod.
Members:
    ``remind(member_id, drop_id, offsets, high=)``, ``stop_reminding``, ``tick(member_id, drop_id,
    item)``; ``calendar_url(member_id, reset=)`` and ``calendar_for_token(token)`` (the .ics).
Planning: ``planner.plan()`` runs every ``planner_s`` (``bot.drops.reminders``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import structlog
from rapidfuzz import fuzz, process, utils
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.alerts.service import channels_for
from bot.delivery.reach import serving
from bot.delivery.service import Delivery
from bot.drops import ics, render
from bot.drops.config import DropsSection
from bot.drops.models import CANCELLED, CONFIRMED, CalendarToken, Drop, DropFanout, DropProposal, DropReminder
from bot.drops.reminders import ReminderPlanner, notices, retire_waves
from bot.market.models import CatalogProduct
from bot.market.prices import MIN_SALES, keys_for, load_sales, market
from core.config import OpsSection
from core.delivery.outbox import enqueue_rows
from core.engine import Engine
from core.errors import NotFound, UserError
from core.markup import clip
from core.replies import Button, Reply
from core.storage.models import Identity, Member
from core.storage.types import utcnow

log = structlog.get_logger(__name__)

#: ``/drops`` lists at most this many
LIST_LIMIT = 25


@dataclass(frozen=True)
class NewDrop:
    name: str
    release_at: datetime
    timezone: str
    retailers: list[dict[str, Any]]
    catalog_id: int | None = None
    brand: str = ""
    retail_price: float | None = None
    notes: str = ""


@dataclass(frozen=True)
class DropChanges:
    """What ``/drop edit`` changes; None leaves a part as it is."""

    release_at: datetime | None = None
    timezone: str | None = None
    retailers: list[dict[str, Any]] | None = None
    retail_price: float | None = None
    notes: str | None = None
    #: a raffle link and deadline for one retailer: (retailer name, url, deadline or None)
    raffle: tuple[str, str, datetime | None] | None = None
    changed: list[str] = field(default_factory=list)


def feed_key(drop_id: int) -> str:
    return f"drop:{drop_id}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Drops:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.db = engine.db
        self.settings = engine.config.get(DropsSection)
        delivery = engine.service(Delivery) if engine.has_service(Delivery) else None
        self._delivery = delivery
        self.planner = ReminderPlanner(
            engine.db,
            self.settings,
            rates=(lambda channel: delivery.limiter.rate(channel)) if delivery else (lambda channel: 1.0),
            platforms=lambda: serving(engine),
            validity_s={"sms": float(engine.config.sms.validity_period_seconds)},
            wake=self.wake,
        )

    def wake(self) -> None:
        if self._delivery is not None:
            self._delivery.wake()

    # ------------------------------------------------------------------ reading

    async def get(self, drop_id: int) -> Drop:
        async with self.db.read() as session:
            drop = await session.get(Drop, drop_id)
        if drop is None:
            raise NotFound(f"No drop #{drop_id}.")
        return drop

    async def upcoming(
        self,
        *,
        until: datetime | None = None,
        brand: str | None = None,
        limit: int = LIST_LIMIT,
        include_cancelled: bool = False,
    ) -> list[Drop]:
        now = utcnow()
        query = select(Drop).where(Drop.release_at > now).order_by(Drop.release_at, Drop.id).limit(limit)
        if not include_cancelled:
            query = query.where(Drop.status == CONFIRMED)
        if until is not None:
            query = query.where(Drop.release_at <= until)
        async with self.db.read() as session:
            drops = list(await session.scalars(query))
        if brand:
            folded = brand.casefold()
            drops = [d for d in drops if folded in d.brand.casefold() or folded in d.name.casefold()]
        return drops

    async def find(self, text: str) -> Drop:
        """``12``/``#12`` by id, else the upcoming drop whose name matches best."""
        wanted = text.strip().lstrip("#")
        if wanted.isdigit() and len(wanted) <= 9:
            return await self.get(int(wanted))
        drops = await self.upcoming(limit=500, include_cancelled=True)
        if not drops:
            raise NotFound("No upcoming drops on the calendar.")
        names = {drop.id: drop.name for drop in drops}
        best = process.extractOne(text, names, scorer=fuzz.WRatio, processor=utils.default_process, score_cutoff=70)
        if best is None:
            raise NotFound(f"No upcoming drop matches “{clip(text, 60)}”. `/drops` lists them.")
        return next(drop for drop in drops if drop.id == best[2])

    async def market_price(self, drop: Drop) -> float | None:
        """The 30-day median sale of the drop's pair, when the price table has enough sales."""
        if drop.catalog_id is None:
            return None
        async with self.db.read() as session:
            product = await session.get(CatalogProduct, drop.catalog_id)
        if product is None:
            return None
        sales = await load_sales(self.db, keys_for(product.name, product.aliases or []))
        if len(sales) < MIN_SALES:
            return None
        return market(sales, product.retail).median_30d

    # ------------------------------------------------------------------ writing

    async def add(self, new: NewDrop, *, by: int | None) -> Drop:
        now = utcnow()
        async with self.db.transaction() as session:
            drop = Drop(
                catalog_id=new.catalog_id,
                name=new.name[:300],
                brand=new.brand[:64],
                release_at=new.release_at,
                timezone=new.timezone,
                retailers=new.retailers,
                retail_price=new.retail_price,
                notes=new.notes[:1000],
                status=CONFIRMED,
                sequence=0,
                created_by=by,
                created_at=now,
                updated_at=now,
            )
            session.add(drop)
            await session.flush()
        await self.engine.feeds.publish(self.settings.feed, await self.post(drop), key=feed_key(drop.id))
        log.info("drops.added", drop=drop.id, by=by)
        return drop

    async def post(self, drop: Drop) -> Reply:
        """The feed item: in the drop's own zone (Discord shows each viewer's local time)."""
        return render.card(drop, drop.timezone, market_price=await self.market_price(drop))

    async def edit(self, drop_id: int, changes: DropChanges, *, by: int | None) -> tuple[Drop, datetime | None]:
        """Apply ``changes``; returns the drop and its old release time if the release moved."""
        moved_from: datetime | None = None
        async with self.db.transaction() as session:
            drop = await session.get(Drop, drop_id, with_for_update=True)
            if drop is None:
                raise NotFound(f"No drop #{drop_id}.")
            if drop.status == CANCELLED:
                raise UserError(f"Drop #{drop_id} was cancelled; add it again if it is back on.")
            if drop.release_at <= utcnow():
                raise UserError(f"Drop #{drop_id} has already started.")
            if changes.release_at is not None and changes.release_at != drop.release_at:
                moved_from = drop.release_at
                drop.release_at = changes.release_at
                await retire_waves(session, drop.id, "the drop moved; re-planned for the new time")
            if changes.timezone is not None:
                drop.timezone = changes.timezone
            if changes.retailers is not None:
                old = {entry["name"]: entry for entry in drop.retailers}
                drop.retailers = [
                    {
                        **entry,
                        "url": old.get(entry["name"], {}).get("url"),
                        "deadline": old.get(entry["name"], {}).get("deadline"),
                    }
                    for entry in changes.retailers
                ]
            if changes.raffle is not None:
                name, url, deadline = changes.raffle
                entries = [dict(entry) for entry in drop.retailers]
                match = next((e for e in entries if e["name"].casefold() == name.casefold()), None)
                if match is None:
                    raise UserError(
                        f"Drop #{drop_id} has no retailer {clip(name, 40)}; listed: "
                        + ", ".join(e["name"] for e in entries)
                    )
                match.update(url=url, method="raffle", deadline=deadline.isoformat() if deadline else None)
                drop.retailers = entries
            if changes.retail_price is not None:
                drop.retail_price = changes.retail_price
            if changes.notes is not None:
                drop.notes = changes.notes[:1000]
            drop.sequence += 1
            drop.updated_at = utcnow()
        await self.engine.feeds.update(self.settings.feed, feed_key(drop.id), await self.post(drop))
        if moved_from is not None:
            await self.planner.plan(drop_id=drop.id)
        log.info("drops.edited", drop=drop.id, by=by, moved=moved_from is not None)
        return drop, moved_from

    async def cancel(self, drop_id: int, *, by: int | None) -> tuple[Drop, int]:
        """Cancel; returns the drop and how many reminder holders are told."""
        async with self.db.transaction() as session:
            drop = await session.get(Drop, drop_id, with_for_update=True)
            if drop is None:
                raise NotFound(f"No drop #{drop_id}.")
            if drop.status == CANCELLED:
                raise UserError(f"Drop #{drop_id} is already cancelled.")
            drop.status = CANCELLED
            drop.sequence += 1
            drop.updated_at = utcnow()
            await retire_waves(session, drop.id, "the drop was cancelled")
            holders = await self._holders(session, drop.id)
            rows = notices(
                drop, holders, f"cancel-{drop.id}-{drop.sequence}", lambda zone: render.cancelled_notice(drop, zone)
            )
            await enqueue_rows(session, rows)
        self.wake()
        await self.engine.feeds.update(self.settings.feed, feed_key(drop.id), await self.post(drop))
        log.info("drops.cancelled", drop=drop.id, by=by, told=len(rows))
        return drop, len(rows)

    async def _holders(self, session: Any, drop_id: int) -> list[tuple[int, str, list[str]]]:
        rows = (
            await session.execute(
                select(DropReminder, Member)
                .join(Member, Member.id == DropReminder.member_id)
                .where(DropReminder.drop_id == drop_id)
            )
        ).all()
        ids = [member.id for reminder, member in rows if reminder.offsets]
        linked: dict[int, set[str]] = {}
        for member_id, platform in (
            await session.execute(select(Identity.member_id, Identity.platform).where(Identity.member_id.in_(ids)))
        ).all():
            linked.setdefault(member_id, set()).add(platform)
        platforms = serving(self.engine)
        return [
            (
                member.id,
                member.timezone or "UTC",
                channels_for(
                    member,
                    linked.get(member.id, set()) & (platforms | {"shell"}),
                    (),
                    reminder.high_priority,
                    console="shell" in platforms,
                ),
            )
            for reminder, member in rows
            if reminder.offsets
        ]

    # ------------------------------------------------------------------ proposals

    async def propose(
        self,
        source_key: str,
        *,
        name: str,
        release_at: datetime,
        timezone: str = "UTC",
        catalog_id: int | None = None,
        brand: str = "",
        retail_price: float | None = None,
        url: str | None = None,
    ) -> DropProposal | None:
        """Store a proposal once per source and show it to mods; None if already proposed or past."""
        if release_at <= utcnow():
            return None
        try:
            async with self.db.transaction() as session:
                proposal = DropProposal(
                    source_key=source_key[:200],
                    name=name[:300],
                    brand=brand[:64],
                    release_at=release_at,
                    timezone=timezone,
                    catalog_id=catalog_id,
                    retail_price=retail_price,
                    url=url,
                    status="pending",
                    created_at=utcnow(),
                )
                session.add(proposal)
                await session.flush()
        except IntegrityError:
            return None
        await self.engine.feeds.publish(
            self.settings.proposals_feed, self.proposal_card(proposal), key=f"proposal:{proposal.id}"
        )
        return proposal

    def proposal_card(self, proposal: DropProposal) -> Reply:
        lines = [
            f"Release: {render.when(proposal.release_at, proposal.timezone)}",
            f"Found by: {proposal.source_key.split(':', 1)[0]}",
        ]
        if proposal.retail_price is not None:
            lines.append(f"Retail: ${proposal.retail_price:,.0f}")
        decided = proposal.status != "pending"
        buttons = (
            []
            if decided
            else [
                Button(label="Confirm", action=f"drop confirm {proposal.id}"),
                Button(label="Reject", action=f"drop reject {proposal.id}"),
            ]
        )
        title = f"🗓️ Proposed drop: {proposal.name}" if not decided else f"🗓️ {proposal.status.title()}: {proposal.name}"
        return Reply(
            title=clip(title, 200),
            text="\n".join(lines),
            buttons=buttons,
            footer=f"Proposal {proposal.id} · mods confirm or reject",
        )

    async def proposals(self) -> list[DropProposal]:
        async with self.db.read() as session:
            return list(
                await session.scalars(
                    select(DropProposal)
                    .where(DropProposal.status == "pending")
                    .order_by(DropProposal.release_at)
                    .limit(25)
                )
            )

    async def decide(self, proposal_id: int, *, confirm: bool, by: int | None) -> tuple[DropProposal, Drop | None]:
        async with self.db.transaction() as session:
            proposal = await session.get(DropProposal, proposal_id, with_for_update=True)
            if proposal is None:
                raise NotFound(f"No proposal {proposal_id}.")
            if proposal.status != "pending":
                raise UserError(f"Proposal {proposal_id} was already {proposal.status}.")
            if confirm and proposal.release_at <= utcnow():
                raise UserError(f"Proposal {proposal_id}'s release time has passed; add it with /drop add instead.")
            proposal.status = "confirmed" if confirm else "rejected"
            proposal.decided_by = by
        drop = None
        if confirm:
            drop = await self.add(
                NewDrop(
                    name=proposal.name,
                    release_at=proposal.release_at,
                    timezone=proposal.timezone,
                    retailers=[],
                    catalog_id=proposal.catalog_id,
                    brand=proposal.brand,
                    retail_price=proposal.retail_price,
                ),
                by=by,
            )
            async with self.db.transaction() as session:
                stored = await session.get(DropProposal, proposal_id)
                if stored is not None:
                    stored.drop_id = drop.id
        await self.engine.feeds.update(
            self.settings.proposals_feed, f"proposal:{proposal.id}", self.proposal_card(proposal)
        )
        return proposal, drop

    async def propose_from_catalog(self, *, limit: int = 20) -> int:
        """Catalog pairs with a release date in the next ``propose_days`` become proposals."""
        today = utcnow().date()
        until = today + timedelta(days=self.settings.propose_days)
        async with self.db.read() as session:
            products = list(
                await session.scalars(
                    select(CatalogProduct)
                    .where(
                        CatalogProduct.release_date.is_not(None),
                        CatalogProduct.release_date >= today,
                        CatalogProduct.release_date <= until,
                    )
                    .order_by(CatalogProduct.release_date)
                    .limit(limit * 5)
                )
            )
        made = 0
        for product in products:
            if made >= limit or product.release_date is None:
                break
            moment = self._release_on(product.release_date)
            if await self.propose(
                f"catalog:{product.id}",
                name=product.name,
                release_at=moment,
                timezone=self.settings.propose_timezone,
                catalog_id=product.id,
                brand=product.brand,
                retail_price=product.retail,
            ):
                made += 1
        return made

    def _release_on(self, day: date) -> datetime:
        zone = ZoneInfo(self.settings.propose_timezone)
        return datetime.combine(day, time(self.settings.propose_hour), tzinfo=zone).astimezone(UTC)

    async def on_monitor_event(self, _topic: str, payload: dict[str, Any]) -> None:
        """A monitored product announced with a future release date (``release_date`` in the event or
        the product, or a ``release:YYYY-MM-DD`` tag) is proposed to mods."""
        product = payload.get("product") or {}
        if not isinstance(product, dict):
            return
        raw = payload.get("release_date") or product.get("release_date")
        for tag in product.get("tags") or []:
            if isinstance(tag, str) and tag.lower().startswith(("release:", "release-date:")):
                raw = raw or tag.split(":", 1)[1].strip()
        if not isinstance(raw, str) or not raw:
            return
        try:
            parsed = datetime.fromisoformat(raw.strip())
        except ValueError:
            return
        moment = parsed.astimezone(UTC) if parsed.tzinfo else self._release_on(parsed.date())
        title = str(product.get("title") or "").strip()
        if not title:
            return
        url = product.get("url")
        safe = url if isinstance(url, str) and urlsplit(url).scheme in ("http", "https") else None
        price = payload.get("price")
        await self.propose(
            f"monitor:{payload.get('monitor_id')}:{str(product.get('id') or title)[:120]}",
            name=title,
            release_at=moment,
            timezone="UTC" if parsed.tzinfo else self.settings.propose_timezone,
            brand=str(product.get("brand") or "")[:64],
            url=safe,
            retail_price=float(price) if isinstance(price, int | float) else None,
        )

    # ------------------------------------------------------------------ members

    async def remind(self, member_id: int, drop_id: int, offsets: list[int], *, high: bool) -> tuple[Drop, list[int]]:
        """Set a member's reminders for a drop; returns the drop and the offsets already past."""
        drop = await self.get(drop_id)
        now = utcnow()
        if drop.status == CANCELLED:
            raise UserError(f"Drop #{drop.id} ({clip(drop.name, 60)}) was cancelled: no reminders for it.")
        if drop.release_at <= now:
            raise UserError(f"Drop #{drop.id} has already started.")
        left = (drop.release_at - now).total_seconds()
        past = [offset for offset in offsets if offset > left]
        async with self.db.transaction() as session:
            row = (
                await session.scalars(
                    select(DropReminder).where(DropReminder.drop_id == drop.id, DropReminder.member_id == member_id)
                )
            ).first()
            if row is None:
                session.add(
                    DropReminder(
                        drop_id=drop.id,
                        member_id=member_id,
                        offsets=offsets,
                        high_priority=high,
                        ticked=[],
                        created_at=now,
                    )
                )
            else:
                row.offsets, row.high_priority = offsets, high
        await self._catch_up(drop, member_id)
        return drop, past

    async def _catch_up(self, drop: Drop, member_id: int) -> None:
        """A member who joins a wave already planned gets their row in it now (the planner has done
        that wave); waves not planned yet include them when they are."""
        async with self.db.read() as session:
            planned = set(
                (
                    await session.scalars(
                        select(DropFanout.offset_s).where(
                            DropFanout.drop_id == drop.id, DropFanout.release_unix == int(drop.release_at.timestamp())
                        )
                    )
                ).all()
            )
        if planned:
            await self.planner.plan_member(drop, member_id, planned)

    async def stop_reminding(self, member_id: int, drop_id: int) -> Drop:
        drop = await self.get(drop_id)
        async with self.db.transaction() as session:
            row = (
                await session.scalars(
                    select(DropReminder).where(DropReminder.drop_id == drop.id, DropReminder.member_id == member_id)
                )
            ).first()
            if row is None or not row.offsets:
                raise UserError(f"You have no reminders for drop #{drop.id}.")
            row.offsets = []
        return drop

    async def reminders_of(self, member_id: int) -> list[tuple[Drop, DropReminder]]:
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select(Drop, DropReminder)
                    .join(DropReminder, DropReminder.drop_id == Drop.id)
                    .where(DropReminder.member_id == member_id, Drop.release_at > utcnow())
                    .order_by(Drop.release_at)
                )
            ).all()
        return [(drop, reminder) for drop, reminder in rows if reminder.offsets]

    async def tick(self, member_id: int, drop_id: int, item: str | None) -> tuple[Drop, list[str]]:
        """Toggle one checklist item (``None``: just show); a stale press gets a clear refusal."""
        async with self.db.read() as session:
            drop = await session.get(Drop, drop_id)
        if drop is None:
            raise UserError("That checklist belongs to a drop that no longer exists.")
        if drop.status == CANCELLED:
            raise UserError(f"That checklist is stale: drop #{drop.id} was cancelled.")
        if drop.release_at <= utcnow():
            raise UserError(f"That checklist is stale: drop #{drop.id} has already started.")
        if item is not None and item not in render.CHECKLIST:
            raise UserError(f"No checklist item `{clip(item, 20)}`; items: {', '.join(render.CHECKLIST)}.")
        async with self.db.transaction() as session:
            row = (
                await session.scalars(
                    select(DropReminder).where(DropReminder.drop_id == drop.id, DropReminder.member_id == member_id)
                )
            ).first()
            if row is None:
                row = DropReminder(
                    drop_id=drop.id,
                    member_id=member_id,
                    offsets=[],
                    high_priority=False,
                    ticked=[],
                    created_at=utcnow(),
                )
                session.add(row)
            ticked = list(row.ticked or [])
            if item is not None:
                ticked = [key for key in ticked if key != item] if item in ticked else [*ticked, item]
                row.ticked = ticked
        return drop, ticked

    # ------------------------------------------------------------------ calendar feeds

    def calendar_base(self) -> str:
        if self.settings.calendar_base_url:
            return self.settings.calendar_base_url.rstrip("/")
        ops = self.engine.config.get(OpsSection)
        return f"http://{ops.host}:{ops.port}"

    def calendar_host(self) -> str:
        return urlsplit(self.calendar_base()).hostname or "snpd.local"

    async def calendar_url(self, member_id: int, *, reset: bool = False) -> tuple[str, bool]:
        """The member's subscription URL; a new token when ``reset`` or when they have none (the
        token is shown once: only its hash is stored). True with it when it is new."""
        async with self.db.transaction() as session:
            row = await session.get(CalendarToken, member_id)
            if row is not None and not reset:
                return "", False
            token = secrets.token_urlsafe(24)
            if row is None:
                session.add(CalendarToken(member_id=member_id, token_hash=token_hash(token), created_at=utcnow()))
            else:
                row.token_hash, row.created_at = token_hash(token), utcnow()
        return f"{self.calendar_base()}/calendar/{token}.ics", True

    async def has_calendar(self, member_id: int) -> bool:
        async with self.db.read() as session:
            return await session.get(CalendarToken, member_id) is not None

    async def calendar_for_token(self, token: str) -> bytes | None:
        """The .ics for the member the token belongs to; None for a wrong or revoked token."""
        if not 16 <= len(token) <= 64:
            return None
        async with self.db.read() as session:
            row = (
                await session.scalars(select(CalendarToken).where(CalendarToken.token_hash == token_hash(token)))
            ).first()
        if row is None:
            return None
        return await self.calendar_for_member(row.member_id)

    async def calendar_for_member(self, member_id: int | None) -> bytes:
        """Upcoming and recently past drops; the member's own reminder offsets as VALARMs."""
        since = utcnow() - timedelta(days=7)
        async with self.db.read() as session:
            drops = list(
                await session.scalars(
                    select(Drop).where(Drop.release_at > since).order_by(Drop.release_at, Drop.id).limit(2000)
                )
            )
            alarms: list[int] = []
            if member_id is not None and self.settings.calendar_alarms:
                offsets = await session.scalars(select(DropReminder.offsets).where(DropReminder.member_id == member_id))
                alarms = sorted({int(v) for values in offsets for v in values or []}, reverse=True)[:3]
        return ics.calendar(
            drops, self.calendar_host(), refresh_minutes=self.settings.calendar_refresh_minutes, alarms=alarms
        )
