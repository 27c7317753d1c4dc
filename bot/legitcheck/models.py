"""Tables of the legit-check slice.

- ``lc_checks``: one row per check: the item, who asked, its state (``open``, ``closed``, ``void``), the
  deadline (in the database, so whichever process sweeps first closes it, after any restart), the
  verdict with its weighted shares and agreed reasons, the photo-reuse findings shown on the card, the
  gold answer of a seeded check, the appeal, and whether payouts and the card update went out.
- ``lc_photos``: the check's photos, by the SHA-256 of the stored (metadata-free) file.
- ``lc_photo_hashes``: 16 windows per photo, each an average hash (``key``, what the index looks up)
  and a DCT hash (``check``) (``bot.legitcheck.phash``); the ``id`` is the high-water mark each
  process's in-memory index reads new rows from.
- ``lc_votes``: one vote per member and check (unique), with the weight it carried when cast.
- ``lc_drafts``: the checklist reasons a member has ticked before casting a Fake or Unsure vote.
- ``lc_voters``: each voter's record (agreements with verdicts and gold answers) and a mod's bar.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models import Base
from core.storage.types import utcnow

OPEN, CLOSED, VOID = "open", "closed", "void"
REAL, FAKE, UNSURE, INCONCLUSIVE = "real", "fake", "unsure", "inconclusive"


class LcCheck(Base):
    __tablename__ = "lc_checks"
    __table_args__ = (Index("ix_lc_checks_status_deadline", "status", "deadline_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    item: Mapped[str] = mapped_column(String(200))
    size: Mapped[str | None] = mapped_column(String(16), default=None)
    status: Mapped[str] = mapped_column(String(8), default=OPEN)
    #: the platform request that submitted it: a redelivered submission finds this row
    request_key: Mapped[str | None] = mapped_column(String(160), unique=True, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deadline_at: Mapped[datetime] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    verdict: Mapped[str | None] = mapped_column(String(16), default=None)
    real_share: Mapped[float] = mapped_column(Float, default=0.0)
    fake_share: Mapped[float] = mapped_column(Float, default=0.0)
    unsure_share: Mapped[float] = mapped_column(Float, default=0.0)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: earlier checks holding the same photos: ``[{"photo": n, "check_id": id, "bits": d}]``
    reuse: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    #: a seeded check's known answer (``real``/``fake``); never shown before it closes
    gold_answer: Mapped[str | None] = mapped_column(String(8), default=None)
    appeal_note: Mapped[str | None] = mapped_column(String(300), default=None)
    appealed_at: Mapped[datetime | None] = mapped_column(default=None)
    #: ``open`` while authenticators review it, then ``upheld`` or ``overturned``
    appeal_state: Mapped[str | None] = mapped_column(String(12), default=None)
    void_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    paid: Mapped[bool] = mapped_column(Boolean, default=False)
    announced: Mapped[bool] = mapped_column(Boolean, default=False)


class LcPhoto(Base):
    __tablename__ = "lc_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("lc_checks.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)


class LcPhotoHash(Base):
    __tablename__ = "lc_photo_hashes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("lc_photos.id"), index=True)
    #: signed 64-bit average hash and DCT hash of one window of the photo
    key: Mapped[int] = mapped_column(BigInteger)
    check: Mapped[int] = mapped_column(BigInteger)


class LcVote(Base):
    __tablename__ = "lc_votes"
    __table_args__ = (UniqueConstraint("check_id", "member_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("lc_checks.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    choice: Mapped[str] = mapped_column(String(8))
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(String(200), default="")
    weight: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LcDraft(Base):
    """The reasons a member has ticked on a Fake or Unsure vote's checklist, before casting it."""

    __tablename__ = "lc_drafts"

    check_id: Mapped[int] = mapped_column(ForeignKey("lc_checks.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    choice: Mapped[str] = mapped_column(String(8))
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)


class LcVoter(Base):
    __tablename__ = "lc_voters"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    agreed: Mapped[int] = mapped_column(Integer, default=0)
    disagreed: Mapped[int] = mapped_column(Integer, default=0)
    gold_right: Mapped[int] = mapped_column(Integer, default=0)
    gold_wrong: Mapped[int] = mapped_column(Integer, default=0)
    barred: Mapped[bool] = mapped_column(Boolean, default=False)
