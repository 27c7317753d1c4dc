"""Core tables: members, their platform identities, link codes and feed bindings.

Feature slices declare their own tables on the same ``Base`` so one Alembic history covers all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, MetaData, String, Table, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.storage.types import UtcDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

DEFAULT_CHANNEL_ORDER = ["discord", "telegram", "sms"]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime()}


def table(model: type[Base]) -> Table:
    """A model's Core table, typed as one (``__table__`` is declared as a plain ``FromClause``).
    Bulk writes on a hot path go through it: a Core insert skips the ORM's per-row bookkeeping."""
    return cast(Table, model.__table__)


class Member(Base):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    display_name: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    dm_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    sms_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    channel_order: Mapped[list[str]] = mapped_column(JSON, default=lambda: list(DEFAULT_CHANNEL_ORDER))
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    #: set when /link folded this account into another; the row stays so history keeps its author
    merged_into: Mapped[int | None] = mapped_column(ForeignKey("members.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Identity(Base):
    """One platform account (Discord user, Telegram user, phone number) owned by a member."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    #: the platform's user id; for phone numbers a keyed hash, so the number is never stored in clear
    external_id: Mapped[str] = mapped_column(String(128))
    handle: Mapped[str] = mapped_column(String(100), default="")
    #: Fernet-encrypted address (phone numbers only)
    secret_address: Mapped[str | None] = mapped_column(String(512), default=None, info={"encrypted": True})
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)


class LinkCode(Base):
    __tablename__ = "link_codes"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    platform: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class FeedBinding(Base):
    __tablename__ = "feed_bindings"
    __table_args__ = (UniqueConstraint("feed", "target_key"), Index("ix_feed_bindings_feed", "feed"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(16))
    target_key: Mapped[str] = mapped_column(String(200))
    target: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


__all__ = ["Base", "FeedBinding", "Identity", "LinkCode", "Member"]
