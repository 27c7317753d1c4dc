"""A pair's market from the price observations the monitors slice stores (imports, eBay, retail).

Sales are found by the catalog name and its aliases (a sales import's names). Live retail prices
come from the monitored products linked to the catalog entry, and asks (eBay listings, free-form
titles) from observations whose name holds every word of the pair's. Windows end at the pair's
latest sale rather than now: a history that stops in 2018 still has a 7- and 30-day median, and
the reply says which date they are as of.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select

from bot.market.models import CatalogLink
from bot.market.names import fold, split_audience
from bot.monitors.filters import size_key
from bot.monitors.models import PriceObservation
from bot.monitors.prices import product_key
from core.storage.database import Database

#: fewer sales than this in a window and its median is not shown as a market price
MIN_SALES = 5


@dataclass(frozen=True)
class Sale:
    at: datetime
    price: float
    size: str | None
    size_key: str | None


@dataclass(frozen=True)
class Market:
    """Figures over ``sales`` (one size or all); ``None`` where there were too few sales."""

    sales: list[Sale]
    last: Sale | None
    median_7d: float | None
    median_30d: float | None
    count_7d: int
    count_30d: int
    #: the 7-day median against the median of the 30 days before that week, in percent
    trend_pct: float | None
    #: 25th and 75th percentile over 30 days
    spread: tuple[float, float] | None
    premium_pct: float | None


def keys_for(name: str, aliases: Sequence[str]) -> list[str]:
    """The ``product_key`` values a catalog product's observations may carry."""
    return list(dict.fromkeys(product_key(text.replace("-", " ")) for text in (name, *aliases)))


async def load_sales(db: Database, keys: Sequence[str]) -> list[Sale]:
    """Every sale of the product, oldest first."""
    query = (
        select(PriceObservation.observed_at, PriceObservation.price, PriceObservation.size, PriceObservation.size_key)
        .where(PriceObservation.product_key.in_(list(keys)), PriceObservation.kind == "sale")
        .order_by(PriceObservation.observed_at)
    )
    async with db.read() as session:
        rows = (await session.execute(query)).all()
    return [Sale(row[0], float(row[1]), row[2], row[3]) for row in rows]


def sizes_of(sales: Sequence[Sale]) -> list[str]:
    """Sizes with sales, in size order."""
    keys = {sale.size_key: sale.size or sale.size_key for sale in sales if sale.size_key}

    def order(key: str) -> tuple[int, float, str]:
        try:
            return (0, float(key), key)
        except ValueError:
            return (1, 0.0, key)

    return [str(keys[key]) for key in sorted(keys, key=order)]


def in_size(sales: Sequence[Sale], size: str) -> list[Sale]:
    wanted = size_key(size)
    return [sale for sale in sales if wanted is not None and sale.size_key == wanted]


def _median(prices: Sequence[float]) -> float | None:
    return statistics.median(prices) if len(prices) >= MIN_SALES else None


def market(sales: Sequence[Sale], retail: float | None) -> Market:
    if not sales:
        return Market([], None, None, None, 0, 0, None, None, None)
    last = sales[-1]
    end = last.at
    week = [s.price for s in sales if s.at > end - timedelta(days=7)]
    month = [s.price for s in sales if s.at > end - timedelta(days=30)]
    before = [s.price for s in sales if end - timedelta(days=37) < s.at <= end - timedelta(days=7)]
    median_7d, median_30d, median_before = _median(week), _median(month), _median(before)
    trend = round((median_7d - median_before) / median_before * 100, 1) if median_7d and median_before else None
    spread = None
    if len(month) >= MIN_SALES:
        quartiles = statistics.quantiles(month, n=4)
        spread = (quartiles[0], quartiles[2])
    premium = round((median_30d - retail) / retail * 100, 1) if median_30d and retail else None
    return Market(list(sales), last, median_7d, median_30d, len(week), len(month), trend, spread, premium)


#: asks and retail prices older than this (before the newest one) are not shown
OFFER_DAYS = 14


@dataclass(frozen=True)
class Offer:
    source: str
    price: float
    at: datetime
    size: str | None
    url: str | None


async def _offers(db: Database, kind: str, condition: Any, size: str | None) -> list[Offer]:
    filters = [PriceObservation.kind == kind, condition]
    if size is not None:
        filters.append(PriceObservation.size_key == size_key(size))
    columns = (PriceObservation.source, PriceObservation.price, PriceObservation.observed_at,
               PriceObservation.size, PriceObservation.url)  # fmt: skip
    async with db.read() as session:
        latest = await session.scalar(select(func.max(PriceObservation.observed_at)).where(*filters))
        if latest is None:
            return []
        since = latest - timedelta(days=OFFER_DAYS)
        query = select(*columns).where(*filters, PriceObservation.observed_at >= since).order_by(PriceObservation.price)
        rows = (await session.execute(query.limit(50))).all()
    return [Offer(row[0], float(row[1]), row[2], row[3], row[4]) for row in rows]


async def retail_offers(db: Database, catalog_id: int, size: str | None = None) -> list[Offer]:
    """Live retail prices of the monitored products linked to ``catalog_id``, cheapest first."""
    async with db.read() as session:
        titles = list(await session.scalars(select(CatalogLink.title).where(CatalogLink.catalog_id == catalog_id)))
    if not titles:
        return []
    keys = list({product_key(title) for title in titles})
    return await _offers(db, "retail", PriceObservation.product_key.in_(keys), size)


async def asks(db: Database, name: str, size: str | None = None) -> list[Offer]:
    """Listings (eBay asks) whose title holds every word of ``name``, cheapest first."""
    base, _ = split_audience(name)
    words = fold(base).split()
    if not words:
        return []
    condition = and_(*(PriceObservation.product_key.like(f"%{word}%") for word in words))
    return await _offers(db, "listing", condition, size)
