"""The outbox: every notification is a row here before anything is sent.

The row is the unit of exactly-once: its ``key`` (source + event + member + channel) is unique, so a
notification enqueued twice (two rules, a replayed event, a restart) is stored once; its ``status``
and lease say who may send it and whether it went.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models import Base
from core.storage.types import utcnow

#: waiting for its time (``next_attempt_at``) and a worker
PENDING = "pending"
#: reserved by a worker under a lease, waiting for its rate-limit slot; nothing went out yet, so
#: if the lease runs out it is simply claimed again
CLAIMED = "claimed"
#: on the wire: flipped (and committed) just before the request. If the lease runs out in this state
#: the worker died mid-request and the send is in doubt
SENDING = "sending"
SENT = "sent"
#: the platform refused for good; a fallback row for the next channel may exist
REFUSED = "refused"
#: out of attempts or of channels; admins see these in /admin deadletters and may retry them
DEAD = "dead"
#: its validity period passed before it could go (a stale drop alert is worse than none)
EXPIRED = "expired"

STATUSES = (PENDING, CLAIMED, SENDING, SENT, REFUSED, DEAD, EXPIRED)


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: idempotency key: ``source:ref:member:channel``; unique
    key: Mapped[str] = mapped_column(String(200), unique=True)
    #: ``key`` without the channel; fallback rows of one notification share it
    group_key: Mapped[str] = mapped_column(String(200), index=True)
    source: Mapped[str] = mapped_column(String(32))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    #: channels still to try, in order, if this one refuses for good
    fallbacks: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: the ``Reply`` as JSON
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: higher goes first
    priority: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    #: after this the message is not worth sending (SMS ValidityPeriod, stale drops)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(300), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)


__all__ = ["STATUSES", "OutboxMessage"]
