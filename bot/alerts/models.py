"""Alert tables: members' rules and preferences, who was told about which event, recent events for
``/alerts test``, and pending SMS phone verifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models import Base
from core.storage.types import utcnow


class AlertRule(Base):
    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: each group: at least one of its words must appear
    any_groups: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    exclude: Mapped[list[str]] = mapped_column(JSON, default=list)
    brands: Mapped[list[str]] = mapped_column(JSON, default=list)
    stores: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: canonical sizes (bot.alerts.sizes)
    sizes: Mapped[list[str]] = mapped_column(JSON, default=list)
    price_min: Mapped[float | None] = mapped_column(Float, default=None)
    price_max: Mapped[float | None] = mapped_column(Float, default=None)
    #: minimum discount against the recent resale median, in percent
    min_deal: Mapped[float | None] = mapped_column(Float, default=None)
    latitude: Mapped[float | None] = mapped_column(Float, default=None)
    longitude: Mapped[float | None] = mapped_column(Float, default=None)
    radius_km: Mapped[float | None] = mapped_column(Float, default=None)
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: channel preference for this rule; empty: the member's own order
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    high_priority: Mapped[bool] = mapped_column(Boolean, default=False)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertPrefs(Base):
    """Per-member quiet hours, daily cap and digest schedule (absent row: all defaults)."""

    __tablename__ = "alert_prefs"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    #: minutes after local midnight; both set or both None
    quiet_start: Mapped[int | None] = mapped_column(Integer, default=None)
    quiet_end: Mapped[int | None] = mapped_column(Integer, default=None)
    daily_cap: Mapped[int | None] = mapped_column(Integer, default=None)
    digest: Mapped[str] = mapped_column(String(8), default="off")
    digest_hour: Mapped[int] = mapped_column(Integer, default=9)
    #: the digest period (``2026-11-21`` or ``2026-W47``) last sent, so it goes once per period
    digest_sent_for: Mapped[str | None] = mapped_column(String(16), default=None)


class AlertNotice(Base):
    """One row per (event, member): the same event never reaches the same member twice."""

    __tablename__ = "alert_notices"
    __table_args__ = (UniqueConstraint("event_id", "member_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(100))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    rule_id: Mapped[int | None] = mapped_column(Integer, default=None)
    #: ``queued`` (in the outbox, maybe deferred past quiet hours), ``digest`` (over the cap,
    #: waiting for the digest), ``digested`` (went out in a digest)
    status: Mapped[str] = mapped_column(String(12))
    #: the member's local date when it matched, for the daily cap
    local_day: Mapped[str] = mapped_column(String(10), index=True)
    summary: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RecentEvent(Base):
    """The last events seen, for ``/alerts test``, and to finish a fan-out a crash interrupted."""

    __tablename__ = "alert_recent_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(100), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    fanned_out: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


__all__ = ["AlertNotice", "AlertPrefs", "AlertRule", "RecentEvent"]
