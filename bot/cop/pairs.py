"""Which pair a simulated drop releases, and the size run its buttons offer.

A member may name a pair (resolved through the market slice's catalog, as every pair parameter
is); otherwise a random catalog pair is taken, and without a catalog (the market slice isn't running
or nothing was imported) one of a few well-known pairs, so practice works on a fresh install.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy import func, select

from bot.market.models import CatalogProduct
from bot.market.service import Market
from core.engine import Engine
from core.errors import UserError
from core.markup import clip, escape

#: a typical retail size run per audience: the buttons of a drop
SIZE_RUNS: dict[str, tuple[str, ...]] = {
    "men": ("7", "8", "8.5", "9", "9.5", "10", "10.5", "11", "12"),
    "women": ("5", "6", "6.5", "7", "7.5", "8", "8.5", "9", "10"),
    "gs": ("3.5Y", "4Y", "4.5Y", "5Y", "5.5Y", "6Y", "6.5Y", "7Y"),
    "ps": ("11C", "12C", "13C", "1Y", "2Y", "3Y"),
    "td": ("4C", "5C", "6C", "7C", "8C", "9C", "10C"),
}
FALLBACK_PAIRS = (
    "Jordan 4 Retro Military Black",
    "Nike Dunk Low Retro White Black Panda",
    "adidas Yeezy Boost 350 V2 Zebra",
    "Jordan 1 Retro High OG Chicago Lost and Found",
    "Nike Air Force 1 Low Off-White Brooklyn",
)


@dataclass(frozen=True)
class Pair:
    name: str
    sizes: tuple[str, ...]
    catalog_id: int | None = None


def size_label(size: str) -> str:
    """``US 10``, ``US 5.5Y``: how a size button and a result name it."""
    return f"US {size}"


async def pick_pair(engine: Engine, item: str | None, rng: random.Random) -> Pair:
    """The pair named by ``item``, or a random one; a name the catalog can't place is refused."""
    market = engine.service(Market) if engine.has_service(Market) else None
    if item is None:
        if market is not None:
            async with market.db.read() as session:
                found = (await session.scalars(select(CatalogProduct).order_by(func.random()).limit(1))).first()
            if found is not None:
                return _from_product(found)
        return Pair(rng.choice(FALLBACK_PAIRS), SIZE_RUNS["men"])
    if market is None:
        return Pair(clip(item.strip(), 120, "…"), SIZE_RUNS["men"])
    resolved = await market.resolve(item)
    if resolved.product is not None:
        return _from_product(resolved.product)
    if resolved.candidates:
        names = "; ".join(escape(hit.name) for hit in resolved.candidates[:3])
        raise UserError(f"Which pair? Name it more exactly (or by `#id`): {names}.")
    raise UserError(f"Nothing in the catalog matches “{escape(clip(item.strip(), 60, '…'))}”. Try `/search`.")


def _from_product(product: CatalogProduct) -> Pair:
    return Pair(product.name, SIZE_RUNS.get(product.audience, SIZE_RUNS["men"]), product.id)
