"""The delivery worker: claims due outbox rows under a lease, sends them through the frontends
within our rate limits, and records the outcome.

Why it is exactly-once in effect:

* A row is claimed (``claimed``, ``lease_owner``, ``lease_until``) in a transaction *before* the send,
  so two workers, or a worker and its restarted self, never send the same row at the same time.
  Claimed rows wait for their rate-limit slot; a crash there leaves nothing in doubt, and the rows
  are claimed again when the lease runs out.
* Right before the request, the row flips to ``sending`` in a committed transaction (batched with
  every other send that is ready in the same tick), and right after the platform answers, to
  ``sent`` (batched the same way). So the only rows a crash can leave in doubt are the requests
  that were handed to a frontend. Whether such a request
  arrived depends on how far it got before the crash, so the sender cannot know by itself. What a
  restarted worker does with a row in doubt (found ``sending`` with its lease run out) depends on
  what the platform offers:

  - **Discord** deduplicates by key (``KeyedSends``): every send carries the row's ``key`` as the
    message ``nonce`` with ``enforce_nonce``, and Discord answers a repeat from the same author
    within a few minutes with the first message instead of a second one. The row is simply sent
    again, with the same key, if it went on the wire less than ``idempotency_window_s`` ago
    (estimated as ``lease_until - lease_s``). Exactly-once.
  - **SMS** can be read back (``DeliveryVerifier``): Twilio lists the messages sent from our number
    to a number, so the worker asks whether one with the same body went there since the row was
    created. Yes: recorded as sent without a second text. No: sent. Exactly-once; the only blur is
    a different notification with the very same text to the same person in that time, which counts
    as this one (the member did get those words).
  - **Telegram** has neither: the Bot API takes no idempotency key and a bot cannot read back what
    it sent. Such rows, and rows the others cannot settle (Discord past its window, Twilio
    unreachable), follow ``resend_in_doubt``: resend (the default, at-least-once: a lost drop alert
    is worse than a repeated one) or dead-letter with the reason for an admin (at-most-once).
    Either way the doubt is bounded by ``send_concurrency`` (on these channels a send's slot is held
    until its ``sent`` is queued ahead of the next send's ``sending``, so both commit in one
    transaction or in that order; on Discord and SMS it frees with the answer), counted and logged.
* A permanent refusal moves the notification to its next channel by inserting a new row with the
  next channel's key in the same transaction that retires the refused one; the unique key means a
  replay can never fork it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, TypeVar, cast, runtime_checkable

import structlog
from sqlalchemy import and_, bindparam, case, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from core.delivery.limits import DeliveryLimiter
from core.delivery.models import CLAIMED, DEAD, EXPIRED, PENDING, REFUSED, SENDING, SENT, OutboxMessage
from core.delivery.outbox import expiry, key_for
from core.frontend import DeliveryRefused, DeliveryVerifier, Frontend, KeyedSends, RequestCounter, gated
from core.replies import Reply
from core.storage.database import Database
from core.storage.types import utcnow

log = structlog.get_logger(__name__)
T = TypeVar("T")

_DIED_MID_SEND = "in doubt: the sender died mid-send; check and retry if it never arrived"

#: published on the event bus when a platform refuses a member for good
REFUSED_TOPIC = "delivery.refused"

#: what to do with a row found in doubt: send it again under the same key (the platform drops a
#: repeat), ask the platform whether it arrived, or apply ``resend_in_doubt``
Doubt = Literal["keyed", "verify", "unknown"]


class AddressBook(Protocol):
    async def address_for(self, member_id: int, platform: str) -> str | None: ...


@runtime_checkable
class BulkAddressBook(AddressBook, Protocol):
    """An address book that can look up a whole claimed batch in one query (fan-outs)."""

    async def addresses_for(self, member_ids: Sequence[int], platform: str) -> dict[int, str]: ...


Publish = Callable[[str, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class WorkerSettings:
    max_attempts: int = 6
    backoff_base_s: float = 2.0
    backoff_max_s: float = 600.0
    lease_s: float = 30.0
    poll_s: float = 0.5
    #: claim about this many seconds of sending per channel at a time (keeps leases short)
    claim_ahead_s: float = 1.0
    min_in_flight: int = 16
    max_in_flight: int = 512
    #: requests handed to one frontend at once; it bounds what a crash can leave in doubt
    send_concurrency: int = 8
    send_timeout_s: float = 30.0
    #: how long the first state change of a tick waits for others before the tick is committed: a
    #: fan-out's sends finish a few milliseconds apart, and one commit for each cost more CPU than
    #: the sends themselves; the wait delays a request by at most this much
    mark_linger_s: float = 0.01
    resend_in_doubt: bool = True
    #: the number SMS goes out from; rate limits are per sending number
    sms_sender: str = ""
    #: channels whose messages expire this long after they become due (SMS ValidityPeriod)
    validity_s: Mapping[str, float] = field(default_factory=dict)

    @property
    def on_wire_lease_s(self) -> float:
        """How long a row marked ``sending`` is leased: it must outlast the request's own timeout, so
        no other worker takes a send that may still be in flight for one in doubt."""
        return self.lease_s + self.send_timeout_s


@dataclass
class WorkerStats:
    sent: int = 0
    retried: int = 0
    refused: int = 0
    dead: int = 0
    expired: int = 0
    in_doubt: int = 0
    #: rows in doubt, per channel
    in_doubt_by_channel: dict[str, int] = field(default_factory=dict)
    #: rows in doubt the platform confirmed had arrived (recorded as sent, not sent again)
    verified_delivered: int = 0
    #: rows in doubt sent again under their key, which the platform deduplicates
    resent_keyed: int = 0
    first_send_at: float | None = None
    by_channel: dict[str, int] = field(default_factory=dict)


def backoff_delay(attempt: int, base_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """Exponential back-off with jitter: uniform in [c/2, c] where c = min(max, base·2^(attempt-1)),
    so retries of a burst of failures spread out but never come back immediately."""
    ceiling = min(max_s, base_s * 2 ** max(0, attempt - 1))
    return (rng or random).uniform(ceiling / 2, ceiling)


def _retry_after(exc: BaseException) -> float | None:
    """A platform's ``retry_after`` (seconds or timedelta), if the error carries one."""
    value = getattr(exc, "retry_after", None)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, int | float) and value >= 0:
        return float(value)
    return None


