"""/closet: the pairs a member owns, valued at market, with profit and loss and a chart.

A pair is valued at the 30-day median of its sales in its size (``bot.market.prices.market``: the
window ends at the pair's latest sale), falling back to every size when its size has too few, and
the reply says which. Replies are private: only the owner sees them, and only their own pairs.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from sqlalchemy import delete, func, select

from bot.market.closet_chart import CLOSET_CHART, draw, value_series
from bot.market.closet_sizes import closet_size
from bot.market.commands import _did_you_mean, _split_size, pair_param
from bot.market.models import CatalogProduct, ClosetItem
from bot.market.prices import Sale, in_size, keys_for, load_sales, market
from bot.market.service import Market as MarketService
from core.commands import Command, Param, ParamType
from core.context import Context
from core.errors import UserError
from core.markup import clip
from core.replies import Reply
from core.storage.types import utcnow

#: the most pairs one member keeps, and the most listed in one reply
MAX_PAIRS = 200
_LISTED = 25
PAID = Param("paid", "What you paid in USD (0 to 100,000)", type=ParamType.NUMBER, required=False,
             min_value=0, max_value=100_000)  # fmt: skip
_SIZE_WORD = re.compile(r"^(?:[a-z]{1,4})?\d{1,2}(?:\.5)?[a-z]{0,4}$", re.IGNORECASE)
_PAID_WORD = re.compile(r"^\$?\d{1,7}(?:\.\d{1,2})?$")


def split_line(item: str, size: str | None, paid: float | None) -> tuple[str, str | None, float | None]:
    """``yeezy zebra 10 250`` → item, size ``10``, paid 250: text frontends type them on one line
    after the item (Discord sends them as options)."""
    item, size = _split_size(item, size)
    if size is not None:
        return item, size, paid
    words = item.split()
    if paid is None and len(words) >= 3 and _SIZE_WORD.match(words[-2]) and _PAID_WORD.match(words[-1]):
        return " ".join(words[:-2]), words[-2], PAID.convert(words[-1].lstrip("$"))
    if len(words) >= 2 and _SIZE_WORD.match(words[-1]):
        return " ".join(words[:-1]), words[-1], paid
    return item, None, paid


def _again(size: str | None, paid: float | None) -> str:
    """The command a "did you mean" button runs: the chosen pair with the size and price kept."""
    line = "closet add"
    if size is not None and not any(char.isspace() for char in size):
        line += f" size:{size}"
    if paid is not None:
        line += f" paid:{paid:g}"
    return line


@dataclass(frozen=True)
class Valued:
    item: ClosetItem
    product: CatalogProduct
    value: float | None
    #: ``size 10``, ``all sizes`` or why there is no value
    basis: str
    #: the sales the value (and the chart) come from
    sales: list[Sale]


def value(item: ClosetItem, product: CatalogProduct, sales: list[Sale]) -> Valued:
    """``item`` valued from ``sales``, every sale of its pair."""
    mine = in_size(sales, item.size_key)
    own = market(mine, product.retail).median_30d
    if own is not None:
        return Valued(item, product, own, f"size {item.size}", mine)
    every = market(sales, product.retail).median_30d
    if every is not None:
        return Valued(item, product, every, "all sizes", sales)
    return Valued(item, product, None, "too few sales for a market price", sales)


def _money(amount: float) -> str:
    return f"-${-amount:,.0f}" if amount < 0 else f"${amount:,.0f}"


def _pnl(worth: float, paid: float) -> str:
    change = worth - paid
    pct = f" ({change / paid * 100:+.0f}%)" if paid else ""
    return ("+" if change >= 0 else "") + _money(change) + pct


def _line(entry: Valued) -> str:
    item = entry.item
    parts = [f"`#{item.id}` **{entry.product.name}** · size {item.size}"]
    if entry.value is None:
        parts.append(f"no value ({entry.basis})")
    else:
        parts.append(f"{_money(entry.value)} ({entry.basis}, 30-day median)")
    if item.paid is not None:
        parts.append(f"paid {_money(item.paid)}")
        if entry.value is not None:
            parts.append(_pnl(entry.value, item.paid))
    return " · ".join(parts)


async def add(ctx: Context, item: str, size: str | None = None, paid: float | None = None) -> Reply:
    service = ctx.service(MarketService)
    item, size, paid = split_line(item, size, paid)
    resolved = await service.resolve(item)
    product = resolved.product
    if product is None:
        if item.strip().startswith("#"):
            raise UserError(f"No catalog product {item.strip()}.")
        return _did_you_mean(item, resolved.candidates, _again(size, paid), service.closest(item))
    if size is None:
        raise UserError(f"Which size is yours? e.g. `/closet add {clip(product.name, 60)} 10 220`.")
    label, key = closet_size(size, product.audience, product.name)
    async with service.db.transaction() as session:
        owned = await session.scalar(select(func.count()).where(ClosetItem.member_id == ctx.member.id))
        if (owned or 0) >= MAX_PAIRS:
            raise UserError(f"Your closet holds {MAX_PAIRS} pairs at most; remove one first.")
        row = ClosetItem(member_id=ctx.member.id, catalog_id=product.id, size=label, size_key=key, paid=paid,
                         added_at=utcnow())  # fmt: skip
        session.add(row)
        await session.flush()
        row_id = row.id
    paid_text = f" (paid {_money(paid)})" if paid is not None else ""
    return Reply(title="👟 Added to your closet",
                 text=f"`#{row_id}` {product.name}, size {label}{paid_text}. See it valued with /closet show.",
                 ephemeral=True)  # fmt: skip


async def show(ctx: Context) -> Reply:
    db = ctx.service(MarketService).db
    async with db.read() as session:
        rows = (await session.execute(
            select(ClosetItem, CatalogProduct).join(CatalogProduct, CatalogProduct.id == ClosetItem.catalog_id)
            .where(ClosetItem.member_id == ctx.member.id).order_by(ClosetItem.id)
        )).all()  # fmt: skip
    if not rows:
        return Reply(title="👟 Your closet", text="Your closet is empty. Add a pair: /closet add ITEM SIZE [paid].",
                     ephemeral=True)  # fmt: skip
    sales: dict[int, list[Sale]] = {}
    for _item, product in rows:
        if product.id not in sales:
            sales[product.id] = await load_sales(db, keys_for(product.name, product.aliases or []))
    valued = [value(item, product, sales[product.id]) for item, product in rows]
    lines = [_line(entry) for entry in valued[:_LISTED]]
    if len(valued) > _LISTED:
        lines.append(f"…and {len(valued) - _LISTED} more (all counted in the total).")
    worth = sum(entry.value for entry in valued if entry.value is not None)
    paid = sum(entry.item.paid for entry in valued if entry.item.paid is not None)
    both = [entry for entry in valued if entry.value is not None and entry.item.paid is not None]
    priced = sum(entry.value is not None for entry in valued)
    total = f"**Total:** {_money(worth)} at market for {priced} of {len(valued)} pairs"
    if both:
        gain = _pnl(sum(e.value or 0.0 for e in both), sum(e.item.paid or 0.0 for e in both))
        total += f"; {gain} on what you paid for them"
    lines.append(total)
    points = value_series([entry.sales for entry in valued if entry.value is not None])
    image = await asyncio.to_thread(draw, points, paid or None) if points else None
    title = f"👟 Your closet ({len(valued)} pair{'s' if len(valued) != 1 else ''})"
    return Reply(title=title, text="\n".join(lines), image=image, image_name=CLOSET_CHART, ephemeral=True)


async def remove(ctx: Context, id: int) -> Reply:
    db = ctx.service(MarketService).db
    async with db.transaction() as session:
        gone = await session.execute(
            delete(ClosetItem).where(ClosetItem.id == id, ClosetItem.member_id == ctx.member.id)
        )
    if not gone.rowcount:  # type: ignore[attr-defined]
        raise UserError(f"No pair #{id} in your closet; /closet show lists them.")
    return Reply(title="👟 Removed", text=f"Pair #{id} left your closet.", ephemeral=True)


COMMANDS = [
    Command("closet add", "Add a pair you own: item, size and (optionally) what you paid.", add,
            (pair_param(), Param("size", "Your size, e.g. 10, 5.5Y or 8W", required=False, max_length=12), PAID),
            private=True),
    Command("closet show", "Your closet valued at market, with profit and loss and a chart.", show, private=True),
    Command("closet remove", "Take a pair out of your closet.", remove,
            (Param("id", "The pair's number from /closet show", type=ParamType.INTEGER, min_value=1,
                   max_value=2_000_000_000),), private=True),
]  # fmt: skip
