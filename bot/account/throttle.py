"""Fixed-window counters in the database, shared by every process of the bot.

Each counter is one ``account_throttles`` row. Taking a slot is a conditional
``UPDATE ... SET count = count + 1 WHERE count < limit RETURNING count``: the row lock makes
concurrent takers queue on PostgreSQL and SQLite serialises writers, so forty requests at once
can never get more than ``limit`` slots between them (a read-then-write could).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.account.models import Throttle


class Throttled(Exception):
    """The counter is full until ``retry_at``."""

    def __init__(self, retry_at: datetime, now: datetime) -> None:
        super().__init__(f"throttled until {retry_at.isoformat()}")
        self.retry_at = retry_at
        self.minutes = max(1, math.ceil((retry_at - now).total_seconds() / 60))


@dataclass(frozen=True)
class Limit:
    """At most ``limit`` takes per ``window_s`` seconds for each subject of ``kind``."""

    kind: str
    limit: int
    window_s: float

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.window_s)

    def key(self, subject: str) -> str:
        return f"{self.kind}:{subject}"[:120]

    async def take(self, session: AsyncSession, subject: str, now: datetime) -> int:
        """Count one more for ``subject`` and return the new count; raise ``Throttled`` if full."""
        key = self.key(subject)
        await _ensure_row(session, key, now)
        await session.execute(
            update(Throttle)
            .where(Throttle.key == key, Throttle.window_start <= now - self.window)
            .values(count=0, window_start=now)
        )
        taken = await session.execute(
            update(Throttle)
            .where(Throttle.key == key, Throttle.count < self.limit)
            .values(count=Throttle.count + 1)
            .returning(Throttle.count)
        )
        count = taken.scalar_one_or_none()
        if count is None:
            raise Throttled(await self._retry_at(session, key), now)
        return count

    async def give_back(self, session: AsyncSession, subject: str) -> None:
        """Undo a take whose attempt turned out not to count (a right /link code)."""
        await session.execute(
            update(Throttle)
            .where(Throttle.key == self.key(subject), Throttle.count > 0)
            .values(count=Throttle.count - 1)
        )

    async def lock(self, session: AsyncSession, subject: str, now: datetime) -> None:
        """The counter just filled: keep it full for a whole window from now (a lockout)."""
        await session.execute(update(Throttle).where(Throttle.key == self.key(subject)).values(window_start=now))

    async def check(self, session: AsyncSession, subject: str, now: datetime) -> None:
        """Raise ``Throttled`` if a take now would be refused, without taking."""
        row = await session.get(Throttle, self.key(subject))
        if row is not None and row.count >= self.limit and row.window_start > now - self.window:
            raise Throttled(row.window_start + self.window, now)

    async def _retry_at(self, session: AsyncSession, key: str) -> datetime:
        start = (await session.execute(select(Throttle.window_start).where(Throttle.key == key))).scalar_one()
        return start + self.window


async def _ensure_row(session: AsyncSession, key: str, now: datetime) -> None:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(Throttle).values(key=key, count=0, window_start=now).on_conflict_do_nothing(index_elements=["key"])
    )
