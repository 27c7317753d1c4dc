"""Price observations: storing them from any resale source, and reading them back.

Every source (sales-history imports, eBay listings) lands in the one ``price_observations`` table,
keyed so a re-import or a re-read of an unchanged listing adds nothing. Readers match products by
``product_key`` (the name folded to ``lowercase-words``) or SKU, and sizes by ``size_key`` (see
``bot.monitors.filters.size_key``), so "Yeezy Boost 350 V2 Beluga" in size "US 10" finds StockX's
``Adidas-Yeezy-Boost-350-V2-Beluga`` size ``10``.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import AsyncIterable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.monitors.filters import size_key
from bot.monitors.models import PriceObservation as ObservationRow
from bot.monitors.sources.resale import PriceObservation
from core.storage.database import Database

BATCH = 5000
_WORD = re.compile(r"[a-z0-9]+")


def product_key(name: str) -> str:
    return "-".join(_WORD.findall(name.lower()))[:300]


@dataclass(frozen=True)
class Recorded:
    offered: int
    inserted: int


def insert_new(db: Database) -> Any:
    """An INSERT that skips rows whose (source, external_id) is already stored."""
    return (sqlite_insert if db.is_sqlite else pg_insert)(ObservationRow).on_conflict_do_nothing(
        index_elements=["source", "external_id"]
    )


def row_for(observation: PriceObservation) -> dict[str, Any]:
    return {
        "observed_at": observation.observed_at,
        "source": observation.source[:40],
        "kind": observation.kind[:16],
        "product": observation.product[:300],
        "product_key": product_key(observation.product),
        "sku": observation.sku,
        "brand": observation.brand,
        "size": observation.size[:32] if observation.size else None,
        "size_key": size_key(observation.size),
        "price": observation.price,
        "currency": observation.currency[:3],
        "url": observation.url,
        "external_id": observation.external_id[:120],
        "extra": dict(observation.extra),
    }


async def record(db: Database, observations: AsyncIterable[PriceObservation] | Iterable[PriceObservation]) -> Recorded:
    """Store observations in one transaction (all or nothing); duplicates are skipped."""
    if isinstance(observations, AsyncIterable):
        rows = [row_for(observation) async for observation in observations]
    else:
        rows = [row_for(observation) for observation in observations]
    if not rows:
        return Recorded(0, 0)
    sources = sorted({row["source"] for row in rows})
    insert = insert_new(db)
    count = select(func.count()).select_from(ObservationRow).where(ObservationRow.source.in_(sources))
    async with db.transaction() as session:
        before = int(await session.scalar(count) or 0)
        for start in range(0, len(rows), BATCH):
            await session.execute(insert, rows[start : start + BATCH])
        after = int(await session.scalar(count) or 0)
    return Recorded(len(rows), after - before)


def _matching(product: str) -> Any:
    key = product_key(product)
    return or_(ObservationRow.product_key == key, ObservationRow.sku == product.strip().upper())


def _loosely(product: str) -> Any:
    words = _WORD.findall(product.lower())
    return and_(*(ObservationRow.product_key.like(f"%{word}%") for word in words)) if words else None


async def recent_prices(
    db: Database,
    product: str,
    *,
    size: str | None = None,
    days: int = 90,
    kinds: Sequence[str] = ("sale",),
) -> list[float]:
    """Prices of ``product`` (name or SKU) in ``size`` over the ``days`` before its latest observation.

    The window ends at the latest observation rather than now, so a product that last sold months
    ago still has a median; callers that need freshness can check the dates themselves."""
    async with db.read() as session:
        for condition in (_matching(product), _loosely(product)):
            if condition is None:
                continue
            filters = [condition, ObservationRow.kind.in_(list(kinds))]
            wanted = size_key(size)
            if size is not None:
                if wanted is None:
                    return []
                filters.append(ObservationRow.size_key == wanted)
            latest = await session.scalar(select(func.max(ObservationRow.observed_at)).where(*filters))
            if latest is None:
                continue
            since = latest - timedelta(days=days)
            prices = await session.scalars(
                select(ObservationRow.price).where(*filters, ObservationRow.observed_at >= since)
            )
            return list(prices)
    return []


async def recent_median(
    db: Database, product: str, *, size: str | None = None, days: int = 90, kinds: Sequence[str] = ("sale",)
) -> float | None:
    prices = await recent_prices(db, product, size=size, days=days, kinds=kinds)
    return statistics.median(prices) if prices else None


class ObservedDeals:
    """A deal scorer for the alerts slice (``bot.alerts.deals.DealScorer``) over the observations
    table: the percent a price is below the recent resale median. Medians are cached briefly
    because one restock asks for every size of one product."""

    def __init__(self, db: Database, *, days: int = 90, ttl_s: float = 300.0) -> None:
        self._db = db
        self._days = days
        self._ttl_s = ttl_s
        self._cache: dict[tuple[str, str | None], tuple[float, float | None]] = {}

    async def discount(self, product: str, size: str | None, price: float) -> float | None:
        key = (product_key(product), size_key(size))
        cached = self._cache.get(key)
        now = time.monotonic()
        if cached is None or now - cached[0] > self._ttl_s:
            median = await recent_median(self._db, product, size=size, days=self._days)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = cached = (now, median)
        median = cached[1]
        if median is None or median <= 0:
            return None
        return round((median - price) / median * 100, 1)
