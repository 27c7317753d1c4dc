"""/have and /want: add, list, edit and remove listings; a have's own accept list.

On Discord every field is its own option. Text frontends type the pair first and may put the size,
the condition and a ``$price`` after it on the same line (``/have add jordan 4 bred 10 ds $250``);
anything else goes as ``name:value`` (``note:"box damaged"``).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from bot.market.commands import pair_param
from bot.market.models import CatalogProduct
from bot.market.service import Market
from bot.trades.listings import CONDITION_LABELS, condition_of, conditions_of, one_size, want_sizes
from bot.trades.models import TradeHave, TradeWant
from bot.trades.service import Trades
from core.attachments import Attachment
from core.commands import Command, Param, ParamType
from core.context import Context
from core.errors import UserError
from core.markup import clip, escape
from core.replies import Reply, ReplyImage

_SIZE_WORD = re.compile(r"^(?:us|eu|uk|w|m|gs|y|c|td|ps)?\d{1,2}(?:[.,]5)?(?:w|m|y|c|gs|td|ps)?,?$", re.IGNORECASE)
_PRICE_WORD = re.compile(r"^\$\d{1,7}(?:\.\d{1,2})?$")
_SYSTEMS = {"us", "eu", "uk", "w", "m", "gs", "jp", "cm", "wmns", "y", "td", "ps", "c"}
_CONDITION_WORDS = {"ds", "new", "deadstock", "bnib", "vnds", "used", "worn"}
_LISTED = 25

PRICE = Param("price", "Asking price in USD: the pair is for sale, not for trade", type=ParamType.NUMBER,
              required=False, min_value=1, max_value=100_000)  # fmt: skip
LOCAL = Param("local", "Meet-up only, within this many km of you", type=ParamType.NUMBER, required=False,
              min_value=1, max_value=2000)  # fmt: skip
NOTE = Param("note", "A note, e.g. box damaged", required=False, max_length=200)
CONDITION = Param("condition", "ds (new), vnds or used (default ds)", required=False, max_length=12)
_ID = Param("id", "The listing's number, from /have list or /want list", type=ParamType.INTEGER, min_value=1)


HaveLine = tuple[str, str | None, str | None, float | None]


def split_have(item: str, size: str | None, condition: str | None, price: float | None) -> HaveLine:
    """``jordan 4 bred 10 ds $250`` → the pair, ``10``, ``ds`` and 250, for text frontends."""
    words = item.split()
    if price is None and len(words) > 1 and _PRICE_WORD.match(words[-1]):
        price = PRICE.convert(words.pop()[1:])
    if condition is None and len(words) > 1 and words[-1].lower() in _CONDITION_WORDS:
        condition = words.pop()
    if size is None and len(words) > 1 and _SIZE_WORD.match(words[-1]):
        size = _size_words(words)
    return " ".join(words), size, condition, price


def split_want(item: str, sizes: str | None, max_price: float | None) -> tuple[str, str | None, float | None]:
    """``dunk panda 10, 10.5 $150`` → the pair, ``10, 10.5`` and 150."""
    words = item.split()
    if max_price is None and len(words) > 1 and _PRICE_WORD.match(words[-1]):
        max_price = PRICE.convert(words.pop()[1:])
    if sizes is None:
        tail: list[str] = []
        while len(words) > 1 and _SIZE_WORD.match(words[-1]):
            tail.insert(0, _size_words(words).rstrip(","))
        if tail:
            sizes = ", ".join(tail)
    return " ".join(words), sizes, max_price


def _size_words(words: list[str]) -> str:
    """Pop the size at the end of ``words``, with its system when it is a word of its own (``EU 44``)."""
    size = words.pop()
    if len(words) > 1 and words[-1].lower() in _SYSTEMS:
        size = f"{words.pop()} {size}"
    return size


async def resolve_pair(ctx: Context, item: str) -> CatalogProduct:
    """The catalog pair ``item`` names, or a clear refusal listing the closest names."""
    market = ctx.service(Market)
    text = item.strip()
    resolved = await market.resolve(text)
    if resolved.product is not None:
        return resolved.product
    if text.startswith("#"):
        raise UserError(f"No catalog pair {clip(text, 20)}.")
    names = [hit.name for hit in resolved.candidates[:5]] or market.closest(text)
    hint = f" Did you mean: {'; '.join(escape(n) for n in names)}?" if names else ""
    raise UserError(f"No single catalog pair matches “{escape(clip(text, 60))}”.{hint} Use the exact name or its #id.")


def _have_line(row: TradeHave) -> str:
    parts = [f"#{row.id} **{escape(row.item_name)}** · size {escape(row.size_key)} · "
             f"{CONDITION_LABELS.get(row.condition, row.condition)}"]  # fmt: skip
    parts.append(f"for sale ${row.price:,.0f}" if row.price is not None else "for trade")
    if row.local_km is not None:
        parts.append(f"meet-up within {row.local_km:g} km")
    if row.accepts:
        parts.append(f"takes {len(row.accepts)} specific pair{'s' if len(row.accepts) != 1 else ''}")
    if row.photos:
        parts.append(f"📷 {len(row.photos)}")
    if row.note:
        parts.append(f"“{escape(row.note)}”")
    return " · ".join(parts)


def _want_line(row: TradeWant) -> str:
    text = f"#{row.id} **{escape(row.item_name)}** · sizes {escape(', '.join(row.sizes))}"
    if row.conditions:
        text += " · " + "/".join(row.conditions)
    if row.max_price is not None:
        text += f" · up to ${row.max_price:,.0f}"
    return text


async def have_add(
    ctx: Context, item: str, size: str | None = None, condition: str | None = None, note: str | None = None,
    price: float | None = None, local: float | None = None, photos: list[Attachment] | None = None,
) -> Reply:  # fmt: skip
    trades = ctx.service(Trades)
    item, size, condition, price = split_have(item, size, condition, price)
    product = await resolve_pair(ctx, item)
    if size is None:
        raise UserError(f"Which size? e.g. `/have add {clip(product.name, 60)} 10 ds`.")
    values: dict[str, Any] = {
        "catalog_id": product.id, "item_name": product.name, "size": size[:16], "size_key": one_size(size),
        "condition": condition_of(condition or "ds"), "note": (note or "").strip(), "price": price,
        "local_km": await _local(trades, ctx.member.id, local), "accepts": None,
    }  # fmt: skip
    stored = await trades.photos.store_all(photos or [])
    values["photos"] = [photo.filename for photo in stored]
    row = await trades.add_have(ctx.member.id, values)
    how = f"for sale at ${price:,.0f}" if price is not None else "for trade: the matcher looks for a swap"
    return Reply(title="📦 Listed", text=f"{_have_line(row)}\nListed {how}.", ephemeral=True)


async def _local(trades: Trades, member_id: int, local: float | None) -> float | None:
    """A meet-up radius, once we know where the member is (the scene slice keeps coarse locations)."""
    if local is None:
        return None
    if local > trades.settings.max_local_km:
        raise UserError(f"`local`: at most {trades.settings.max_local_km:g} km.")
    if not trades.has_locations():
        raise UserError("Meet-up listings need member locations, which this server doesn't run.")
    if member_id not in await trades.locations([member_id]):
        raise UserError("Set your city first with `/location set CITY`: meet-ups are matched by distance.")
    return local


async def have_photos(ctx: Context, id: int) -> Reply:
    """A listed have's photos: listings are public, so anyone may look."""
    trades = ctx.service(Trades)
    async with trades.db.read() as session:
        row = await session.get(TradeHave, id)
    if row is None or row.status != "open":
        raise UserError(f"No open listing #{id}.")
    if not row.photos:
        raise UserError(f"Listing #{id} has no photos.")
    shas = [name.split(".")[0] for name in row.photos]  # the card's copies: JPEGs sized for chats
    images = [ReplyImage(name=f"{sha}.jpg", data=await trades.photos.display(sha)) for sha in shas]
    return Reply(title=f"📷 Listing #{row.id}", text=_have_line(row), images=images)


