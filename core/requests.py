"""Platform requests handled once: a redelivered Telegram update, a retried Discord interaction or a
re-sent Twilio webhook gets the first answer back instead of running again.

Each request is claimed by its platform id (``telegram:812345``) before the handler runs, in its own
committed row, so two processes handed the same update can't both run it. The answer is stored when the
handler finishes; a handler that raised releases the claim, so the platform's retry may run it. A claim
whose process died mid-run is taken over after ``stale_after``. Money never relies on this alone: the
ledger's idempotency keys are built from the same id and are checked in the transfer's own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, String, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.database import Database
from core.storage.models import Base
from core.storage.types import utcnow

RUNNING, DONE = "running", "done"
#: a claim older than this belongs to a process that died; the next delivery may run the request
STALE_AFTER = timedelta(minutes=5)
#: platforms stop redelivering long before this; older rows are pruned
KEEP_FOR = timedelta(days=7)


class HandledRequest(Base):
    __tablename__ = "handled_requests"

    request_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


@dataclass(frozen=True)
class Claim:
    """``first`` when this process runs the request; otherwise ``answer`` is what the first run said
    (``None`` while it is still running)."""

    first: bool
    answer: dict[str, Any] | None = None


class RequestLog:
    def __init__(self, db: Database, *, stale_after: timedelta = STALE_AFTER) -> None:
        self._db = db
        self._stale_after = stale_after

    async def claim(self, request_id: str) -> Claim:
        try:
            async with self._db.transaction() as session:
                session.add(HandledRequest(request_id=request_id, status=RUNNING, claimed_at=utcnow()))
            return Claim(first=True)
        except IntegrityError:
            pass
        async with self._db.transaction() as session:
            row = await session.get(HandledRequest, request_id)
            if row is None:  # released between our insert and this read: the retry is ours
                session.add(HandledRequest(request_id=request_id, status=RUNNING, claimed_at=utcnow()))
                return Claim(first=True)
            if row.status == DONE:
                return Claim(first=False, answer=row.answer)
            now = utcnow()
            taken = await session.execute(
                update(HandledRequest)
                .where(
                    HandledRequest.request_id == request_id,
                    HandledRequest.status == RUNNING,
                    HandledRequest.claimed_at < now - self._stale_after,
                )
                .values(claimed_at=now)
            )
            return Claim(first=taken.rowcount == 1)  # type: ignore[attr-defined]

    async def finish(self, request_id: str, answer: dict[str, Any]) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(HandledRequest)
                .where(HandledRequest.request_id == request_id)
                .values(status=DONE, answer=answer)
            )

    async def release(self, request_id: str) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                delete(HandledRequest).where(
                    HandledRequest.request_id == request_id, HandledRequest.status == RUNNING
                )
            )

    async def answered(self, request_id: str) -> dict[str, Any] | None:
        async with self._db.read() as session:
            row = (
                await session.execute(
                    select(HandledRequest.answer).where(
                        HandledRequest.request_id == request_id, HandledRequest.status == DONE
                    )
                )
            ).first()
        return None if row is None else row[0]

    async def prune(self, keep_for: timedelta = KEEP_FOR) -> int:
        async with self._db.transaction() as session:
            gone = await session.execute(delete(HandledRequest).where(HandledRequest.claimed_at < utcnow() - keep_for))
        return int(gone.rowcount or 0)  # type: ignore[attr-defined]