@dataclass(frozen=True)
class _Abilities:
    """What a channel's frontend offers the worker (see ``core.frontend``'s protocols)."""

    #: ``RequestCounter``: a send may cost more than one request against the platform's limit
    counts_requests: bool
    #: ``KeyedSends`` or ``DeliveryVerifier``: a send left in doubt is settled without a blind repeat
    settles_doubt: bool


class DeliveryWorker:
    def __init__(
        self,
        db: Database,
        frontends: Mapping[str, Frontend],
        addresses: AddressBook,
        limiter: DeliveryLimiter,
        settings: WorkerSettings | None = None,
        *,
        publish: Publish | None = None,
        owner: str | None = None,
    ) -> None:
        self._db = db
        self._frontends = frontends
        self._addresses = addresses
        self._limiter = limiter
        self.settings = settings or WorkerSettings()
        self._publish = publish
        self.owner = owner or f"worker-{secrets.token_hex(4)}"
        self.stats = WorkerStats()
        self._wake = asyncio.Event()
        self._in_flight: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._marks = _Batcher(self._mark, linger_s=self.settings.mark_linger_s)
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._address_cache: dict[tuple[int, str], str] = {}
        self._slots: dict[str, asyncio.Semaphore] = {}
        #: ids of rows this worker is handling now
        self._active: set[int] = set()
        #: channel → when a claim last found fewer due rows than it asked for (looked at again after
        #: ``poll_s`` or a ``wake``, not after every finished send)
        self._drained: dict[str, float] = {}
        #: channel → its frontend and what it can do, worked out once: a runtime protocol check
        #: costs tens of microseconds, too much to repeat for every message of a fan-out
        self._abilities: dict[str, tuple[Frontend, _Abilities]] = {}

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._stopping = False
        self._loop_task = asyncio.create_task(self._run(), name=f"delivery:{self.owner}")
        self._marks.start(f"delivery-marks:{self.owner}")

    def wake(self) -> None:
        """New rows are due: look now rather than at the next poll."""
        self._drained.clear()
        self._wake.set()

    async def stop(self) -> None:
        """Stop claiming, let in-flight sends finish and record them."""
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self._marks.stop()

    def kill(self) -> None:
        """Die abruptly, as a killed process would: nothing in flight is awaited or recorded."""
        self._stopping = True
        for task in [self._loop_task, *self._tasks]:
            if task is not None:
                task.cancel()
        self._marks.kill()

    async def run_until_idle(self, timeout: float = 10.0) -> None:
        """Deliver everything that is due now (tests): returns once nothing is due or in flight."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            claimed = await self._claim_all(everything=True)
            if not claimed and not self._tasks:
                return
            if self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
        raise TimeoutError("outbox still busy")

    # ------------------------------------------------------------------ writing

    async def _write(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run one write transaction to its end even if this worker is cancelled meanwhile.

        A transaction interrupted half-way in-process can leave its connection holding SQLite's
        write lock; a transaction that finishes is what a crash right after the commit looks like,
        and the lease logic already covers that. ``Database.run`` retries while another process
        holds the lock."""
        return await asyncio.shield(self._db.run(work))

    # ------------------------------------------------------------------ main loop

    async def _run(self) -> None:
        while not self._stopping:
            try:
                claimed = await self._claim_all()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("delivery.claim_failed", owner=self.owner)
                claimed = 0
            if claimed:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.poll_s)

    def _capacity(self, channel: str) -> int:
        rate = self._limiter.rate(channel)
        wanted = math.ceil(rate * self.settings.claim_ahead_s)
        return max(self.settings.min_in_flight, min(self.settings.max_in_flight, wanted))

    async def _claim_all(self, *, everything: bool = False) -> int:
        """Claim for every channel with room. A claim is a transaction, so a channel still holding
        work claims again only once a quarter of its capacity is free, and a drained one only after
        ``poll_s`` or a ``wake`` (``everything``: whatever room there is, in every channel)."""
        total = 0
        now = time.monotonic()
        for channel in list(self._frontends):
            capacity = self._capacity(channel)
            in_flight = self._in_flight.get(channel, 0)
            room = capacity - in_flight
            if room <= 0:
                continue
            if not everything:
                if in_flight and room < capacity // 4:
                    continue
                if now - self._drained.get(channel, -math.inf) < self.settings.poll_s:
                    continue
            claimed, drained = await self._claim(channel, room)
            if drained:
                self._drained[channel] = now
            else:
                self._drained.pop(channel, None)
            await self._prefetch(channel, [row for row, _doubt in claimed])
            for row, doubt in claimed:
                self._spawn(row, doubt)
            total += len(claimed)
        return total

    async def _claim(self, channel: str, limit: int) -> tuple[list[tuple[OutboxMessage, Doubt | None]], bool]:
        """Claim up to ``limit`` due rows of ``channel``; each comes with how to settle it if it was in
        doubt (None: it was not). True with them if fewer than ``limit`` were due."""
        now = utcnow()
        due = or_(
            and_(OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now),
            and_(OutboxMessage.status.in_((CLAIMED, SENDING)), OutboxMessage.lease_until < now),
        )
        lease_until = now + timedelta(seconds=self.settings.lease_s)
        active = list(self._active)
        #: rows found in doubt: id → how to settle them
        doubt: dict[int, Doubt] = {}

        async def work(session: AsyncSession) -> tuple[list[OutboxMessage], list[OutboxMessage]]:
            query = (
                select(OutboxMessage)
                .where(OutboxMessage.channel == channel, due)
                .order_by(OutboxMessage.priority.desc(), OutboxMessage.id)
                .limit(limit)
            )
            if active:  # a row whose lease ran out while it waited here is still ours
                query = query.where(OutboxMessage.id.notin_(active))
            if not self._db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            rows = list((await session.execute(query)).scalars())
            doubt.clear()  # a retried transaction starts over
            doubt.update({row.id: self._doubt(row, now) for row in rows if row.status == SENDING})
            dead = {row.id for row in rows if doubt.get(row.id) == "unknown" and not self.settings.resend_in_doubt}
            claimable = [row for row in rows if row.id not in dead]
            # One plain statement per outcome on the session's connection, not an ORM flush per row;
            # the loaded rows are brought up to date below, after the commit.
            connection = await session.connection()
            if dead:
                await connection.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(list(dead)))
                    .values(status=DEAD, last_error=_DIED_MID_SEND)
                )
            if claimable:
                await connection.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_([row.id for row in claimable]))
                    .values(
                        status=CLAIMED,
                        lease_owner=self.owner,
                        lease_until=lease_until,
                        attempts=OutboxMessage.attempts + 1,
                    )
                )
            return claimable, rows

        claimable, rows = await self._write(work)
        for row in claimable:
            set_committed_value(row, "status", CLAIMED)
            set_committed_value(row, "lease_owner", self.owner)
            set_committed_value(row, "lease_until", lease_until)
            set_committed_value(row, "attempts", row.attempts + 1)
        for row in rows:
            if row.id in doubt:
                self.stats.in_doubt += 1
                self.stats.in_doubt_by_channel[channel] = self.stats.in_doubt_by_channel.get(channel, 0) + 1
                log.warning("delivery.in_doubt", outbox_id=row.id, channel=channel, handling=doubt[row.id])
        return [(row, doubt.get(row.id)) for row in claimable], len(rows) < limit

    def _doubt(self, row: OutboxMessage, now: datetime) -> Doubt:
        """How a row found on the wire after its sender died can be settled on its platform."""
        frontend = self._frontends.get(row.channel)
        if isinstance(frontend, KeyedSends):
            went_out = row.sent_at
            if went_out is None and row.lease_until is not None:  # adopted rows: leased when queued, earlier
                went_out = row.lease_until - timedelta(seconds=self.settings.on_wire_lease_s)
            if went_out is not None and (now - went_out).total_seconds() < frontend.idempotency_window_s:
                return "keyed"
        if isinstance(frontend, DeliveryVerifier):
            return "verify"
        return "unknown"

    async def adopt(
        self, rows: list[OutboxMessage], addresses: Mapping[tuple[int, str], str] | None = None
    ) -> list[asyncio.Task[None]]:
        """Send rows the caller already wrote as ``sending`` for this worker (``enqueue_claimed``):
        the first alerts of a fan-out leave without waiting for a claim or any other write.
        ``addresses`` ((member, channel) → address) saves looking them up again. Returns the sends,
        for a caller that wants them out before it does more work."""
        self._address_cache.update(addresses or {})
        by_channel: dict[str, list[OutboxMessage]] = {}
        for row in rows:
            by_channel.setdefault(row.channel, []).append(row)
        sends: list[asyncio.Task[None]] = []
        for channel, group in by_channel.items():
            if channel not in self._frontends:
                continue
            await self._prefetch(channel, group)
            sends.extend(self._spawn(row) for row in group)
        return sends

    def _spawn(self, row: OutboxMessage, doubt: Doubt | None = None) -> asyncio.Task[None]:
        self._in_flight[row.channel] = self._in_flight.get(row.channel, 0) + 1
        self._active.add(row.id)
        task = asyncio.create_task(self._deliver(row, doubt))
        self._tasks.add(task)

        def finished(done: asyncio.Task[None]) -> None:
            self._tasks.discard(done)
            self._active.discard(row.id)
            self._in_flight[row.channel] -= 1
            self._wake.set()

        task.add_done_callback(finished)
        return task

    # ------------------------------------------------------------------ one send

    async def _deliver(self, row: OutboxMessage, doubt: Doubt | None = None) -> None:
        channel = row.channel
        sender = self.settings.sms_sender
        try:
            expired = row.expires_at is not None and row.expires_at <= utcnow()
            if expired and doubt is None:
                await self._finish(row, EXPIRED, "expired before it could be sent (validity period)")
                return
            frontend = self._frontends[channel]
            address = await self._address(row.member_id, channel)
            if address is None:
                await self._fallback(row, f"no {channel} account linked")
                return
            reply = Reply.model_validate(row.payload)
            if doubt is not None and await self._settled(row, doubt, frontend, address, reply):
                return
            if expired:  # in doubt, and not known to have arrived: too late to send now
                await self._finish(row, EXPIRED, "expired before it could be sent (validity period)")
                return
            abilities = self._abilities_of(channel, frontend)
            counter = cast(RequestCounter, frontend) if abilities.counts_requests else None
            requests = counter.requests_for(address) if counter is not None else 1
            await self._limiter.acquire(channel, address, sender=sender, requests=requests)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._retry(row, exc)
            return

        @contextlib.asynccontextmanager
        async def gate() -> AsyncIterator[None]:
            async with self._limiter.request(channel, sender=sender):
                if self.stats.first_send_at is None:
                    self.stats.first_send_at = time.perf_counter()
                yield

        slots = self._slots.setdefault(channel, asyncio.Semaphore(self.settings.send_concurrency))
        # Where a send left in doubt is settled without a repeat (the platform drops a repeated key,
        # or we can read back what arrived), the slot frees as soon as the platform answers; elsewhere
        # it is held until ``sent`` is queued for commit: the next send on this slot commits its
        # ``sending`` in the same transaction or a later one, so a crash leaves at most
        # ``send_concurrency`` in doubt.
        settles_doubt = abilities.settles_doubt
        await slots.acquire()
        held = True
        try:
            if self._needs_marking(row) and not await self._on_the_wire(row):
                return
            try:
                with gated(gate):
                    await asyncio.wait_for(
                        frontend.send_direct(address, reply, idempotency_key=row.key),
                        timeout=self.settings.send_timeout_s,
                    )
            except asyncio.CancelledError:
                raise
            except DeliveryRefused as exc:
                if exc.permanent:
                    await self._fallback(row, exc.reason)
                else:
                    await self._retry(row, exc, maybe_sent=settles_doubt)
                return
            except Exception as exc:
                await self._retry(row, exc, maybe_sent=settles_doubt)
                return
            if self.stats.first_send_at is None:  # a frontend that does not pass the gate
                self.stats.first_send_at = time.perf_counter()
            self.stats.sent += 1
            self.stats.by_channel[channel] = self.stats.by_channel.get(channel, 0) + 1
            recorded = None if settles_doubt else self._marks.queue(row.id, SENT)
            if settles_doubt or recorded is not None:
                slots.release()
                held = False
            try:
                if recorded is not None:
                    await recorded
                else:
                    await self._record_sent(row)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Sent but not recorded: the row stays ``sending`` and is treated as in doubt.
                log.exception("delivery.record_failed", outbox_id=row.id, channel=channel)
        finally:
            if held:
                slots.release()

    def _abilities_of(self, channel: str, frontend: Frontend) -> _Abilities:
        known = self._abilities.get(channel)
        if known is not None and known[0] is frontend:
            return known[1]
        abilities = _Abilities(
            counts_requests=isinstance(frontend, RequestCounter),
            settles_doubt=isinstance(frontend, KeyedSends | DeliveryVerifier),
        )
        self._abilities[channel] = (frontend, abilities)
        return abilities

    async def _settled(self, row: OutboxMessage, doubt: Doubt, frontend: Frontend, address: str, reply: Reply) -> bool:
        """Deal with a row found in doubt before it goes out again; True if nothing is left to send
        (it had arrived, or it is dead-lettered for an admin)."""
        if doubt == "keyed":
            self.stats.resent_keyed += 1  # the platform drops the repeat if the first one arrived
            return False
        if doubt != "verify" or not isinstance(frontend, DeliveryVerifier):
            return False  # ``unknown``: _claim already applied resend_in_doubt
        arrived = await self._verify(frontend, row, address, reply)
        if arrived:
            self.stats.verified_delivered += 1
            log.info("delivery.in_doubt_arrived", outbox_id=row.id, channel=row.channel)
            await self._record_sent(row)
            return True
        if arrived is None and not self.settings.resend_in_doubt:
            reason = "in doubt: the sender died mid-send and the platform could not say if it arrived"
            await self._finish(row, DEAD, reason)
            return True
        return False

    async def _verify(self, frontend: DeliveryVerifier, row: OutboxMessage, address: str, reply: Reply) -> bool | None:
        """Ask the platform whether a send in doubt arrived; None when it cannot say (or fails to)."""
        try:
            return await asyncio.wait_for(
                frontend.already_delivered(address, reply, row.key, row.created_at),
                timeout=self.settings.send_timeout_s,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("delivery.verify_failed", outbox_id=row.id, channel=row.channel, error=type(exc).__name__)
            return None

    async def _prefetch(self, channel: str, rows: list[OutboxMessage]) -> None:
        wanted = [row.member_id for row in rows if (row.member_id, channel) not in self._address_cache]
        if len(wanted) < 2 or not isinstance(self._addresses, BulkAddressBook):
            return
        if len(self._address_cache) > 50_000:
            self._address_cache.clear()
        found = await self._addresses.addresses_for(wanted, channel)
        self._address_cache.update({(member_id, channel): address for member_id, address in found.items()})

    async def _address(self, member_id: int, channel: str) -> str | None:
        """Addresses are cached for the worker's life (a fan-out asks for thousands); misses are not,
        so a member who links an account later is reachable at once."""
        key = (member_id, channel)
        cached = self._address_cache.get(key)
        if cached is not None:
            return cached
        if len(self._address_cache) > 50_000:
            self._address_cache.clear()
        found = await self._addresses.address_for(member_id, channel)
        if found is not None:
            self._address_cache[key] = found
        return found

    def _needs_marking(self, row: OutboxMessage) -> bool:
        """Whether to commit ``sending`` before the request: always, except for rows adopted from a
        fan-out (already ``sending``) whose lease still outlasts the request."""
        if row.status != SENDING or row.lease_until is None:
            return True
        return row.lease_until - utcnow() < timedelta(seconds=self.settings.send_timeout_s + 1)

    async def _retry(self, row: OutboxMessage, exc: BaseException, *, maybe_sent: bool = False) -> None:
        """Try again later. ``maybe_sent``: the request may have reached a platform that can settle a
        doubt (a timeout, a dropped connection, a 5xx), so the row goes back as ``sending`` and its
        next attempt checks (Twilio's list) or repeats its key (Discord) instead of sending blindly."""
        reason = f"{type(exc).__name__}: {exc}"[:300]
        wait = _retry_after(exc)
        if wait is not None:
            self._limiter.pause(row.channel, wait, sender=self.settings.sms_sender)
        if row.attempts >= self.settings.max_attempts:
            log.warning("delivery.dead", outbox_id=row.id, channel=row.channel, attempts=row.attempts)
            await self._finish(row, DEAD, f"gave up after {row.attempts} attempts: {reason}")
            return
        delay = (
            wait
            if wait is not None
            else backoff_delay(row.attempts, self.settings.backoff_base_s, self.settings.backoff_max_s)
        )
        self.stats.retried += 1
        log.info("delivery.retry", outbox_id=row.id, channel=row.channel, attempt=row.attempts, delay_s=round(delay, 2))
        again_at = utcnow() + timedelta(seconds=delay)
        retry = (
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id, OutboxMessage.lease_owner == self.owner)
            .values(
                status=SENDING if maybe_sent else PENDING,
                lease_owner=None,
                lease_until=again_at if maybe_sent else None,
                last_error=reason,
                next_attempt_at=again_at,
            )
        )
        await self._write(lambda session: session.execute(retry))

    async def _finish(self, row: OutboxMessage, status: str, reason: str) -> None:
        if status == DEAD:
            self.stats.dead += 1
        elif status == EXPIRED:
            self.stats.expired += 1
        done = (
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id, OutboxMessage.lease_owner == self.owner)
            .values(status=status, lease_owner=None, lease_until=None, last_error=reason[:300])
        )
        await self._write(lambda session: session.execute(done))

    async def _fallback(self, row: OutboxMessage, reason: str) -> None:
        """Retire this row and queue the notification on the member's next channel, atomically."""
        self.stats.refused += 1
        log.info("delivery.refused", outbox_id=row.id, channel=row.channel, reason=reason)

        async def work(session: AsyncSession) -> None:
            retired = await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id, OutboxMessage.lease_owner == self.owner)
                .values(
                    status=REFUSED if row.fallbacks else DEAD,
                    lease_owner=None,
                    lease_until=None,
                    last_error=(reason if row.fallbacks else f"refused on every channel; last: {reason}")[:300],
                )
            )
            if retired.rowcount == 1 and row.fallbacks:  # type: ignore[attr-defined]
                await self._insert_next(session, row)

        await self._write(work)
        if not row.fallbacks:
            self.stats.dead += 1
        if self._publish is not None:
            await self._publish(REFUSED_TOPIC, {"member_id": row.member_id, "channel": row.channel, "reason": reason})
        self.wake()  # the next channel's row is due now

    async def _insert_next(self, session: AsyncSession, row: OutboxMessage) -> None:
        next_channel, *rest = row.fallbacks
        values = {
            "key": key_for(row.group_key, next_channel),
            "group_key": row.group_key,
            "source": row.source,
            "member_id": row.member_id,
            "channel": next_channel,
            "fallbacks": rest,
            "payload": row.payload,
            "priority": row.priority,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": utcnow(),
            "expires_at": expiry(next_channel, utcnow(), self.settings.validity_s),
            "created_at": utcnow(),
        }
        insert = sqlite.insert if self._db.is_sqlite else postgresql.insert
        await session.execute(insert(OutboxMessage).values(**values).on_conflict_do_nothing(index_elements=["key"]))

    # ------------------------------------------------------------------ recording sends

    async def _on_the_wire(self, row: OutboxMessage) -> bool:
        """Commit ``sending`` for this row before its request goes out; False if we lost the lease."""
        return row.id in await self._marks.submit(row.id, SENDING)

    async def _record_sent(self, row: OutboxMessage) -> None:
        """Commit ``sent`` (batched). Until it is, the row counts as in doubt should we crash."""
        await self._marks.submit(row.id, SENT)

    async def _mark(self, batch: Mapping[str, list[int]]) -> dict[str, set[int]]:
        """Commit every state change of one tick in one transaction and one statement; each state
        gets back the ids this worker still held (a row whose lease another worker took is left
        alone). The statement is built once (``_MARKS``) and goes to the session's connection."""
        now = utcnow()
        wire = batch.get(SENDING, [])
        ids = wire + batch.get(SENT, [])
        params: dict[str, Any] = {"ids": ids, "owner": self.owner, "now": now}
        if wire:
            params["lease"] = now + timedelta(seconds=self.settings.on_wire_lease_s)
        if wire and len(wire) < len(ids):
            params["wire"] = wire
        statement = _MARKS["both" if "wire" in params else SENDING if wire else SENT]

        async def work(session: AsyncSession) -> dict[str, set[int]]:
            connection = await session.connection()
            kept = set((await connection.execute(statement, params)).scalars())
            return {status: kept.intersection(group) for status, group in batch.items()}

        return await self._write(work)


