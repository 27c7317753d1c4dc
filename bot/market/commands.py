"""/search, /price and /catalog alias add."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime

from bot.market.chart import CHART_FILENAME, draw
from bot.market.models import CatalogProduct
from bot.market.names import AUDIENCE_LABELS
from bot.market.prices import (
    MIN_SALES,
    Market,
    Offer,
    Sale,
    asks,
    in_size,
    keys_for,
    load_sales,
    market,
    retail_offers,
    sizes_of,
)
from bot.market.search import Hit
from bot.market.service import Market as MarketService
from bot.market.service import Resolved, ambiguous
from bot.monitors.filters import size_key
from core.commands import Command, Param, Permission
from core.context import Context
from core.errors import UserError
from core.markup import clip
from core.replies import Button, Reply, ReplyField

_SIZE_SUFFIX = re.compile(r"\s+(?:size|sz)\s*:?\s*([0-9]{1,2}(?:\.5)?[a-zA-Z]?)\s*$", re.IGNORECASE)
_LIST = 5
_RECENT = 8


async def pair_names(ctx: Context, prefix: str) -> list[str]:
    """Catalog names for a parameter that names a pair; none where the market slice isn't running, so
    another slice can offer them without depending on this one."""
    if not ctx.engine.has_service(MarketService):
        return []
    names: list[str] = await ctx.service(MarketService).autocomplete(ctx, prefix)
    return names


def pair_param(name: str = "item", description: str = "A pair, e.g. jordan 4 pine green") -> Param:
    """A parameter that names a pair: catalog autocomplete on Discord, the rest of the line elsewhere.
    Other slices declare their pair parameters with it."""
    return Param(name, description, autocomplete=pair_names, max_length=200, rest=True)


def _money(value: float | None) -> str:
    return "—" if value is None else f"${value:,.0f}"


def _label(product: CatalogProduct) -> str:
    return f"{product.name} · {AUDIENCE_LABELS.get(product.audience, product.audience)}"


def _choice(hit: Hit, command: str) -> Button:
    return Button(label=clip(hit.name, 80), action=f"{command} #{hit.id}")


def _did_you_mean(query: str, hits: list[Hit], command: str, closest: list[str]) -> Reply:
    if not hits:
        lines = [f"Nothing in the catalog matches “{clip(query, 60)}”."]
        if closest:
            lines.append("Closest names: " + "; ".join(closest))
        return Reply(title="🔎 No match", text="\n".join(lines), ephemeral=True)
    text = "\n".join(f"{n}. {hit.name}" for n, hit in enumerate(hits[:_LIST], start=1))
    return Reply(
        title=f"🔎 Did you mean… ({clip(query, 60)})",
        text=text,
        buttons=[_choice(hit, command) for hit in hits[:_LIST]],
        ephemeral=True,
    )


async def search(ctx: Context, query: str) -> Reply:
    service = ctx.service(MarketService)
    if query.strip().startswith("#"):
        resolved = await service.resolve(query)
        if resolved.product is None:
            raise UserError(f"No catalog product {query.strip()}.")
        return _card(resolved.product)
    hits = service.search(query, limit=_LIST)
    if not hits or ambiguous(hits):
        return _did_you_mean(query, hits, "search", service.closest(query) if not hits else [])
    product = await service.product(hits[0].id)
    if product is None:
        raise UserError("That pair was just removed from the catalog; try again.")
    reply = _card(product)
    others = [hit for hit in hits[1:] if hit.id != product.id]
    if others:
        reply.fields.append(ReplyField(name="Also", value="\n".join(hit.name for hit in others), inline=False))
        reply.buttons.extend(_choice(hit, "search") for hit in others[:3])
    return reply


def _card(product: CatalogProduct) -> Reply:
    fields = [
        ReplyField(name="Brand", value=product.brand),
        ReplyField(name="Model", value=product.model),
        ReplyField(name="For", value=AUDIENCE_LABELS.get(product.audience, product.audience)),
        ReplyField(name="Retail", value=_money(product.retail)),
    ]
    if product.colourway:
        fields.append(ReplyField(name="Colourway", value=product.colourway))
    if product.release_date:
        fields.append(ReplyField(name="Released", value=product.release_date.isoformat()))
    if product.style_code:
        fields.append(ReplyField(name="Style code", value=product.style_code))
    return Reply(
        title=f"👟 {product.name}",
        fields=fields,
        footer=f"#{product.id}",
        buttons=[Button(label="💲 Price", action=f"price #{product.id}")],
    )


def _split_size(item: str, size: str | None) -> tuple[str, str | None]:
    """``jordan 4 pine green size 10`` → the item and ``10`` (text frontends type it on one line)."""
    if size is None:
        found = _SIZE_SUFFIX.search(item)
        if found is not None:
            return item[: found.start()], found.group(1)
    return item, size


def _date(when: datetime) -> str:
    return when.date().isoformat()


def _figures(figures: Market) -> list[ReplyField]:
    last = figures.last
    fields = []
    if last is not None:
        where = f" (size {last.size})" if last.size else ""
        fields.append(ReplyField(name="Last sale", value=f"{_money(last.price)} on {_date(last.at)}{where}"))
    fields += [
        ReplyField(name="7-day median", value=f"{_money(figures.median_7d)} ({figures.count_7d} sales)"),
        ReplyField(name="30-day median", value=f"{_money(figures.median_30d)} ({figures.count_30d} sales)"),
    ]
    if figures.trend_pct is not None:
        arrow = "📈" if figures.trend_pct > 0 else "📉" if figures.trend_pct < 0 else "➡️"
        fields.append(ReplyField(name="Trend", value=f"{arrow} {figures.trend_pct:+.1f}% vs the month before"))
    if figures.spread is not None:
        fields.append(
            ReplyField(name="Spread (middle 50%)", value=f"{_money(figures.spread[0])}–{_money(figures.spread[1])}")
        )
    if figures.premium_pct is not None:
        fields.append(ReplyField(name="Premium over retail", value=f"{figures.premium_pct:+.1f}%"))
    fields.append(ReplyField(name="Sales recorded", value=f"{len(figures.sales):,}"))
    return fields


def _few(sales: list[Sale]) -> str:
    lines = [f"{_date(s.at)}: {_money(s.price)}" + (f" (size {s.size})" if s.size else "") for s in sales[-_RECENT:]]
    return "\n".join(lines)


def _host(source: str) -> str:
    return source.removeprefix("shopify:")


def _offer_fields(retail: list[Offer], listed: list[Offer]) -> list[ReplyField]:
    """The cheapest live retail price and ask, when the monitors have seen any."""
    fields = []
    if retail:
        best = retail[0]
        fields.append(ReplyField(name="Retail now", value=f"{_money(best.price)} at {_host(best.source)}"))
    if listed:
        best = listed[0]
        where = f" ({best.size})" if best.size else ""
        fields.append(ReplyField(
            name="Lowest ask", value=f"{_money(best.price)}{where} on {best.source}, {len(listed)} listed"
        ))  # fmt: skip
    return fields


async def resolve_request(
    ctx: Context, item: str, size: str | None
) -> tuple[MarketService, Resolved, str, str | None]:
    """The pair (and size) a command names: the size split off a one-line request and checked, the
    item looked up; a ``#id`` that doesn't exist is refused here."""
    service = ctx.service(MarketService)
    item, size = _split_size(item, size)
    if size is not None and size_key(size) is None:
        raise UserError(f"`{clip(size, 20)}` is not a shoe size (e.g. 10 or 9.5).")
    resolved = await service.resolve(item)
    if resolved.product is None and item.strip().startswith("#"):
        raise UserError(f"No catalog product {item.strip()}.")
    return service, resolved, item, size


