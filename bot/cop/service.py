"""The Cop Simulator's drops: scheduling, opening, the checkout steps and closing.

Every change of state is a conditional UPDATE on the row it concerns (``WHERE status = 'scheduled'``,
``WHERE step = 'carted'``, ``WHERE remaining > 0``), so when several processes share the database,
or a member double-taps a button, exactly one request moves it and the others see it moved. The
scheduler only says *when* to look: each drop registers one-off jobs for its opening and closing,
re-registered from the database at start-up, and a periodic sweep catches whatever a restart missed.

Times come from ``clock`` (UTC-aware), which tests replace to move time instead of sleeping. A
practice run's time counts from the moment its drop message was sent: the delivery worker records
when the platform accepted it (``outbox.sent_at``, after the send request returned), and the run is
measured from there; until that is recorded, from the moment the message was queued.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import case, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cop import render, standings
from bot.cop.config import CopSection
from bot.cop.models import (
    CANCELLED,
    CARTED,
    CLOSED,
    CONFIRM,
    DONE,
    GROUP,
    LATE,
    OPEN,
    PRACTICE,
    PRACTICED,
    SCHEDULED,
    SIZED,
    SOLD_OUT,
    VOID,
    VOIDED,
    WON,
    CopDrop,
    CopEntry,
)
from bot.cop.pairs import Pair
from bot.cop.timing import Clock, when
from bot.cop.undelivered import DELIVERED, FAILED, GAVE_UP, NO_MESSAGE, REFUSED_DM, WAITING, Undelivered
from bot.delivery.service import Delivery
from bot.economy.runtime import EconomyRuntime
from core.delivery import NewMessage, enqueue
from core.delivery.models import REFUSED, SENT, OutboxMessage
from core.delivery.outbox import key_for
from core.errors import NotFound, UserError
from core.markup import escape
from core.storage.models import Member
from core.storage.types import utcnow

if TYPE_CHECKING:
    from core.engine import Engine

log = structlog.get_logger(__name__)

#: what a practice drop's outbox rows are filed under (``cop:drop12:<member>:<channel>``)
OUTBOX_SOURCE = "cop"
#: no 0/O or 1/I: the code is read off a screen and typed back
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
#: the checkout steps in the order they must be taken
STEP_ORDER = (SIZED, CARTED, CONFIRM, DONE, VOID)
#: channels a practice drop message can go to (it needs buttons)
PRACTICE_CHANNELS = ("discord", "telegram", "shell")


@dataclass(frozen=True)
class Step:
    """Where a member stands in a drop after pressing a button: ``moved`` is False when the press
    changed nothing (a double tap, a stale button from an earlier step)."""

    drop: CopDrop
    entry: CopEntry
    moved: bool
    #: the size the press asked for, when it differs from the one the entry holds
    asked_size: str | None = None


@dataclass(frozen=True)
class Checkout:
    """The answer to ``/cop confirm``: the finished (or voided) entry, or a wrong code."""

    drop: CopDrop
    entry: CopEntry
    #: wrong codes left before the entry is void; None when the code was right
    tries_left: int | None = None
    #: the member's best practice time before this run (practice runs only)
    best_before_ms: int | None = None


class Cop:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.db = engine.db
        self.settings = engine.config.get(CopSection)
        #: the current time (UTC-aware); tests put a movable clock here
        self.clock: Clock = utcnow
        self.rng = random.SystemRandom()
        self.restored = False

    # ------------------------------------------------------------------ creating drops

    async def start_practice(self, member: Member, channel: str, pair: Pair) -> CopDrop:
        """A practice drop for ``member`` that opens at a random moment after the countdown; its drop
        message goes to ``channel``. One running practice per member."""
        if channel not in PRACTICE_CHANNELS:
            raise UserError("Practice needs buttons: start it on Discord or Telegram.")
        if not member.dm_enabled:
            raise UserError("The drop arrives as a direct message and your DMs are off: `/settings dm:on` first.")
        settings = self.settings
        delay = settings.countdown_s + self.rng.uniform(0, settings.random_window_s)

        async def work(session: AsyncSession) -> CopDrop:
            now = self.clock()
            # lock the member (PostgreSQL) so two /cop practice at once can't both start a run
            await session.execute(select(Member.id).where(Member.id == member.id).with_for_update())
            running = await session.scalar(
                select(CopDrop).where(
                    CopDrop.kind == PRACTICE,
                    CopDrop.member_id == member.id,
                    CopDrop.status.in_((SCHEDULED, OPEN)),
                    CopDrop.closes_at > now,
                )
            )
            if running is not None:
                raise UserError(
                    f"Practice drop #{running.id} is still running (it closes "
                    f"{when(running.closes_at, member.timezone or 'UTC')}). Finish it first."
                )
            opens_at = now + timedelta(seconds=delay)
            drop = CopDrop(
                kind=PRACTICE,
                status=SCHEDULED,
                pair=pair.name[:300],
                catalog_id=pair.catalog_id,
                sizes=list(pair.sizes),
                stock=1,
                remaining=1,
                member_id=member.id,
                channel=channel,
                created_by=member.id,
                opens_at=opens_at,
                closes_at=opens_at + timedelta(seconds=settings.practice_window_s),
                created_at=now,
            )
            session.add(drop)
            await session.flush()
            return drop

        drop = await self.db.run(work)
        self._arm(drop)
        log.info("cop.practice_armed", drop=drop.id, member_id=member.id)
        return drop

    async def schedule_group(self, actor: Member, opens_at: datetime, stock: int, pair: Pair) -> CopDrop:
        """A group drop of ``stock`` pairs at ``opens_at``, announced on the cop feed."""
        if not 1 <= stock <= self.settings.max_stock:
            raise UserError(f"Stock must be 1 to {self.settings.max_stock} pairs.")
        feed = self._feed()
        now = self.clock()
        drop = CopDrop(
            kind=GROUP,
            status=SCHEDULED,
            pair=pair.name[:300],
            catalog_id=pair.catalog_id,
            sizes=list(pair.sizes),
            stock=stock,
            remaining=stock,
            created_by=actor.id,
            opens_at=opens_at,
            closes_at=opens_at + timedelta(seconds=self.settings.group_window_s),
            created_at=now,
        )

        async def work(session: AsyncSession) -> CopDrop:
            session.add(drop)
            await session.flush()
            return drop

        saved = await self.db.run(work)
        self._arm(saved)
        await self.engine.feeds.publish(feed, render.announcement(saved))
        log.info("cop.group_scheduled", drop=saved.id, stock=stock, opens_at=saved.opens_at.isoformat())
        return saved

    async def cancel(self, drop_id: int) -> CopDrop:
        """Cancel a group drop that hasn't closed; its feed is told."""
        now = self.clock()

        async def work(session: AsyncSession) -> int:
            result = await session.execute(
                update(CopDrop)
                .where(CopDrop.id == drop_id, CopDrop.kind == GROUP, CopDrop.status.in_((SCHEDULED, OPEN)))
                .values(status=CANCELLED, closed_at=now, settled_at=now)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

        changed = await self.db.run(work)
        drop = await self.drop(drop_id)
        if drop.kind != GROUP:
            raise UserError(f"Drop #{drop_id} is a practice run, not a group drop.")
        if not changed:
            raise UserError(f"Drop #{drop_id} is already {drop.status}: only a scheduled or open drop can be cancelled")
        for job in (f"cop.open.{drop_id}", f"cop.close.{drop_id}"):
            self.engine.scheduler.cancel(job)
        await self.engine.feeds.publish(self._feed(), render.cancelled(drop))
        return drop

    def _feed(self) -> str:
        feed = self.settings.feed
        if feed not in self.engine.feeds.names:
            raise UserError(f"Group drops post to the `{feed}` feed, which isn't configured: add it to [feeds] names.")
        return feed

    def _arm(self, drop: CopDrop) -> None:
        """One-off jobs at the drop's opening and closing. They only prompt a sweep: whoever's
        conditional UPDATE wins does the work, so a job in every process is harmless."""
        scheduler = self.engine.scheduler
        if drop.status == SCHEDULED:
            scheduler.once(f"cop.open.{drop.id}", drop.opens_at, self.open_due)
        scheduler.once(f"cop.close.{drop.id}", drop.closes_at, self.close_due)

    # ------------------------------------------------------------------ the periodic sweep

    async def restore(self) -> None:
        """Re-register the jobs of every drop not yet closed: what a restart needs."""
        async with self.db.read() as session:
            drops = (await session.scalars(select(CopDrop).where(CopDrop.status.in_((SCHEDULED, OPEN))))).all()
        for drop in drops:
            self._arm(drop)
        self.restored = True

    async def sweep(self) -> None:
        """Open what is due, close what has run out, settle closed group drops, pay the month that
        ended. Each part is idempotent, and one failing doesn't stop the others."""
        if not self.restored:
            await self.restore()
        for name, step in (
            ("open", self.open_due),
            ("close", self.close_due),
            ("settle", self.settle_due),
            ("tournament", lambda: standings.pay_last_month(self)),
        ):
            try:
                await step()
            except Exception:
                log.exception("cop.sweep_failed", step=name)

    async def open_due(self) -> int:
        """Open every drop whose moment has come; returns how many this call opened."""
        now = self.clock()
        async with self.db.read() as session:
            due = (
                await session.scalars(
                    select(CopDrop.id).where(CopDrop.status == SCHEDULED, CopDrop.opens_at <= now).order_by(CopDrop.id)
                )
            ).all()
        opened = 0
        for drop_id in due:
            opened += await self._open(drop_id)
        return opened

    async def _open(self, drop_id: int) -> int:
        """Claim the opening of one drop (one process wins); a practice drop's message is queued in
        the same transaction, a group drop's post goes to the feed after the commit."""

        async def work(session: AsyncSession) -> CopDrop | None:
            now = self.clock()
            claimed = await session.execute(
                update(CopDrop)
                .where(
                    CopDrop.id == drop_id,
                    CopDrop.status == SCHEDULED,
                    CopDrop.opens_at <= now,
                    CopDrop.closes_at > now,
                )
                .values(status=OPEN, opened_at=now)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None
            drop = await session.get(CopDrop, drop_id)
            if drop is None:
                return None
            await session.refresh(drop)
            if drop.kind == PRACTICE and drop.member_id is not None and drop.channel is not None:
                message = NewMessage(
                    source=OUTBOX_SOURCE,
                    ref=f"drop{drop.id}",
                    member_id=drop.member_id,
                    channels=[drop.channel],
                    reply=render.live(drop),
                    priority=10,
                )
                await enqueue(session, [message])
            return drop

        drop = await self.db.run(work)
        if drop is None:
            return 0
        if drop.kind == PRACTICE:
            if self.engine.has_service(Delivery):
                self.engine.service(Delivery).wake()
        elif self.settings.feed in self.engine.feeds.names:
            await self.engine.feeds.publish(self.settings.feed, render.live(drop))
        log.info("cop.opened", drop=drop.id, kind=drop.kind)
        return 1

    async def close_due(self) -> int:
        """Close drops whose window has passed (and drops a long outage kept from ever opening)."""
        now = self.clock()

        async def work(session: AsyncSession) -> int:
            result = await session.execute(
                update(CopDrop)
                .where(CopDrop.status.in_((SCHEDULED, OPEN)), CopDrop.closes_at <= now)
                .values(status=CLOSED, closed_at=now)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

        return await self.db.run(work)

    async def settle_due(self) -> int:
        async with self.db.read() as session:
            due = (
                await session.scalars(
                    select(CopDrop.id).where(
                        CopDrop.kind == GROUP, CopDrop.status == CLOSED, CopDrop.settled_at.is_(None)
                    )
                )
            ).all()
        settled = 0
        for drop_id in due:
            settled += await self.settle(drop_id)
        return settled

    async def settle(self, drop_id: int) -> int:
        """Pay a closed group drop's winners (each once: the earn key is the drop and the member) and
        post its results (once: the process whose UPDATE sets ``settled_at`` posts)."""
        drop = await self.drop(drop_id)
        if drop.kind != GROUP or drop.status != CLOSED or drop.settled_at is not None:
            return 0
        winners = await self.winners(drop_id)
        earned: dict[int, int] = {}
        kind = self.settings.earn_kind
        if kind and self.engine.has_service(EconomyRuntime):
            economy = self.engine.service(EconomyRuntime).economy
            for entry, _name in winners:
                paid = await economy.earn(kind, entry.member_id, f"cop-drop-{drop_id}", note=f"won cop drop #{drop_id}")
                if paid is not None and paid.posted:
                    earned[entry.member_id] = paid.amount

        async def work(session: AsyncSession) -> int:
            result = await session.execute(
                update(CopDrop)
                .where(CopDrop.id == drop_id, CopDrop.settled_at.is_(None))
                .values(settled_at=self.clock())
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

        if not await self.db.run(work):
            return 0
        entrants = await self.entrant_count(drop_id)
        has_economy = self.engine.has_service(EconomyRuntime)
        currency = self.engine.service(EconomyRuntime).economy.currency if has_economy else ""
        if self.settings.feed in self.engine.feeds.names:
            await self.engine.feeds.publish(
                self.settings.feed, render.results(drop, winners, entrants, earned, currency)
            )
        log.info("cop.settled", drop=drop_id, winners=len(winners), entrants=entrants)
        return 1

    # ------------------------------------------------------------------ reading

    async def drop(self, drop_id: int) -> CopDrop:
        async with self.db.read() as session:
            found = await session.get(CopDrop, drop_id)
        if found is None:
            raise NotFound(f"No cop drop #{drop_id}.")
        return found

    async def entry(self, drop_id: int, member_id: int) -> CopEntry | None:
        async with self.db.read() as session:
            found: CopEntry | None = await session.scalar(
                select(CopEntry).where(CopEntry.drop_id == drop_id, CopEntry.member_id == member_id)
            )
        return found

    async def winners(self, drop_id: int) -> list[tuple[CopEntry, str]]:
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select(CopEntry, Member.display_name)
                    .join(Member, Member.id == CopEntry.member_id)
                    .where(CopEntry.drop_id == drop_id, CopEntry.outcome == WON)
                    .order_by(CopEntry.position)
                )
            ).all()
        return [(entry, str(name)) for entry, name in rows]

    async def entrant_count(self, drop_id: int) -> int:
        async with self.db.read() as session:
            return int(await session.scalar(select(func.count()).where(CopEntry.drop_id == drop_id)) or 0)

    async def upcoming(self, limit: int = 10) -> list[CopDrop]:
        async with self.db.read() as session:
            rows = await session.scalars(
                select(CopDrop)
                .where(CopDrop.kind == GROUP, CopDrop.status.in_((SCHEDULED, OPEN)))
                .order_by(CopDrop.opens_at)
                .limit(limit)
            )
            return list(rows)

    # ------------------------------------------------------------------ practice drops that never arrived

    async def delivery_of(self, drop: CopDrop) -> str:
        """How a practice drop's message fared in the outbox: ``none`` (not queued: not open yet, or a
        group drop), ``waiting`` (queued or being retried), ``sent``, ``refused`` (the platform
        turned the member away for good: DMs closed, bot blocked) or ``failed`` (the worker gave up)."""
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select(OutboxMessage.status, OutboxMessage.last_error).where(
                        OutboxMessage.source == OUTBOX_SOURCE,
                        OutboxMessage.group_key.startswith(f"{OUTBOX_SOURCE}:drop{drop.id}:", autoescape=True),
                    )
                )
            ).all()
        statuses = {row.status for row in rows}
        if not rows:
            return NO_MESSAGE
        if SENT in statuses:
            return DELIVERED
        if statuses - GAVE_UP:
            return WAITING
        refused = any(row.status == REFUSED or "refused" in (row.last_error or "") for row in rows)
        return REFUSED_DM if refused else FAILED

    async def undelivered_practice(self, member: Member) -> Undelivered | None:
        """The member's latest practice drop, if its message never reached them; a run still open is
        closed now (nobody can race a drop they never saw). The run after it no longer is the latest,
        so a member hears about a failed message once, on their next ``/cop practice``."""
        async with self.db.read() as session:
            latest = await session.scalar(
                select(CopDrop)
                .where(CopDrop.kind == PRACTICE, CopDrop.member_id == member.id)
                .order_by(CopDrop.id.desc())
                .limit(1)
            )
        if latest is None or latest.status == SCHEDULED:
            return None
        how = await self.delivery_of(latest)
        if how not in (REFUSED_DM, FAILED):
            return None
        if latest.status == OPEN:
            await self._close_undelivered(latest.id)
            latest = await self.drop(latest.id)
        return Undelivered(latest, refused=how == REFUSED_DM)

    async def on_refused(self, _topic: str, payload: dict[str, object]) -> None:
        """The delivery worker's ``delivery.refused``: a platform turned a member away for good. Their
        open practice drop on that platform is closed at once, so ``/cop practice`` starts afresh."""
        member_id, channel = payload.get("member_id"), payload.get("channel")
        if not isinstance(member_id, int) or not isinstance(channel, str):
            return
        async with self.db.read() as session:
            running = (
                await session.scalars(
                    select(CopDrop).where(
                        CopDrop.kind == PRACTICE,
                        CopDrop.member_id == member_id,
                        CopDrop.channel == channel,
                        CopDrop.status == OPEN,
                    )
                )
            ).all()
        for drop in running:
            if await self.delivery_of(drop) in (REFUSED_DM, FAILED):
                await self._close_undelivered(drop.id)

    async def _close_undelivered(self, drop_id: int) -> None:
        """Close an open practice drop whose message never arrived, unless its member is racing it
        anyway (typed ``/cop size`` by hand): their entry keeps it open to the end of its window."""
        now = self.clock()

        async def work(session: AsyncSession) -> int:
            result = await session.execute(
                update(CopDrop)
                .where(
                    CopDrop.id == drop_id,
                    CopDrop.kind == PRACTICE,
                    CopDrop.status == OPEN,
                    ~exists().where(CopEntry.drop_id == drop_id),
                )
                .values(status=CLOSED, closed_at=now)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

        if await self.db.run(work):
            log.info("cop.practice_undelivered", drop=drop_id)

    async def practice_status(self, member: Member) -> tuple[CopDrop, CopEntry | None, str] | None:
        """The member's latest practice drop, their entry in it and how its message fared."""
        async with self.db.read() as session:
            latest = await session.scalar(
                select(CopDrop)
                .where(CopDrop.kind == PRACTICE, CopDrop.member_id == member.id)
                .order_by(CopDrop.id.desc())
                .limit(1)
            )
        if latest is None:
            return None
        return latest, await self.entry(latest.id, member.id), await self.delivery_of(latest)

    # ------------------------------------------------------------------ the checkout steps

    async def pick_size(self, member: Member, drop_id: int, size: str) -> Step:
        """The first step: one entry per member per drop, in a size the drop offers."""
        drop, entry = await self._live(member, drop_id)
        wanted = _match_size(drop, size)
        if entry is not None:
            return Step(drop, entry, moved=False, asked_size=wanted if wanted != entry.size else None)

        async def work(session: AsyncSession) -> CopEntry:
            created = CopEntry(
                drop_id=drop.id, member_id=member.id, size=wanted, step=SIZED, wrong_codes=0, started_at=self.clock()
            )
            session.add(created)
            await session.flush()
            return created

        try:
            made = await self.db.run(work)
        except IntegrityError:  # the same member's other tap got there first
            again = await self.entry(drop.id, member.id)
            if again is None:
                raise
            return Step(drop, again, moved=False, asked_size=wanted if wanted != again.size else None)
        return Step(drop, made, moved=True)

    async def add_to_cart(self, member: Member, drop_id: int) -> Step:
        return await self._advance(member, drop_id, SIZED, CARTED)

    async def checkout(self, member: Member, drop_id: int) -> Step:
        return await self._advance(member, drop_id, CARTED, CONFIRM)

    async def _advance(self, member: Member, drop_id: int, before: str, after: str) -> Step:
        drop, entry = await self._live(member, drop_id)
        if entry is None:
            raise UserError(f"Pick a size on drop #{drop_id} first.")
        values: dict[str, object] = {"step": after}
        if after == CONFIRM:
            values["code"] = "".join(secrets.choice(CODE_ALPHABET) for _ in range(self.settings.code_length))

        async def work(session: AsyncSession) -> int:
            result = await session.execute(
                update(CopEntry).where(CopEntry.id == entry.id, CopEntry.step == before).values(**values)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

        moved = bool(await self.db.run(work))
        current = await self.entry(drop.id, member.id)
        assert current is not None
        if not moved and STEP_ORDER.index(current.step) < STEP_ORDER.index(before):
            raise UserError("Do the steps in order: add your size to the cart, then check out.")
        return Step(drop, current, moved=moved)

    async def _live(self, member: Member, drop_id: int) -> tuple[CopDrop, CopEntry | None]:
        """The drop and the member's entry, if the drop takes a step now; a finished entry is
        returned as it is (the press shows the result), anything else not live is refused."""
        drop = await self.drop(drop_id)
        if drop.kind == PRACTICE and drop.member_id != member.id:
            raise UserError(f"Drop #{drop_id} is someone else's practice run: start your own with `/cop practice`.")
        entry = await self.entry(drop_id, member.id)
        if entry is not None and entry.step in (DONE, VOID):
            return drop, entry
        now = self.clock()
        if drop.status == CANCELLED:
            raise UserError(f"Drop #{drop_id} was cancelled.")
        if drop.status == SCHEDULED or now < drop.opens_at:
            raise UserError(f"Drop #{drop_id} hasn't opened yet. A checkout before the drop opens doesn't count.")
        if drop.kind == GROUP and drop.remaining == 0:
            raise UserError(f"Sold out: all {drop.stock} pairs of drop #{drop_id} are gone.")
        if drop.status == CLOSED or now >= drop.closes_at:
            closed = when(drop.closes_at, member.timezone or "UTC")
            raise UserError(f"Drop #{drop_id} closed at {closed}. Nothing more can be bought.")
        return drop, entry

    async def confirm(self, member: Member, code: str) -> Checkout:
        """The typed confirmation: checks the code, then, in one transaction, claims the entry, takes
        a pair from the stock if one is left (group drops) and records the time."""
        typed = code.strip().upper()

        async def work(session: AsyncSession) -> Checkout:
            now = self.clock()
            waiting = (
                await session.scalars(
                    select(CopEntry)
                    .where(CopEntry.member_id == member.id, CopEntry.step == CONFIRM)
                    .order_by(CopEntry.id.desc())
                    .with_for_update()
                )
            ).all()
            if not waiting:
                raise UserError(await self._nothing_to_confirm(session, member.id))
            # a member at checkout in two drops at once confirms the one whose code they typed
            entry = next((item for item in waiting if item.code == typed), waiting[0])
            drop = await session.get(CopDrop, entry.drop_id)
            assert drop is not None
            if typed != entry.code:
                return await self._wrong_code(session, drop, entry, now)
            claimed = await session.execute(
                update(CopEntry).where(CopEntry.id == entry.id, CopEntry.step == CONFIRM).values(step=DONE)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                raise UserError(f"You already checked out of drop #{drop.id}.")
            if drop.opened_at is None or now < drop.opens_at:
                raise UserError(f"Drop #{drop.id} hasn't opened yet. A checkout before the drop opens doesn't count.")
            elapsed = await self._elapsed_ms(session, drop, member.id, now)
            outcome, position = await self._take(session, drop, now)
            await session.execute(
                update(CopEntry)
                .where(CopEntry.id == entry.id)
                .values(checkout_at=now, elapsed_ms=elapsed, outcome=outcome, position=position)
            )
            await session.refresh(entry)
            await session.refresh(drop)
            return Checkout(drop, entry)

        result = await self.db.run(work)
        if result.entry.outcome == WON and result.drop.status == CLOSED:
            await self.settle(result.drop.id)  # the last pair went: results now, not at the next sweep
        if result.entry.outcome == PRACTICED:
            best = await self.best_practice(member.id, exclude=result.entry.id)
            return Checkout(result.drop, result.entry, best_before_ms=best)
        return result

    async def _nothing_to_confirm(self, session: AsyncSession, member_id: int) -> str:
        latest = await session.scalar(
            select(CopEntry).where(CopEntry.member_id == member_id).order_by(CopEntry.id.desc()).limit(1)
        )
        if latest is not None and latest.step == DONE:
            return f"Nothing to confirm: you already checked out of drop #{latest.drop_id}."
        if latest is not None and latest.step == VOID:
            return f"Nothing to confirm: your entry in drop #{latest.drop_id} was void after too many wrong codes."
        return "Nothing to confirm: pick a size on a live drop and press Checkout first."

    async def _wrong_code(self, session: AsyncSession, drop: CopDrop, entry: CopEntry, now: datetime) -> Checkout:
        wrong = entry.wrong_codes + 1
        left = self.settings.max_wrong_codes - wrong
        values: dict[str, object] = {"wrong_codes": wrong}
        if left <= 0:
            values.update(step=VOID, outcome=VOIDED, checkout_at=now)
        mine = (CopEntry.id == entry.id, CopEntry.step == CONFIRM)
        await session.execute(update(CopEntry).where(*mine).values(**values))
        await session.refresh(entry)
        return Checkout(drop, entry, tries_left=max(0, left))

    async def _take(self, session: AsyncSession, drop: CopDrop, now: datetime) -> tuple[str, int | None]:
        """The outcome of a valid checkout. A group drop's pair is taken by one conditional UPDATE
        that checks the stock and the window as it decrements, and closes the drop on the last pair:
        concurrent checkouts queue on the row, so no more than ``stock`` ever win."""
        if drop.status == CANCELLED or now >= drop.closes_at or (drop.status == CLOSED and drop.remaining > 0):
            return LATE, None
        if drop.kind == PRACTICE:
            done = update(CopDrop).where(CopDrop.id == drop.id, CopDrop.status == OPEN)
            await session.execute(done.values(status=CLOSED, closed_at=now))
            return PRACTICED, None
        last = CopDrop.remaining == 1
        taken = await session.execute(
            update(CopDrop)
            .where(CopDrop.id == drop.id, CopDrop.status == OPEN, CopDrop.remaining > 0, CopDrop.closes_at > now)
            .values(
                remaining=CopDrop.remaining - 1,
                status=case((last, CLOSED), else_=CopDrop.status),
                closed_at=case((last, now), else_=CopDrop.closed_at),
            )
            .returning(CopDrop.remaining)
            .execution_options(synchronize_session=False)
        )
        left = taken.scalar_one_or_none()
        if left is not None:
            return WON, drop.stock - int(left)
        await session.refresh(drop)
        return (SOLD_OUT, None) if drop.remaining == 0 else (LATE, None)

    async def _elapsed_ms(self, session: AsyncSession, drop: CopDrop, member_id: int, now: datetime) -> int:
        """Milliseconds since the drop message was sent. A practice drop reads its outbox row: the
        delivery latency (queued → accepted by the platform) added to the opening moment. A group
        drop's post goes through the feed, which reports no send time: it counts from the opening."""
        assert drop.opened_at is not None
        sent = drop.opened_at
        if drop.kind == PRACTICE and drop.channel is not None:
            key = key_for(f"{OUTBOX_SOURCE}:drop{drop.id}:{drop.member_id or member_id}", drop.channel)
            row = (
                await session.execute(
                    select(OutboxMessage.created_at, OutboxMessage.sent_at).where(OutboxMessage.key == key)
                )
            ).first()
            if row is not None and row.sent_at is not None:
                sent = drop.opened_at + max(timedelta(0), row.sent_at - row.created_at)
        return max(0, round((now - sent).total_seconds() * 1000))

    async def best_practice(self, member_id: int, *, exclude: int | None = None) -> int | None:
        async with self.db.read() as session:
            query = select(func.min(CopEntry.elapsed_ms)).where(
                CopEntry.member_id == member_id, CopEntry.outcome == PRACTICED
            )
            if exclude is not None:
                query = query.where(CopEntry.id != exclude)
            best = await session.scalar(query)
        return None if best is None else int(best)


def _match_size(drop: CopDrop, size: str) -> str:
    """The drop's own spelling of ``size`` (``us 10`` → ``10``), checked against its size run."""
    wanted = size.strip().upper().removeprefix("US").strip()
    for offered in drop.sizes:
        if offered.upper() == wanted:
            return offered
    raise UserError(f"Size `{escape(wanted[:8]) or '?'}` isn't in drop #{drop.id}'s run: {', '.join(drop.sizes)}.")