async def have_list(ctx: Context) -> Reply:
    haves, _wants = await ctx.service(Trades).my_listings(ctx.member.id)
    lines = [_have_line(row) for row in haves[:_LISTED]]
    more = f"\n…and {len(haves) - _LISTED} more." if len(haves) > _LISTED else ""
    text = "\n".join(lines) + more if lines else "No haves yet. Add one with `/have add ITEM SIZE [condition]`."
    return Reply(title="📦 Your haves", text=text, ephemeral=True)


async def have_edit(ctx: Context, id: int, condition: str | None = None, note: str | None = None,
                    price: float | None = None, local: float | None = None) -> Reply:  # fmt: skip
    trades = ctx.service(Trades)
    values: dict[str, Any] = {}
    if condition is not None:
        values["condition"] = condition_of(condition)
    if note is not None:
        values["note"] = "" if note.strip() == "-" else note.strip()
    if price is not None:
        values["price"] = price
    if local is not None:
        values["local_km"] = await _local(trades, ctx.member.id, local)
    if not values:
        raise UserError("Give at least one of condition, note, price or local to change.")
    row = await trades.edit_have(ctx.member.id, id, values)
    return Reply(title="✏️ Updated", text=_have_line(row), ephemeral=True)


async def have_remove(ctx: Context, id: int) -> Reply:
    row = await ctx.service(Trades).remove_have(ctx.member.id, id)
    return Reply(title="🗑️ Removed", text=f"#{row.id} {escape(row.item_name)} is no longer listed.", ephemeral=True)


