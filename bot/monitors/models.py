"""Tables of the monitors slice.

- ``monitors``: what to watch, where to post it, and the health of the last polls.
- ``monitor_products``: the persisted snapshot, one row per product a monitor has seen, so a restart
  compares against what was already alerted instead of alerting again.
- ``monitor_events``: every event, written in the same transaction as the snapshot change that caused
  it (an outbox): ``published_at`` stays empty until it was handed to the bus, and start-up publishes
  whatever a crash left behind. ``event_id`` is the stable id consumers deduplicate on.
- ``price_observations``: one row per price seen anywhere (resale sales and listings, imports), the
  single table deal scores, charts and forecasts read.
- ``restock_reports``: restocks members reported by hand.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models import Base
from core.storage.types import utcnow

#: 64-bit ids on PostgreSQL; SQLite only auto-increments an ``INTEGER PRIMARY KEY``
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Monitor(Base):
    __tablename__ = "monitors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: ``store``, ``collection``, ``product`` (Shopify) or ``page`` (rendered in chromium)
    kind: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(String(500))
    host: Mapped[str] = mapped_column(String(255), index=True)
    keywords: Mapped[str] = mapped_column(String(300), default="")
    sizes: Mapped[list[str]] = mapped_column(JSON, default=list)
    feed: Mapped[str | None] = mapped_column(String(64), default=None)
    role: Mapped[str | None] = mapped_column(String(100), default=None)
    interval_s: Mapped[int] = mapped_column(Integer)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    #: CSS selectors for ``page`` monitors: ``{"stock": ..., "price": ..., "sizes": ..., "title": ...}``
    selectors: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    currency: Mapped[str | None] = mapped_column(String(8), default=None)
    #: a physical shop's coordinates: its events carry them, so alert rules with ``near`` can judge distance
    latitude: Mapped[float | None] = mapped_column(Float, default=None)
    longitude: Mapped[float | None] = mapped_column(Float, default=None)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: ``new``, ``ok``, ``blocked``, ``password`` or ``error``
    status: Mapped[str] = mapped_column(String(16), default="new")
    last_error: Mapped[str | None] = mapped_column(String(300), default=None)
    last_good_at: Mapped[datetime | None] = mapped_column(default=None)
    #: set by the first complete listing; until then changes are recorded without alerting
    baseline_at: Mapped[datetime | None] = mapped_column(default=None)
    #: the password page as last seen: ``None`` before the first poll
    password: Mapped[bool | None] = mapped_column(Boolean, default=None)
    #: bumped by every store-level event (password up/down); part of their event ids
    revision: Mapped[int] = mapped_column(Integer, default=0)

    @property
    def location(self) -> tuple[float, float] | None:
        """``(lat, lon)`` for a physical shop, ``None`` for an online-only one."""
        if self.latitude is None or self.longitude is None:
            return None
        return self.latitude, self.longitude


class MonitorProduct(Base):
    __tablename__ = "monitor_products"

    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: bumped on every stored change; part of the ids of the events that change caused
    revision: Mapped[int] = mapped_column(Integer, default=1)
    #: ``bot.monitors.sources.shopify.Product.to_json()`` plus ``gone`` and per-variant last alert times
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class MonitorEvent(Base):
    __tablename__ = "monitor_events"
    __table_args__ = (Index("ix_monitor_events_unpublished", "published_at", "created_at"),)

    event_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    monitor_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    #: the exact ``monitor.event`` bus payload
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(default=None)


class PriceObservation(Base):
    """A price seen at a time: a resale sale, a listing's ask, a retail price.

    Read it with ``bot.monitors.prices`` (``recent_prices``, ``recent_median``). ``product_key`` is the
    product name folded to lowercase words joined by ``-``; ``size_key`` is the size reduced to its
    number (``US 10`` → ``10``), so different sources line up.
    """

    __tablename__ = "price_observations"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_price_observations_source"),
        Index("ix_price_observations_product", "product_key", "size_key", "observed_at"),
        Index("ix_price_observations_sku", "sku", "observed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    observed_at: Mapped[datetime] = mapped_column()
    #: ``stockx``, ``goat``, ``ebay``, ``shopify:<host>``...
    source: Mapped[str] = mapped_column(String(40))
    #: ``sale`` (a completed sale), ``listing`` (an asking price), ``retail``
    kind: Mapped[str] = mapped_column(String(16))
    product: Mapped[str] = mapped_column(String(300))
    product_key: Mapped[str] = mapped_column(String(300))
    sku: Mapped[str | None] = mapped_column(String(64), default=None)
    brand: Mapped[str | None] = mapped_column(String(64), default=None)
    size: Mapped[str | None] = mapped_column(String(32), default=None)
    size_key: Mapped[str | None] = mapped_column(String(16), default=None)
    price: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    url: Mapped[str | None] = mapped_column(String(500), default=None)
    #: the source's own id (eBay item id, a row of an import file), so a re-import adds nothing
    external_id: Mapped[str] = mapped_column(String(120))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RestockReport(Base):
    __tablename__ = "restock_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    store: Mapped[str] = mapped_column(String(100))
    item: Mapped[str] = mapped_column(String(200))
    size: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


__all__ = ["Monitor", "MonitorEvent", "MonitorProduct", "PriceObservation", "RestockReport"]
