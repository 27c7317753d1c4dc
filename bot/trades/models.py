"""Tables of the trades slice.

- ``trade_haves`` / ``trade_wants``: listings. A have names one catalog pair in one size and
  condition; with a price it is for sale (shown, never matched), without one it is for trade. Its
  ``accepts`` (catalog id and size pairs) overrides its owner's wants for what they'd take for it.
- ``trade_prefs`` / ``trade_blocks``: who a member will trade with (a minimum reputation, blocks).
- ``trade_proposals``: one per cycle the matcher found; it becomes the trade once everyone accepts.
  ``trade_parties`` holds each member's answer, ``trade_legs`` each item moving (giver → receiver)
  and its sent/received marks.
- ``trade_exclusions``: an item a member declined or let expire, kept out of later solves.
- ``trade_reviews``: one per reviewer and trade; ``trade_events``: the trade's history for mods.
- ``trade_solver``: one row: a change counter and the lease that lets one process solve at a time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models import Base
from core.storage.types import utcnow

OPEN, TRADED, REMOVED = "open", "traded", "removed"
PENDING, ACCEPTED, DECLINED = "pending", "accepted", "declined"
#: proposal states; the first three are "live": their haves are not offered again
PROPOSED, TRADING, DISPUTED = "proposed", "trading", "disputed"
COMPLETED, REFUSED, EXPIRED, VOID, CANCELLED = "completed", "declined", "expired", "void", "cancelled"
LIVE = (PROPOSED, TRADING, DISPUTED)


class TradeHave(Base):
    __tablename__ = "trade_haves"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    catalog_id: Mapped[int] = mapped_column(Integer, index=True)
    item_name: Mapped[str] = mapped_column(String(300))
    #: as the member typed it, and its canonical key (bot.alerts.sizes)
    size: Mapped[str] = mapped_column(String(16))
    size_key: Mapped[str] = mapped_column(String(16))
    condition: Mapped[str] = mapped_column(String(8))
    note: Mapped[str] = mapped_column(String(200), default="")
    price: Mapped[float | None] = mapped_column(Float, default=None)
    #: meet-up only, within this many km of the owner's location
    local_km: Mapped[float | None] = mapped_column(Float, default=None)
    #: ``[{"item": catalog_id, "size": key}]``; None: the owner's wants apply
    accepts: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)
    #: its photos' file names in the photo store (``<sha256>.<ext>``, ``core.photos``)
    photos: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(8), default=OPEN, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TradeWant(Base):
    __tablename__ = "trade_wants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    catalog_id: Mapped[int] = mapped_column(Integer, index=True)
    item_name: Mapped[str] = mapped_column(String(300))
    sizes: Mapped[list[str]] = mapped_column(JSON)
    #: None: any condition
    conditions: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    max_price: Mapped[float | None] = mapped_column(Float, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TradePrefs(Base):
    __tablename__ = "trade_prefs"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    min_reputation: Mapped[float] = mapped_column(Float, default=0.0)


class TradeBlock(Base):
    __tablename__ = "trade_blocks"
    __table_args__ = (UniqueConstraint("member_id", "blocked_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    blocked_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TradeProposal(Base):
    __tablename__ = "trade_proposals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(10), default=PROPOSED, index=True)
    #: every leg is a meet-up (both sides' haves local-only): members mark "met" instead of sent/received
    local: Mapped[bool] = mapped_column(Boolean, default=False)
    deadline: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    reason: Mapped[str] = mapped_column(String(200), default="")


class TradeParty(Base):
    __tablename__ = "trade_parties"

    proposal_id: Mapped[int] = mapped_column(ForeignKey("trade_proposals.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True, index=True)
    response: Mapped[str] = mapped_column(String(8), default=PENDING)
    responded_at: Mapped[datetime | None] = mapped_column(default=None)


class TradeLeg(Base):
    __tablename__ = "trade_legs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("trade_proposals.id"), index=True)
    have_id: Mapped[int] = mapped_column(ForeignKey("trade_haves.id"), index=True)
    giver_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    receiver_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    received_at: Mapped[datetime | None] = mapped_column(default=None)


class TradeExclusion(Base):
    __tablename__ = "trade_exclusions"
    __table_args__ = (UniqueConstraint("have_id", "member_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    have_id: Mapped[int] = mapped_column(ForeignKey("trade_haves.id"), index=True)
    #: the member who is not offered this have again
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    reason: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TradeReview(Base):
    __tablename__ = "trade_reviews"
    __table_args__ = (UniqueConstraint("proposal_id", "reviewer_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("trade_proposals.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    reviewee_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    stars: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TradeEvent(Base):
    __tablename__ = "trade_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("trade_proposals.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), default=None)
    kind: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TradeSolver(Base):
    __tablename__ = "trade_solver"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: bumped by every listing change; a solve covers the version it read
    version: Mapped[int] = mapped_column(Integer, default=0)
    solved_version: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(40), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