async def price(ctx: Context, item: str, size: str | None = None) -> Reply:
    service, resolved, item, size = await resolve_request(ctx, item, size)
    product = resolved.product
    if product is None:
        return _did_you_mean(item, resolved.candidates, "price", service.closest(item))
    sales = await load_sales(service.db, keys_for(product.name, product.aliases or []))
    live = _offer_fields(await retail_offers(service.db, product.id, size), await asks(service.db, product.name, size))
    title = f"💲 {product.name}"
    footer = f"#{product.id} · {_label(product)} · retail {_money(product.retail)}"
    if not sales:
        return Reply(title=title, text="No sales recorded for this pair yet.", fields=live, footer=footer)
    chosen = sales
    if size is not None:
        chosen = in_size(sales, size)
        if not chosen:
            sizes = sizes_of(sales)
            raise UserError(f"No sales in size {size} for {product.name}. Sizes with sales: {', '.join(sizes)}.")
        title += f" · size {size}"
    figures = market(chosen, product.retail)
    if len(chosen) < MIN_SALES:
        text = (
            f"Only {len(chosen)} sale{'s' if len(chosen) != 1 else ''} recorded: "
            "too few for a market price. Here they are:\n" + _few(chosen)
        )
        return Reply(title=title, text=text, fields=live, footer=footer)
    notes = [f"Figures as of its latest sale, {_date(chosen[-1].at)}."]
    if figures.median_7d is None or figures.median_30d is None:
        notes.append(f"Fewer than {MIN_SALES} sales in a window leave its median out.")
    image = await asyncio.to_thread(draw, product.name, sales, size=size, size_sales=chosen if size else ())
    return Reply(
        title=title,
        text=" ".join(notes),
        fields=[*_figures(figures), *live],
        footer=footer,
        image=image,
        image_name=CHART_FILENAME,
    )


async def alias_add(ctx: Context, abbreviation: str, expansion: str) -> Reply:
    abbr, words, replaced = await ctx.service(MarketService).add_alias(abbreviation, expansion, ctx.member.id)
    verb = "now stands for" if replaced else "stands for"
    return Reply(title="🔤 Alias saved", text=f"`{abbr}` {verb} “{words}” in every search.")


COMMANDS = [
    Command(
        name="search",
        description="Find a pair in the catalog however you spell it (typos, abbreviations, gs/wmns).",
        handler=search,
        params=(pair_param("query", "What to look for, e.g. aj1 chicago gs"),),
    ),
    Command(
        name="price",
        description="A pair's market: last sale, medians, trend, spread, premium and a chart.",
        handler=price,
        params=(pair_param(), Param("size", "A US size, e.g. 10 or 9.5", required=False, max_length=12)),
    ),
    Command(
        name="catalog alias add",
        description="Teach search an abbreviation, e.g. pg → pine green.",
        handler=alias_add,
        params=(
            Param("abbreviation", "What members type, e.g. pg", max_length=40),
            Param("expansion", "What it stands for, e.g. pine green", max_length=120, rest=True),
        ),
        permission=Permission.ADMIN,
    ),
]