async def have_accepts(ctx: Context, id: int, item: str, size: str | None = None) -> Reply:
    """Add a pair this have would be traded for; ``none`` clears the list (the wants apply again)."""
    trades = ctx.service(Trades)
    if item.strip().lower() in {"none", "clear", "-"}:
        row = await trades.edit_have(ctx.member.id, id, {"accepts": None})
        return Reply(title="✏️ Accept list cleared", text=f"#{row.id} now goes for anything on your wants.",
                     ephemeral=True)  # fmt: skip
    item, size, _condition, _price = split_have(item, size, None, None)
    product = await resolve_pair(ctx, item)
    if size is None:
        raise UserError(f"Which size would you take? e.g. `/have accepts {id} {clip(product.name, 60)} 10`.")
    entry = {"item": product.id, "size": one_size(size)}
    async with trades.db.read() as session:
        current = await session.get(TradeHave, id)
        existing = list(current.accepts or []) if current is not None and current.member_id == ctx.member.id else []
    if entry in existing:
        raise UserError("That pair and size is on this listing's accept list already.")
    if len(existing) >= 25:
        raise UserError("A listing takes at most 25 pairs; clear the list with `none` to start over.")
    row = await trades.edit_have(ctx.member.id, id, {"accepts": [*existing, entry]})
    return Reply(title="✏️ Will take", text=f"#{row.id} now goes only for: " + "; ".join(
        f"#{a['item']} size {a['size']}" for a in row.accepts or []) + f" (latest: {escape(product.name)}).",
        ephemeral=True)  # fmt: skip


async def want_add(ctx: Context, item: str, sizes: str | None = None, conditions: str | None = None,
                   max_price: float | None = None) -> Reply:  # fmt: skip
    trades = ctx.service(Trades)
    item, sizes, max_price = split_want(item, sizes, max_price)
    keys = want_sizes(sizes)
    product = await resolve_pair(ctx, item)
    values: dict[str, Any] = {
        "catalog_id": product.id, "item_name": product.name, "sizes": keys,
        "conditions": conditions_of(conditions) if conditions else None, "max_price": max_price,
    }  # fmt: skip
    row = await trades.add_want(ctx.member.id, values)
    text = _want_line(row)
    for_sale = await _for_sale(trades, row)
    if for_sale:
        text += "\nFor sale now:\n" + "\n".join(_have_line(have) for have in for_sale)
    return Reply(title="🎯 Wanted", text=text, ephemeral=True)


