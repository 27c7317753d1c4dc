"""/pricematch: where a pair is cheapest right now, cheapest first, with links.

Two kinds of offer count as current: a monitored store's live variant prices (the monitors slice's
stored state of the products linked to the catalog entry, in stock only, in the member's size when
one is given) and resale asks (eBay listings among the price observations) seen in the last
``CURRENT_DAYS``. Sales are history, not offers: /price shows those.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from bot.market.commands import _did_you_mean, pair_param, resolve_request
from bot.market.models import CatalogLink, CatalogProduct
from bot.market.prices import asks
from bot.monitors.filters import size_key
from bot.monitors.models import Monitor, MonitorProduct
from bot.monitors.sources.shopify import Product
from core.commands import Command, Param
from core.context import Context
from core.markup import clip
from core.replies import Button, Reply
from core.storage.database import Database
from core.storage.types import utcnow

#: asks older than this are not current offers
CURRENT_DAYS = 14
#: offers listed, and link buttons under them
_SHOWN = 10
_LINKS = 5


@dataclass(frozen=True)
class Deal:
    """One current offer: where, at what price, in which sizes, and a link to buy it."""

    where: str
    kind: str
    price: float
    currency: str
    sizes: tuple[str, ...]
    url: str | None


def _shown(price: float, currency: str) -> str:
    return f"${price:,.0f}" if currency == "USD" else f"{price:,.0f} {currency}"


async def retail_deals(db: Database, catalog_id: int, size: str | None) -> list[Deal]:
    """In-stock variants of the monitored products linked to ``catalog_id``: per product, its
    cheapest in-stock price (in ``size`` when given) and the sizes at that price."""
    wanted = size_key(size) if size is not None else None
    query = (
        select(MonitorProduct.state, Monitor.host, Monitor.currency)
        .join(CatalogLink, (CatalogLink.monitor_id == MonitorProduct.monitor_id)
              & (CatalogLink.product_id == MonitorProduct.product_id))
        .join(Monitor, Monitor.id == MonitorProduct.monitor_id)
        .where(CatalogLink.catalog_id == catalog_id)
    )  # fmt: skip
    async with db.read() as session:
        rows = (await session.execute(query)).all()
    deals = []
    for state, host, currency in rows:
        if state.get("gone"):
            continue
        product = Product.from_json("", state)
        priced = [
            v for v in product.variants
            if v.available and v.price is not None and (wanted is None or size_key(v.size) == wanted)
        ]  # fmt: skip
        if not priced:
            continue
        best = min(v.price for v in priced if v.price is not None)
        sizes = tuple(v.size for v in priced if v.price == best)
        deals.append(Deal(host, "store", best, currency or "USD", sizes, product.url or None))
    return deals


async def ask_deals(db: Database, name: str, size: str | None) -> list[Deal]:
    """Resale asks observed in the last ``CURRENT_DAYS``."""
    since = utcnow() - timedelta(days=CURRENT_DAYS)
    return [
        Deal(offer.source, "ask", offer.price, "USD", (offer.size,) if offer.size else (), offer.url)
        for offer in await asks(db, name, size)
        if offer.at >= since
    ]


def _line(n: int, deal: Deal) -> str:
    what = "in stock" if deal.kind == "store" else "resale ask"
    sizes = f", size {', '.join(deal.sizes[:8])}" if deal.sizes else ""
    return f"{n}. **{_shown(deal.price, deal.currency)}** at {deal.where} ({what}{sizes})"


def _link(deal: Deal) -> Button | None:
    if not deal.url or not deal.url.startswith(("https://", "http://")):
        return None
    return Button(label=clip(f"{_shown(deal.price, deal.currency)} · {deal.where}", 80), url=deal.url)


def render(product: CatalogProduct, size: str | None, deals: list[Deal]) -> Reply:
    title = f"🏷️ Price match: {product.name}" + (f" · size {size}" if size else "")
    footer = f"#{product.id} · retail ${product.retail:,.0f}" if product.retail else f"#{product.id}"
    if not deals:
        where = f" in size {size}" if size else ""
        text = (
            f"Nothing current{where}: no monitored store has it in stock and no resale ask was seen in the "
            f"last {CURRENT_DAYS} days. /price shows what it has sold for."
        )
        return Reply(title=title, text=text, footer=footer,
                     buttons=[Button(label="💲 Price history", action=f"price #{product.id}")])  # fmt: skip
    ordered = sorted(deals, key=lambda deal: (deal.price, deal.kind, deal.where))
    lines = [_line(n, deal) for n, deal in enumerate(ordered[:_SHOWN], start=1)]
    if len(ordered) > _SHOWN:
        lines.append(f"…and {len(ordered) - _SHOWN} more.")
    links = [button for button in (_link(deal) for deal in ordered) if button is not None][:_LINKS]
    return Reply(title=title, text="\n".join(lines), footer=footer, buttons=links)


async def pricematch(ctx: Context, item: str, size: str | None = None) -> Reply:
    service, resolved, item, size = await resolve_request(ctx, item, size)
    product = resolved.product
    if product is None:
        keep = size is not None and not any(char.isspace() for char in size)
        again = f"pricematch size:{size}" if keep else "pricematch"
        return _did_you_mean(item, resolved.candidates, again, service.closest(item))
    deals = await retail_deals(service.db, product.id, size) + await ask_deals(service.db, product.name, size)
    return render(product, size, deals)


COMMANDS = [
    Command(
        name="pricematch",
        description="Where a pair is cheapest right now: stores with it in stock and resale asks, with links.",
        handler=pricematch,
        params=(pair_param(), Param("size", "A US size, e.g. 10 or 9.5", required=False, max_length=12)),
    ),
]
