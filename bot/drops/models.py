"""The drop calendar's tables: drops, proposals waiting for a mod, members' reminders and prep
checklists, the reminder fan-outs already planned, and calendar feed tokens.

Other slices (the Cop Simulator) may read ``Drop``; they write through the ``Drops`` service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models import Base
from core.storage.types import utcnow

#: drop states
CONFIRMED = "confirmed"
CANCELLED = "cancelled"
#: release methods per retailer
METHODS = ("fcfs", "raffle", "app")
METHOD_LABELS = {"fcfs": "first come, first served", "raffle": "raffle", "app": "app exclusive"}


class Drop(Base):
    """A release on the calendar. ``retailers`` is a list of ``{"name", "method", "url",
    "deadline"}`` (URL and ISO deadline for raffles, else None)."""

    __tablename__ = "drops"
    __table_args__ = (Index("ix_drops_release", "status", "release_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: the catalog product (no foreign key: the market slice owns that table and may re-import it)
    catalog_id: Mapped[int | None] = mapped_column(Integer, default=None)
    #: the pair's name as the catalog has it (kept if the catalog row goes)
    name: Mapped[str] = mapped_column(String(300))
    brand: Mapped[str] = mapped_column(String(64), default="")
    release_at: Mapped[datetime] = mapped_column()
    #: the IANA zone the release was announced in (the .ics TZID)
    timezone: Mapped[str] = mapped_column(String(64))
    retailers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    retail_price: Mapped[float | None] = mapped_column(Float, default=None)
    notes: Mapped[str] = mapped_column(String(1000), default="")
    status: Mapped[str] = mapped_column(String(16), default=CONFIRMED)
    #: RFC 5545 SEQUENCE: raised on every change members can see
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DropProposal(Base):
    """A release date found by the catalog import or a monitor, waiting for a mod's yes or no."""

    __tablename__ = "drop_proposals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: ``catalog:<id>`` or ``monitor:<monitor>:<product>``: the same find is proposed once
    source_key: Mapped[str] = mapped_column(String(200), unique=True)
    #: the catalog product (no foreign key: the market slice owns that table and may re-import it)
    catalog_id: Mapped[int | None] = mapped_column(Integer, default=None)
    name: Mapped[str] = mapped_column(String(300))
    brand: Mapped[str] = mapped_column(String(64), default="")
    release_at: Mapped[datetime] = mapped_column()
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    retail_price: Mapped[float | None] = mapped_column(Float, default=None)
    url: Mapped[str | None] = mapped_column(String(500), default=None)
    #: ``pending``, ``confirmed`` or ``rejected``
    status: Mapped[str] = mapped_column(String(16), default="pending")
    drop_id: Mapped[int | None] = mapped_column(ForeignKey("drops.id", ondelete="SET NULL"), default=None)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DropReminder(Base):
    """One member's reminders for one drop: the offsets before release, in seconds."""

    __tablename__ = "drop_reminders"
    __table_args__ = (UniqueConstraint("drop_id", "member_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    drop_id: Mapped[int] = mapped_column(ForeignKey("drops.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    offsets: Mapped[list[int]] = mapped_column(JSON, default=list)
    #: the member chose it: may use SMS and ignores their quiet hours
    high_priority: Mapped[bool] = mapped_column(Boolean, default=False)
    #: prep checklist items ticked (``size``, ``account``, ``payment``, ``raffles``)
    ticked: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DropFanout(Base):
    """One reminder wave (a drop, an offset, the release it was planned for) written to the outbox:
    a planner tick or a restart finds it and writes nothing twice."""

    __tablename__ = "drop_fanouts"
    __table_args__ = (UniqueConstraint("drop_id", "offset_s", "release_unix"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    drop_id: Mapped[int] = mapped_column(ForeignKey("drops.id", ondelete="CASCADE"), index=True)
    offset_s: Mapped[int] = mapped_column(Integer)
    release_unix: Mapped[int] = mapped_column(Integer)
    members: Mapped[int] = mapped_column(Integer, default=0)
    #: when the first rows may leave (the fan-out's start, so the last lands by the due time)
    starts_at: Mapped[datetime] = mapped_column()
    planned_at: Mapped[datetime] = mapped_column(default=utcnow)


class CalendarToken(Base):
    """A member's .ics subscription: only the SHA-256 of the token in the URL is stored."""

    __tablename__ = "drop_calendar_tokens"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


__all__ = [
    "CANCELLED",
    "CONFIRMED",
    "METHODS",
    "METHOD_LABELS",
    "CalendarToken",
    "Drop",
    "DropFanout",
    "DropProposal",
    "DropReminder",
]
