"""Deal scores: how far below the recent resale median a retail price is, in percent.

The monitors slice will keep price observations; until its table exists the scorer is an interface
with an in-memory implementation built from sales rows (the StockX export in tests and benchmarks).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Protocol

from bot.alerts.matcher import fold
from bot.alerts.sizes import event_size


class DealScorer(Protocol):
    async def discount(self, product: str, size: str | None, price: float) -> float | None:
        """Percent below the resale median for ``product`` (a title or SKU) in ``size`` (None: any
        size); None when there is no recent resale data."""
        ...


class NoDeals:
    """No resale data: rules with a minimum deal score never match."""

    async def discount(self, product: str, size: str | None, price: float) -> float | None:
        return None


class MedianDealScorer:
    """Medians of resale prices per (product, size) and per product, from (title, size, price) rows."""

    def __init__(self, sales: Iterable[tuple[str, str, float]]) -> None:
        by_size: dict[tuple[str, str], list[float]] = defaultdict(list)
        by_product: dict[str, list[float]] = defaultdict(list)
        for title, size, price in sales:
            key = fold(title)
            by_size[(key, event_size(size))].append(price)
            by_product[key].append(price)
        self._size: Mapping[tuple[str, str], float] = {k: statistics.median(v) for k, v in by_size.items()}
        self._product: Mapping[str, float] = {k: statistics.median(v) for k, v in by_product.items()}

    async def discount(self, product: str, size: str | None, price: float) -> float | None:
        key = fold(product)
        median = self._size.get((key, size)) if size is not None else None
        if median is None:
            median = self._product.get(key)
        if median is None or median <= 0:
            return None
        return round((median - price) / median * 100, 1)


async def deals_for(scorer: DealScorer, product: str, sizes: Iterable[str], price: float | None) -> dict[str, float]:
    """Discount per canonical size in stock, plus ``*`` for the product as a whole."""
    if price is None:
        return {}
    found: dict[str, float] = {}
    whole = await scorer.discount(product, None, price)
    if whole is not None:
        found["*"] = whole
    for size in sizes:
        value = await scorer.discount(product, size, price)
        if value is not None:
            found[size] = value
    return found