def _mark_statements() -> dict[str, Any]:
    """The three forms of a tick's write: all ``sending``, all ``sent``, or both (a CASE per column).
    ``sending``: the lease runs from the moment the request goes out, and ``sent_at`` records that
    moment until ``sent`` overwrites it (``_doubt`` reads it). ``sent``: the lease ends."""
    when = OutboxMessage.__table__.c.lease_until.type
    now, lease = bindparam("now", type_=when), bindparam("lease", type_=when)
    on_wire = OutboxMessage.id.in_(bindparam("wire", expanding=True))
    forms: dict[str, dict[str, Any]] = {
        SENT: {"status": SENT, "lease_owner": None, "lease_until": None},
        SENDING: {"status": SENDING, "lease_until": lease},
        "both": {
            "status": case((on_wire, SENDING), else_=SENT),
            "lease_owner": case((on_wire, OutboxMessage.lease_owner), else_=None),
            "lease_until": case((on_wire, lease), else_=None),
        },
    }
    mine = (OutboxMessage.id.in_(bindparam("ids", expanding=True)), OutboxMessage.lease_owner == bindparam("owner"))
    return {
        form: update(OutboxMessage).where(*mine).values(sent_at=now, **values).returning(OutboxMessage.id)
        for form, values in forms.items()
    }