async def _for_sale(trades: Trades, want: TradeWant) -> list[TradeHave]:
    """Other members' haves for sale that this want would take, cheapest first (sales aren't matched
    into trades, so the member hears about them here)."""
    query = select(TradeHave).where(
        TradeHave.catalog_id == want.catalog_id, TradeHave.status == "open", TradeHave.price.is_not(None),
        TradeHave.member_id != want.member_id, TradeHave.size_key.in_(want.sizes),
    )  # fmt: skip
    if want.max_price is not None:
        query = query.where(TradeHave.price <= want.max_price)
    if want.conditions:
        query = query.where(TradeHave.condition.in_(want.conditions))
    async with trades.db.read() as session:
        return list((await session.execute(query.order_by(TradeHave.price, TradeHave.id).limit(5))).scalars())


async def want_list(ctx: Context) -> Reply:
    _haves, wants = await ctx.service(Trades).my_listings(ctx.member.id)
    lines = [_want_line(row) for row in wants[:_LISTED]]
    more = f"\n…and {len(wants) - _LISTED} more." if len(wants) > _LISTED else ""
    text = "\n".join(lines) + more if lines else "No wants yet. Add one with `/want add ITEM SIZES`."
    return Reply(title="🎯 Your wants", text=text, ephemeral=True)


async def want_edit(ctx: Context, id: int, sizes: str | None = None, conditions: str | None = None,
                    max_price: float | None = None) -> Reply:  # fmt: skip
    values: dict[str, Any] = {}
    if sizes is not None:
        values["sizes"] = want_sizes(sizes)
    if conditions is not None:
        values["conditions"] = None if conditions.strip().lower() == "any" else conditions_of(conditions)
    if max_price is not None:
        values["max_price"] = None if max_price == 0 else max_price
    if not values:
        raise UserError("Give at least one of sizes, conditions or max_price to change.")
    row = await ctx.service(Trades).edit_want(ctx.member.id, id, values)
    return Reply(title="✏️ Updated", text=_want_line(row), ephemeral=True)


async def want_remove(ctx: Context, id: int) -> Reply:
    row = await ctx.service(Trades).remove_want(ctx.member.id, id)
    return Reply(title="🗑️ Removed", text=f"You no longer want #{row.id} {escape(row.item_name)}.", ephemeral=True)


_SIZES = Param("sizes", "Sizes you'd take: 10, 10.5, EU 44, 5Y", required=False, max_length=80)
_CONDITIONS = Param("conditions", "Conditions you'd take: ds, vnds, used or any (default any)", required=False,
                    max_length=30)  # fmt: skip
_MAX_PRICE = Param("max_price", "Most you'd pay in USD (0 in /want edit removes it)", type=ParamType.NUMBER,
                   required=False, min_value=0, max_value=100_000)  # fmt: skip

COMMANDS = (
    Command("have add", "List a pair you have: for trade, or for sale with a price.", have_add,
            (pair_param(), Param("size", "Its size, e.g. 10, W 11.5, 5Y, EU 44", required=False, max_length=16),
             CONDITION, NOTE, PRICE, LOCAL,
             Param("photos", "Photos of the pair (up to 4)", type=ParamType.ATTACHMENTS, required=False,
                   max_files=4))),
    Command("have photos", "A listing's photos.", have_photos, (_ID,)),
    Command("have list", "Your haves.", have_list, private=True),
    Command("have edit", "Change a have's condition, note, price or meet-up radius (note - clears).", have_edit,
            (_ID, CONDITION, NOTE, PRICE, LOCAL), private=True),
    Command("have remove", "Take a have off the list.", have_remove, (_ID,), private=True),
    Command("have accepts", "Trade this have only for given pairs (item none: back to your wants).", have_accepts,
            (_ID, pair_param(), Param("size", "The size you'd take", required=False, max_length=16)), private=True),
    Command("want add", "Say what you're after: a pair and the sizes you'd take.", want_add,
            (pair_param(), _SIZES, _CONDITIONS, _MAX_PRICE)),
    Command("want list", "Your wants.", want_list, private=True),
    Command("want edit", "Change a want's sizes, conditions or highest price.", want_edit,
            (_ID, _SIZES, _CONDITIONS, _MAX_PRICE), private=True),
    Command("want remove", "Drop a want.", want_remove, (_ID,), private=True),
)  # fmt: skip
