"""The account slice's tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models import Base
from core.storage.types import utcnow


class SmsVerification(Base):
    """A phone number waiting for its code. The number is kept encrypted, the code hashed. Wrong
    codes are counted in ``account_throttles`` (per member, not per code), so asking for a new code
    does not buy new tries."""

    __tablename__ = "sms_verifications"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    phone_secret: Mapped[str] = mapped_column(String(512), info={"encrypted": True})
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column()


class Throttle(Base):
    """One fixed-window counter (``kind:subject``), changed only by conditional UPDATEs so that
    every process and every concurrent request sees one count."""

    __tablename__ = "account_throttles"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(default=utcnow)


#: a redeemed code waits for its owner
PENDING = "pending"
CONFIRMED = "confirmed"
REFUSED = "refused"


class LinkRequest(Base):
    """A ``/link CODE`` waiting for the code owner's Confirm or Refuse. Nothing merges before it."""

    __tablename__ = "link_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: the spent code; a code is spent by exactly one request
    code: Mapped[str] = mapped_column(ForeignKey("link_codes.code"), unique=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    joiner_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    #: how the joiner is shown to the owner, e.g. ``Telegram @sam``
    joiner_label: Mapped[str] = mapped_column(String(140))
    joiner_platform: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    decided_at: Mapped[datetime | None] = mapped_column(default=None)


__all__ = ["CONFIRMED", "PENDING", "REFUSED", "LinkRequest", "SmsVerification", "Throttle"]
