"""Where a guided, step-by-step command stands for one user in one chat.

Chat frontends that walk a member through a command (Telegram asks one field per message) keep the
answers here, in the database, and not in process memory: SNPD may run several processes, and one
may restart mid-conversation, so whichever process gets the next message must be able to continue.

A conversation is keyed by platform, chat and user, and expires ``ttl`` after its last change. Every
change bumps ``version``; writers pass the version they read, so two updates racing on the same step
(a double tap on a button, two processes) can't both apply, and only one of them may save.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import JSON, Boolean, Integer, String, and_, delete, not_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from core.storage.database import Database
from core.storage.models import Base
from core.storage.types import utcnow

DEFAULT_TTL = timedelta(minutes=10)


class ConversationRow(Base):
    __tablename__ = "conversations"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: the command being filled in, e.g. ``alerts add``
    command: Mapped[str] = mapped_column(String(64))
    #: index into the command's guide steps; ``len(steps)`` means "confirm and save"
    step: Mapped[int] = mapped_column(Integer)
    #: raw answers by parameter name, exactly as the member gave them
    answers: Mapped[dict[str, str]] = mapped_column(JSON)
    #: the member is re-answering one step that the command refused; the next answer goes back to
    #: the summary instead of walking through every later step again
    fixing: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column()


@dataclass(frozen=True)
class ConversationKey:
    platform: str
    chat_id: str
    user_id: str

    def where(self) -> tuple[ColumnElement[bool], ...]:
        return (
            ConversationRow.platform == self.platform,
            ConversationRow.chat_id == self.chat_id,
            ConversationRow.user_id == self.user_id,
        )


@dataclass(frozen=True)
class Conversation:
    """A snapshot of one conversation, as read; pass ``version`` back when changing it."""

    key: ConversationKey
    command: str
    step: int
    answers: dict[str, str] = field(default_factory=dict)
    fixing: bool = False
    version: int = 0
    expires_at: datetime = field(default_factory=utcnow)

    @property
    def expired(self) -> bool:
        return self.expires_at <= utcnow()


class ConversationStore:
    def __init__(self, db: Database, *, ttl: timedelta = DEFAULT_TTL) -> None:
        self.db = db
        self.ttl = ttl

    async def start(
        self,
        key: ConversationKey,
        command: str,
        *,
        step: int = 0,
        answers: Mapping[str, str] | None = None,
        fixing: bool = False,
    ) -> Conversation:
        """Begin (or begin again) a conversation, replacing any this user had in this chat.

        Also clears every other expired conversation, so abandoned ones never pile up. This user's
        own row is replaced rather than deleted, so its version keeps counting up and a button left
        over from an earlier conversation can never act on this one.
        """
        now = utcnow()
        values: dict[str, object] = {
            "command": command,
            "step": step,
            "answers": dict(answers or {}),
            "fixing": fixing,
            "expires_at": now + self.ttl,
        }

        async def work(session: AsyncSession) -> int:
            await session.execute(
                delete(ConversationRow).where(ConversationRow.expires_at <= now, not_(and_(*key.where())))
            )
            return await _upsert(session, key, values)

        version = await self.db.run(work)
        return Conversation(key, command, step, dict(answers or {}), fixing, version, now + self.ttl)

    async def get(self, key: ConversationKey) -> Conversation | None:
        """The conversation, even an expired one (so the frontend can say it timed out)."""
        async with self.db.read() as session:
            row = await session.get(ConversationRow, (key.platform, key.chat_id, key.user_id))
            if row is None:
                return None
            return Conversation(
                key, row.command, row.step, dict(row.answers), row.fixing, row.version, row.expires_at
            )

    async def advance(
        self, seen: Conversation, *, step: int, answers: Mapping[str, str]
    ) -> Conversation | None:
        """Move to ``step`` with ``answers`` if nobody changed the conversation since ``seen`` was read.
        Any move ends a fix (see ``ConversationRow.fixing``).

        Returns the new snapshot, or None if another update got there first (read again and retry).
        """
        expires = utcnow() + self.ttl
        stored = dict(answers)

        async def work(session: AsyncSession) -> int:
            changed = await session.execute(
                update(ConversationRow)
                .where(*seen.key.where(), ConversationRow.version == seen.version)
                .values(step=step, answers=stored, fixing=False, version=seen.version + 1, expires_at=expires)
            )
            return int(getattr(changed, "rowcount", 0) or 0)

        if not await self.db.run(work):
            return None
        return Conversation(seen.key, seen.command, step, stored, False, seen.version + 1, expires)

    async def claim(self, seen: Conversation) -> bool:
        """End the conversation if it is still as ``seen``; only the caller that gets True may act on
        it (save, cancel), so a double-pressed Save stores one rule, not two."""
        return await self._delete(seen.key, seen.version)

    async def cancel(self, key: ConversationKey) -> bool:
        """End the conversation whatever its state; False if there was none."""
        return await self._delete(key, None)

    async def _delete(self, key: ConversationKey, version: int | None) -> bool:
        async def work(session: AsyncSession) -> int:
            query = delete(ConversationRow).where(*key.where())
            if version is not None:
                query = query.where(ConversationRow.version == version)
            return int(getattr(await session.execute(query), "rowcount", 0) or 0)

        return bool(await self.db.run(work))


async def _upsert(session: AsyncSession, key: ConversationKey, values: dict[str, object]) -> int:
    """Insert or replace the row and return its new version (replacing bumps it, so stale buttons
    from an earlier run of the same conversation can't act on the new one). A new row starts at a
    random version: the row of an ended conversation is deleted, and buttons it left behind must not
    match the next one."""
    first = secrets.randbelow(2**30) + 1
    identity = {"platform": key.platform, "chat_id": key.chat_id, "user_id": key.user_id}
    bumped = {**values, "version": ConversationRow.version + 1}
    columns = ["platform", "chat_id", "user_id"]
    if session.get_bind().dialect.name == "postgresql":
        pg = postgresql.insert(ConversationRow).values(**identity, **values, version=first)
        pg_upsert = pg.on_conflict_do_update(index_elements=columns, set_=bumped)
        result = await session.execute(pg_upsert.returning(ConversationRow.version))
    else:
        lite = sqlite.insert(ConversationRow).values(**identity, **values, version=first)
        lite_upsert = lite.on_conflict_do_update(index_elements=columns, set_=bumped)
        result = await session.execute(lite_upsert.returning(ConversationRow.version))
    return int(result.scalar_one())


__all__ = ["DEFAULT_TTL", "Conversation", "ConversationKey", "ConversationRow", "ConversationStore"]
