"""core.delivery: limiters on a fake clock, and the worker's retries, fallback, dead letters and
crash recovery on both databases. The frontend here is a stand-in at the network edge (the
``Frontend`` protocol); the end-to-end tests drive the real frontends against the local servers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from core.delivery import (
    DeliveryLimiter,
    DeliveryWorker,
    NewMessage,
    PlatformLimits,
    TokenBucket,
    WorkerSettings,
    enqueue,
    retry_dead,
)
from core.delivery.limits import SlidingWindow
from core.delivery.models import CLAIMED, DEAD, EXPIRED, REFUSED, SENDING, SENT, OutboxMessage
from core.delivery.worker import backoff_delay
from core.frontend import DeliveryRefused
from core.replies import Reply
from core.storage.database import Database
from core.storage.models import Identity, Member
from core.storage.types import utcnow


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_spaces_sends_and_allows_its_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock)
    waits = [bucket.reserve() for _ in range(5)]
    assert waits == [0.0, 0.0, 0.0, 0.5, 1.0]
    clock.now += 10
    assert bucket.reserve() == 0.0
    bucket.pause(4.0)
    assert bucket.reserve() == pytest.approx(4.0)


def test_limiter_enforces_global_and_per_chat_limits_with_scale() -> None:
    clock = Clock()
    limiter = DeliveryLimiter(PlatformLimits(scale=10.0), clock=clock)
    # Telegram: 30/s × 10 overall (with 5% headroom); 1/s × 10 per private chat
    distinct = [limiter.reserve("telegram", str(1000 + i)) for i in range(600)]
    assert distinct[-1] == pytest.approx(599 / 285, rel=1e-6)
    same_chat = [limiter.reserve("telegram", "42") for _ in range(3)]
    assert same_chat[1] - same_chat[0] >= 0.1 - 1e-9
    # groups: 20 per minute × 10
    group = [limiter.reserve("telegram", "-100123") for _ in range(3)]
    assert group[2] - group[1] == pytest.approx(60 / 200, rel=1e-6)
    # Discord: 50 × 0.95 × 10 per second overall, bursts of 5 per channel
    clock.now += 100
    discord = [limiter.reserve("discord", str(i)) for i in range(950)]
    assert discord[-1] == pytest.approx(949 / 475, rel=1e-6)
    clock.now += 100
    channel = [limiter.reserve("discord", "7") for _ in range(7)]
    assert channel[4] < 0.1 and channel[5] >= 0.1 - 1e-9
    # SMS: per sending number
    sms = [limiter.reserve("sms", "+1555", sender="+1000") for _ in range(3)]
    assert sms == pytest.approx([0.0, 1 / 9.5, 2 / 9.5])
    assert limiter.reserve("sms", "+1555", sender="+2000") == 0.0


def test_sliding_window_holds_each_place_until_a_second_after_the_answer() -> None:
    clock = Clock()
    window = SlidingWindow(limit=2, seconds=1.0, clock=clock)
    assert window.wait_time() == 0.0
    window.take()
    clock.now += 0.1
    window.take()
    assert window.wait_time() is None, "both places wait for answers: nobody knows when they free"
    clock.now += 0.3
    window.answered()  # the first answer, 0.4 s after its request left
    assert window.wait_time() == pytest.approx(1.0)
    clock.now += 0.2
    window.answered()
    clock.now += 0.8
    assert window.wait_time() == pytest.approx(0.0, abs=1e-9)
    window.take()
    assert window.wait_time() == pytest.approx(0.2)


async def test_limiter_request_waits_for_a_place_and_gives_it_back() -> None:
    limiter = DeliveryLimiter(PlatformLimits(sms_per_number_per_s=1.0, scale=20.0))  # 20 per second
    started = asyncio.get_running_loop().time()
    for _ in range(25):
        async with limiter.request("sms", sender="+1000"):
            pass
    assert asyncio.get_running_loop().time() - started >= 1.0, "the 21st request waited for a free place"
    async with limiter.request("shell"):  # no window: nothing to wait for
        pass


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    delays = [backoff_delay(attempt, 2.0, 60.0) for attempt in range(1, 10)]
    assert 1.0 <= delays[0] <= 2.0
    assert 8.0 <= delays[3] <= 16.0
    assert all(30.0 <= d <= 60.0 for d in delays[5:])


# ---------------------------------------------------------------------------- worker


class EdgeFrontend:
    """Answers each send from a script of outcomes per address (None: delivered)."""

    def __init__(self, name: str, script: dict[str, list[BaseException | None]] | None = None) -> None:
        self.name = name
        self.script = script or {}
        self.delivered: list[tuple[str, str]] = []
        self.attempts = 0

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def post(self, target: object, item: Reply) -> None: ...

    async def send_direct(self, external_id: str, reply: Reply, *, idempotency_key: str | None = None) -> None:
        self.attempts += 1
        outcomes = self.script.get(external_id)
        outcome = outcomes.pop(0) if outcomes else None
        if outcome is not None:
            raise outcome
        self.delivered.append((external_id, reply.title or ""))


class Addresses:
    def __init__(self, table: dict[tuple[int, str], str]) -> None:
        self.table = table

    async def address_for(self, member_id: int, platform: str) -> str | None:
        return self.table.get((member_id, platform))


async def _members(db: Database, count: int) -> list[int]:
    async with db.transaction() as session:
        members = [Member(display_name=f"m{i}", timezone="UTC") for i in range(count)]
        session.add_all(members)
        await session.flush()
        for member in members:
            session.add(Identity(member_id=member.id, platform="discord", external_id=f"d{member.id}"))
        return [member.id for member in members]


def _worker(
    db: Database,
    frontends: dict[str, EdgeFrontend],
    ids: Sequence[int],
    limiter: DeliveryLimiter | None = None,
    **settings: object,
) -> DeliveryWorker:
    table = {(mid, ch): f"{ch[0]}{mid}" for mid in ids for ch in ("discord", "telegram", "sms")}
    base = {"backoff_base_s": 0.01, "backoff_max_s": 0.02, "max_attempts": 3, "lease_s": 0.3}
    base.update(settings)
    limiter = limiter or DeliveryLimiter(PlatformLimits(scale=100.0))
    return DeliveryWorker(db, frontends, Addresses(table), limiter, WorkerSettings(**base))  # type: ignore[arg-type]


async def _rows(db: Database) -> list[OutboxMessage]:
    async with db.read() as session:
        return list((await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())


def _message(member_id: int, channels: Sequence[str] = ("discord",), ref: str = "e1") -> NewMessage:
    return NewMessage(source="test", ref=ref, member_id=member_id, channels=channels, reply=Reply(title=f"hi {ref}"))


async def _settle(worker: DeliveryWorker, rounds: int = 40) -> None:
    for _ in range(rounds):
        await worker.run_until_idle()
        await asyncio.sleep(0.02)


async def test_enqueue_is_idempotent_per_event_member_channel(database: Database) -> None:
    (member,) = await _members(database, 1)
    for _ in range(2):
        async with database.transaction() as session:
            await enqueue(session, [_message(member), _message(member)])
    rows = await _rows(database)
    assert [row.key for row in rows] == [f"test:e1:{member}:discord"]


async def test_transient_failures_retry_then_deliver(database: Database) -> None:
    (member,) = await _members(database, 1)
    discord = EdgeFrontend("discord", {f"d{member}": [ConnectionError("reset"), TimeoutError()]})
    worker = _worker(database, {"discord": discord}, [member])
    async with database.transaction() as session:
        await enqueue(session, [_message(member)])
    await _settle(worker)
    (row,) = await _rows(database)
    assert row.status == SENT and row.attempts == 3 and row.sent_at is not None
    assert discord.delivered == [(f"d{member}", "hi e1")]


async def test_exhausted_retries_dead_letter_with_reason_and_can_be_retried(database: Database) -> None:
    (member,) = await _members(database, 1)
    discord = EdgeFrontend("discord", {f"d{member}": [RuntimeError("HTTP 503")] * 3})
    worker = _worker(database, {"discord": discord}, [member])
    async with database.transaction() as session:
        await enqueue(session, [_message(member)])
    await _settle(worker)
    (row,) = await _rows(database)
    assert row.status == DEAD and row.attempts == 3
    assert row.last_error is not None and "gave up after 3 attempts" in row.last_error and "HTTP 503" in row.last_error
    assert await retry_dead(database) == 1
    await _settle(worker)
    (row,) = await _rows(database)
    assert row.status == SENT and discord.delivered


async def test_permanent_refusal_falls_back_to_the_next_channel(database: Database) -> None:
    a, b = await _members(database, 2)
    discord = EdgeFrontend("discord", {f"d{a}": [DeliveryRefused("discord", "50007 DMs closed")]})
    telegram = EdgeFrontend("telegram", {f"t{b}": [DeliveryRefused("telegram", "403 blocked")]})
    sms = EdgeFrontend("sms", {f"s{b}": [DeliveryRefused("sms", "21610 unsubscribed")]})
    worker = _worker(database, {"discord": discord, "telegram": telegram, "sms": sms}, [a, b], validity_s={"sms": 60})
    async with database.transaction() as session:
        await enqueue(session, [_message(a, ("discord", "telegram")), _message(b, ("telegram", "sms"))])
    await _settle(worker)
    rows = {(row.member_id, row.channel): row for row in await _rows(database)}
    assert rows[(a, "discord")].status == REFUSED and rows[(a, "telegram")].status == SENT
    assert telegram.delivered == [(f"t{a}", "hi e1")] and not discord.delivered
    assert rows[(b, "telegram")].status == REFUSED
    last = rows[(b, "sms")]
    assert last.status == DEAD and last.last_error is not None and "refused on every channel" in last.last_error
    assert last.expires_at is not None, "SMS rows carry a validity period"


async def test_stale_messages_expire_instead_of_arriving_late(database: Database) -> None:
    (member,) = await _members(database, 1)
    sms = EdgeFrontend("sms")
    worker = _worker(database, {"sms": sms}, [member])
    async with database.transaction() as session:
        await enqueue(session, [_message(member, ("sms",))], validity_s={"sms": 60})
        row = (await session.execute(select(OutboxMessage))).scalar_one()
        row.expires_at = utcnow() - timedelta(seconds=1)
    await _settle(worker, rounds=2)
    (row,) = await _rows(database)
    assert row.status == EXPIRED and not sms.delivered


class HangingFrontend(EdgeFrontend):
    """Holds every request open, like a server that is slow to answer."""

    async def send_direct(self, external_id: str, reply: Reply, *, idempotency_key: str | None = None) -> None:
        self.attempts += 1
        await asyncio.sleep(3600)


async def test_a_killed_worker_leaves_only_on_the_wire_rows_in_doubt(database: Database) -> None:
    ids = await _members(database, 30)
    async with database.transaction() as session:
        await enqueue(session, [_message(mid) for mid in ids])
    slow = HangingFrontend("discord")
    slow_limits = DeliveryLimiter(PlatformLimits(scale=0.2))  # ~10/s: most rows wait for a slot
    first = _worker(database, {"discord": slow}, ids, slow_limits, max_in_flight=30, lease_s=0.2, send_timeout_s=1.0)
    await first.start()
    await asyncio.sleep(0.35)
    first.kill()
    await asyncio.sleep(0.05)  # a commit already under way finishes, as one the database had begun would
    states = [row.status for row in await _rows(database)]
    on_wire = states.count(SENDING)
    # on the wire: handed to the frontend, or marked so just before the kill; never more than the slots
    assert 0 < slow.attempts <= on_wire <= first.settings.send_concurrency
    assert states.count(CLAIMED) > 0, "rows waiting for a rate-limit slot are claimed, not on the wire"
    assert states.count(CLAIMED) + states.count("pending") == 30 - on_wire
    await asyncio.sleep(1.3)  # the dead worker's leases run out (on the wire: lease_s + send_timeout_s)
    fresh = EdgeFrontend("discord")
    second = _worker(database, {"discord": fresh}, ids, resend_in_doubt=False)
    await _settle(second, rounds=5)
    rows = await _rows(database)
    assert second.stats.in_doubt == on_wire
    assert {row.status for row in rows if row.status != SENT} <= {DEAD}
    assert sum(row.status == SENT for row in rows) == 30 - on_wire
    assert len(fresh.delivered) == len({address for address, _ in fresh.delivered}) == 30 - on_wire
    doubtful = [row for row in rows if row.status == DEAD]
    assert all(row.last_error and row.last_error.startswith("in doubt") for row in doubtful)


async def test_the_state_changes_of_nearby_sends_share_one_commit(database: Database) -> None:
    """``mark_linger_s``: each send still commits ``sending`` before its request and ``sent`` after it,
    but sends a few milliseconds apart share their commits instead of taking two each."""
    ids = await _members(database, 40)
    async with database.transaction() as session:
        await enqueue(session, [_message(mid) for mid in ids])
    marks: list[str] = []

    def count_marks(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().startswith("UPDATE outbox") and "sent_at" in statement:
            marks.append(statement)

    paced = DeliveryLimiter(PlatformLimits(scale=2.0))  # ~95 sends/s: about 10 ms apart
    discord = EdgeFrontend("discord")
    worker = _worker(database, {"discord": discord}, ids, paced, max_in_flight=40, mark_linger_s=0.05)
    event.listen(database.engine.sync_engine, "before_cursor_execute", count_marks)
    await worker.start()
    try:
        for _ in range(200):
            rows = await _rows(database)
            if all(row.status == SENT for row in rows):
                break
            await asyncio.sleep(0.05)
    finally:
        await worker.stop()
        event.remove(database.engine.sync_engine, "before_cursor_execute", count_marks)
    assert [row.status for row in rows] == [SENT] * 40
    assert len(discord.delivered) == 40
    assert len(marks) <= 80 // 3, f"{len(marks)} commits for 80 state changes"
