"""Tables of the Cop Simulator.

- ``cop_drops``: one simulated drop, a member's practice run or an admins' group drop. Its ``status``
  (scheduled → open → closed, or cancelled) moves only by conditional UPDATEs, so when several
  processes share the database exactly one opens it, one closes it and one posts its results.
  ``remaining`` is the stock left; a winning checkout takes one in the same UPDATE that checks it.
- ``cop_entries``: one per member per drop (unique), walking the checkout steps
  (sized → carted → confirm → done, or void after too many wrong codes). ``position`` is a winner's
  place, unique per drop, so no two winners can share a pair.
- ``cop_tournaments``: one row per finished month once its prizes were looked at: paid, short
  (the treasury could not cover them; retried) or empty (nobody raced).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models import Base
from core.storage.types import utcnow

PRACTICE, GROUP = "practice", "group"
SCHEDULED, OPEN, CLOSED, CANCELLED = "scheduled", "open", "closed", "cancelled"
SIZED, CARTED, CONFIRM, DONE, VOID = "sized", "carted", "confirm", "done", "void"
#: outcomes of a finished entry: a practice run, a win, a valid checkout after the stock ran out,
#: a checkout after the drop closed, and too many wrong codes
PRACTICED, WON, SOLD_OUT, LATE, VOIDED = "practice", "won", "sold_out", "late", "void"
#: outcomes whose time counts on the leaderboard
TIMED = (PRACTICED, WON, SOLD_OUT)


class CopDrop(Base):
    __tablename__ = "cop_drops"
    __table_args__ = (
        Index("ix_cop_drops_due", "status", "opens_at"),
        CheckConstraint("kind IN ('practice', 'group')", name="kind"),
        CheckConstraint("status IN ('scheduled', 'open', 'closed', 'cancelled')", name="status"),
        CheckConstraint("remaining >= 0 AND remaining <= stock", name="stock"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(12), default=SCHEDULED)
    #: the pair as the catalog names it, and its catalog id when it came from there
    pair: Mapped[str] = mapped_column(String(300))
    catalog_id: Mapped[int | None] = mapped_column(Integer, default=None)
    #: the size run offered, as the buttons show it (``10``, ``5.5Y``)
    sizes: Mapped[list[str]] = mapped_column(JSON)
    stock: Mapped[int] = mapped_column(Integer)
    remaining: Mapped[int] = mapped_column(Integer)
    #: a practice drop's member, and the platform its drop message goes to
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), default=None, index=True)
    channel: Mapped[str | None] = mapped_column(String(16), default=None)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"), default=None)
    opens_at: Mapped[datetime] = mapped_column()
    closes_at: Mapped[datetime] = mapped_column()
    opened_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    #: a group drop's winners were paid and its results posted
    settled_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CopEntry(Base):
    __tablename__ = "cop_entries"
    __table_args__ = (
        UniqueConstraint("drop_id", "member_id", name="uq_cop_entries_drop_member"),
        UniqueConstraint("drop_id", "position", name="uq_cop_entries_drop_position"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    drop_id: Mapped[int] = mapped_column(ForeignKey("cop_drops.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    size: Mapped[str] = mapped_column(String(8))
    step: Mapped[str] = mapped_column(String(8), default=SIZED)
    code: Mapped[str | None] = mapped_column(String(8), default=None)
    wrong_codes: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    checkout_at: Mapped[datetime | None] = mapped_column(default=None)
    #: milliseconds from the drop message to the confirmed checkout, measured by the server
    elapsed_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    outcome: Mapped[str | None] = mapped_column(String(8), default=None)
    position: Mapped[int | None] = mapped_column(Integer, default=None)


class CopTournament(Base):
    __tablename__ = "cop_tournaments"

    #: ``2026-11``
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    status: Mapped[str] = mapped_column(String(8))
    #: places, members, wins, best times and prizes as they were paid
    standings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
