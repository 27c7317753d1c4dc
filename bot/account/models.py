"""The account slice's tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models import Base


class SmsVerification(Base):
    """A phone number waiting for its code. The number is kept encrypted, the code hashed."""

    __tablename__ = "sms_verifications"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    phone_secret: Mapped[str] = mapped_column(String(512))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column()


__all__ = ["SmsVerification"]
