"""Market values for the optional value balance: a pair's 30-day median sale price in its size (or
in every size when its own has too few sales), else its retail price, from the market slice's price
table. ``None`` when nothing is known: such a swap is not judged on value."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from bot.market.models import CatalogProduct
from bot.market.prices import Sale, in_size, keys_for, load_sales, market
from core.storage.database import Database


async def market_values(db: Database, wanted: Iterable[tuple[int, str]]) -> dict[tuple[int, str], float | None]:
    """``(catalog_id, size) → value`` for every pair and size in ``wanted``."""
    pairs = sorted(set(wanted))
    ids = sorted({catalog_id for catalog_id, _ in pairs})
    async with db.read() as session:
        rows = await session.execute(select(CatalogProduct).where(CatalogProduct.id.in_(ids)))
        products = {product.id: product for product in rows.scalars()}
    values: dict[tuple[int, str], float | None] = {}
    sales_of: dict[int, list[Sale]] = {}
    for catalog_id in ids:
        product = products.get(catalog_id)
        if product is not None:
            sales_of[catalog_id] = await load_sales(db, keys_for(product.name, product.aliases or []))
    for catalog_id, size in pairs:
        product = products.get(catalog_id)
        if product is None:
            values[catalog_id, size] = None
            continue
        sales = sales_of.get(catalog_id, [])
        value = market(in_size(sales, size), product.retail).median_30d or market(sales, product.retail).median_30d
        values[catalog_id, size] = value if value is not None else product.retail
    return values


def balanced(first: float | None, second: float | None, pct: float) -> bool:
    """Each side within ``pct`` percent of the other; unknown values are not judged."""
    if first is None or second is None or first <= 0 or second <= 0:
        return True
    low, high = sorted((first, second))
    return (high - low) / high * 100 <= pct
