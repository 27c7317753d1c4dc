"""Writing to the outbox and reading it back: enqueue (idempotent), dead letters, retry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.delivery.models import CLAIMED, DEAD, EXPIRED, PENDING, SENDING, OutboxMessage
from core.replies import Reply
from core.storage.database import Database
from core.storage.models import table
from core.storage.types import utcnow

_OUTBOX = table(OutboxMessage)


@dataclass(frozen=True)
class NewMessage:
    """One notification for one member, to try on ``channels`` in order."""

    source: str
    ref: str
    member_id: int
    channels: Sequence[str]
    reply: Reply
    priority: int = 0
    not_before: datetime | None = None

    @property
    def group_key(self) -> str:
        return f"{self.source}:{self.ref}:{self.member_id}"


def key_for(group_key: str, channel: str) -> str:
    return f"{group_key}:{channel}"


def expiry(channel: str, start: datetime, validity_s: Mapping[str, float]) -> datetime | None:
    """When a message on ``channel`` stops being worth sending (SMS ValidityPeriod), if ever."""
    seconds = validity_s.get(channel)
    return None if seconds is None else start + timedelta(seconds=seconds)


def _row(message: NewMessage, now: datetime, validity_s: Mapping[str, float]) -> dict[str, Any]:
    first, *rest = message.channels
    start = message.not_before or now
    return {
        "key": key_for(message.group_key, first),
        "group_key": message.group_key,
        "source": message.source,
        "member_id": message.member_id,
        "channel": first,
        "fallbacks": list(rest),
        "payload": message.reply.model_dump(mode="json", exclude_defaults=True),
        "priority": message.priority,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": start,
        "expires_at": expiry(first, start, validity_s),
        "created_at": now,
    }


async def enqueue_claimed(
    session: AsyncSession,
    messages: Sequence[NewMessage],
    *,
    owner: str,
    lease_s: float,
    validity_s: Mapping[str, float] | None = None,
    fresh: bool = False,
) -> list[OutboxMessage]:
    """Insert messages already on their way out through worker ``owner`` and return the rows, for
    ``DeliveryWorker.adopt``: they are written as ``sending`` so the first alerts of a fan-out need
    no further database write before their request. A crash before they go leaves these few rows in
    doubt, like any row on the wire. Keys already present are skipped, as in ``enqueue``; ``fresh``
    (a first fan-out of a new event) says none can be."""
    now = utcnow()
    rows = [_row(message, now, validity_s or {}) for message in messages if message.channels]
    if not rows:
        return []
    taken: set[str] = set()
    if not fresh:
        keys = [r["key"] for r in rows]
        taken = set((await session.execute(select(OutboxMessage.key).where(OutboxMessage.key.in_(keys)))).scalars())
    lease_until = now + timedelta(seconds=lease_s)
    sending = [
        {**row, "status": SENDING, "lease_owner": owner, "lease_until": lease_until, "attempts": 1}
        for row in rows
        if row["key"] not in taken and row["next_attempt_at"] <= now
    ]
    later = [row for row in rows if row["key"] not in taken and row["next_attempt_at"] > now]
    claimed: list[OutboxMessage] = []
    if sending:  # one Core INSERT ... RETURNING for all of them, without the ORM's per-row bookkeeping
        inserted = await session.execute(insert(_OUTBOX).returning(_OUTBOX.c.key, _OUTBOX.c.id), sending)
        ids: dict[str, int] = {key: row_id for key, row_id in inserted}
        claimed = [OutboxMessage(**row, id=ids[row["key"]]) for row in sending]
    if later:
        await enqueue_rows(session, later)
    return claimed


async def enqueue(
    session: AsyncSession, messages: Sequence[NewMessage], *, validity_s: Mapping[str, float] | None = None
) -> None:
    """Insert messages, skipping any whose key is already there. ``validity_s`` gives channels whose
    messages expire that many seconds after they become due (SMS).

    Runs inside the caller's transaction, so the notification is stored with whatever else decided
    it (the alert's dedupe row) or not at all.
    """
    now = utcnow()
    await enqueue_rows(session, [_row(message, now, validity_s or {}) for message in messages if message.channels])


async def enqueue_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(upsert(_OUTBOX).on_conflict_do_nothing(index_elements=["key"]), rows)


async def dead_letters(db: Database, *, limit: int = 20) -> list[OutboxMessage]:
    async with db.read() as session:
        rows = await session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.status.in_((DEAD, EXPIRED)))
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
        return list(rows.scalars())


async def retry_dead(db: Database, ids: Sequence[int] | None = None) -> int:
    """Put dead letters back in the queue with fresh attempts (``ids=None``: all of them)."""
    async with db.transaction() as session:
        query = update(OutboxMessage).where(OutboxMessage.status.in_((DEAD, EXPIRED)))
        if ids is not None:
            query = query.where(OutboxMessage.id.in_(list(ids)))
        result = await session.execute(
            query.values(status=PENDING, attempts=0, next_attempt_at=utcnow(), expires_at=None, lease_owner=None)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


async def counts(db: Database) -> dict[str, int]:
    async with db.read() as session:
        rows = await session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        return {status: int(n) for status, n in rows.all()}


async def in_flight(db: Database) -> int:
    async with db.read() as session:
        result = await session.execute(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status.in_((PENDING, CLAIMED, SENDING)))
        )
        return int(result.scalar_one())
