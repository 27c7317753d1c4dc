"""SMS consent: which phone numbers must not receive SMS, and why.

Carriers and Twilio require that a number that texted STOP (or that Twilio reports as unsubscribed,
21610, or as a landline, 30006) gets nothing more until it texts START. The record is keyed by the
phone's lookup hash (``AddressVault.lookup_key``), never the number, and it lives apart from
``members`` because an opt-out binds the *number*, whoever owns it and even if nobody linked it yet.

The helpers take an open session so a caller can fold them into the transaction it already has.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models import Base, Identity, Member
from core.storage.types import utcnow

#: the member texted STOP (or STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT)
REASON_STOP = "STOP"
#: Twilio refused: the number unsubscribed from us through the carrier or Advanced Opt-Out
REASON_UNSUBSCRIBED = "twilio-21610"
#: Twilio: the number is a landline or otherwise unreachable by SMS
REASON_LANDLINE = "twilio-30006"
#: Twilio: the "To" number is not a mobile number
REASON_NOT_MOBILE = "twilio-21614"


class SmsConsent(Base):
    """One row per phone number we heard about. ``opted_out_at`` set means: send nothing."""

    __tablename__ = "sms_consent"

    phone_hash: Mapped[str] = mapped_column(String(128), primary_key=True)
    opted_out_at: Mapped[datetime | None] = mapped_column(default=None)
    #: why the number is opted out: ``STOP``, ``twilio-21610``, ``twilio-30006``, ``twilio-21614``
    reason: Mapped[str | None] = mapped_column(String(32), default=None)
    #: the last time the number texted START; kept for the audit trail
    opted_in_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


async def opt_out_reason(session: AsyncSession, phone_hash: str) -> str | None:
    """Why this number must not get SMS, or None if it may."""
    row = await session.get(SmsConsent, phone_hash, populate_existing=True)
    if row is None or row.opted_out_at is None:
        return None
    return row.reason or REASON_STOP


async def record_opt_out(session: AsyncSession, phone_hash: str, reason: str) -> None:
    """Mark the number opted out and switch SMS off for the member who owns it, if anyone does.

    An upsert, so two webhooks racing for the same number (STOP plus a 21610 from a send) both land.
    """
    now = utcnow()
    await _upsert(session, phone_hash, {"opted_out_at": now, "reason": reason[:32], "updated_at": now})
    await _set_member_sms(session, phone_hash, enabled=False)


async def record_opt_in(session: AsyncSession, phone_hash: str) -> None:
    """The number texted START: SMS may flow again, and its owner's SMS alerts are switched back on,
    since texting START is as explicit a yes as ``/settings sms:on``."""
    now = utcnow()
    await _upsert(session, phone_hash, {"opted_out_at": None, "reason": None, "opted_in_at": now, "updated_at": now})
    await _set_member_sms(session, phone_hash, enabled=True)


async def _upsert(session: AsyncSession, phone_hash: str, values: dict[str, object]) -> None:
    if session.get_bind().dialect.name == "postgresql":
        pg = postgresql.insert(SmsConsent).values(phone_hash=phone_hash, **values)
        await session.execute(pg.on_conflict_do_update(index_elements=["phone_hash"], set_=values))
    else:
        lite = sqlite.insert(SmsConsent).values(phone_hash=phone_hash, **values)
        await session.execute(lite.on_conflict_do_update(index_elements=["phone_hash"], set_=values))


async def _set_member_sms(session: AsyncSession, phone_hash: str, *, enabled: bool) -> None:
    owner = select(Identity.member_id).where(Identity.platform == "sms", Identity.external_id == phone_hash)
    await session.execute(update(Member).where(Member.id.in_(owner)).values(sms_enabled=enabled))


async def member_for_phone(session: AsyncSession, phone_hash: str) -> int | None:
    """The member who owns this number, if it was ever linked or texted us."""
    found = await session.execute(
        select(Identity.member_id).where(Identity.platform == "sms", Identity.external_id == phone_hash)
    )
    return found.scalar_one_or_none()


__all__ = [
    "REASON_LANDLINE",
    "REASON_NOT_MOBILE",
    "REASON_STOP",
    "REASON_UNSUBSCRIBED",
    "SmsConsent",
    "member_for_phone",
    "opt_out_reason",
    "record_opt_in",
    "record_opt_out",
]