_MARKS = _mark_statements()


class _Batcher:
    """Collects state changes (row id, new state) from concurrent sends and writes them in one
    transaction per tick, so a thousand sends a second cost a few dozen commits, not two thousand.
    A row goes ``sending`` before its request and ``sent`` after it, so the two changes of one row
    never share a tick."""

    def __init__(
        self, write: Callable[[Mapping[str, list[int]]], Awaitable[dict[str, set[int]]]], *, linger_s: float = 0.0
    ) -> None:
        self._write = write
        self._linger_s = linger_s
        self._pending: list[tuple[int, str, asyncio.Future[set[int]]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self, name: str) -> None:
        self._task = asyncio.create_task(self._run(), name=name)

    def kill(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._pending.clear()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def submit(self, row_id: int, status: str) -> set[int]:
        """Commit ``status`` for the row; the ids of its tick that this worker still held."""
        queued = self.queue(row_id, status)
        if queued is None:
            return (await self._write({status: [row_id]}))[status]
        return await queued

    def queue(self, row_id: int, status: str) -> asyncio.Future[set[int]] | None:
        """Queue ``status`` for the row without waiting: whatever is queued after it commits in the
        same transaction or a later one. None when the batcher is not running (use ``submit``)."""
        if self._task is None or self._task.done():
            return None
        future: asyncio.Future[set[int]] = asyncio.get_running_loop().create_future()
        self._pending.append((row_id, status, future))
        self._wake.set()
        return future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            if self._linger_s > 0:
                await asyncio.sleep(self._linger_s)  # let the changes of the next few sends join this tick
            self._wake.clear()
            batch, self._pending = self._pending, []
            if not batch:
                continue
            by_status: dict[str, list[int]] = {}
            for row_id, status, _ in batch:
                by_status.setdefault(status, []).append(row_id)
            try:
                kept = await self._write(by_status)
            except asyncio.CancelledError:
                for _, _, future in batch:
                    future.cancel()
                raise
            except Exception as exc:
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _, status, future in batch:
                if not future.done():
                    future.set_result(kept[status])
