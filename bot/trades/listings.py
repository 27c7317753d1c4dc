"""Listings: what members have (for trade, or for sale with a price) and what they want.

Items are catalog pairs (resolved by the market slice before they get here); sizes are the alert
rules' canonical keys (``bot.alerts.sizes``), so a have in ``US 10`` meets a want for ``EU 44``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.alerts.sizes import SizeError, normalise_size, parse_sizes
from bot.trades.models import TradeHave, TradeWant
from core.errors import BadArgument

#: deadstock (new, unworn), very near deadstock, used
CONDITIONS: tuple[str, ...] = ("ds", "vnds", "used")
_CONDITION_WORDS = {"new": "ds", "deadstock": "ds", "bnib": "ds", "ds": "ds", "vnds": "vnds",
                    "used": "used", "worn": "used"}  # fmt: skip
CONDITION_LABELS = {"ds": "deadstock", "vnds": "very near deadstock", "used": "used"}
TRADE, SALE, WANT = "trade", "sale", "want"


@dataclass(frozen=True)
class Listing:
    """One have or want, as other slices see it (``Trades.listings``)."""

    id: int
    #: ``trade`` (a have for trade), ``sale`` (a have with a price) or ``want``
    kind: str
    member_id: int
    catalog_id: int
    item: str
    #: a have's size, or a want's sizes
    sizes: tuple[str, ...]
    #: a have's condition, or the conditions a want takes (empty: any)
    conditions: tuple[str, ...]
    #: a have's asking price, or a want's highest price
    price: float | None
    note: str
    #: a meet-up-only have's radius
    local_km: float | None
    created_at: datetime

    @property
    def size(self) -> str:
        return ", ".join(self.sizes)


def condition_of(raw: str, field: str = "condition") -> str:
    key = _CONDITION_WORDS.get(raw.strip().lower())
    if key is None:
        raise BadArgument(field, "use ds (new), vnds or used")
    return key


def conditions_of(raw: str) -> list[str]:
    """``ds, vnds`` → ``["ds", "vnds"]``; ``any`` → every condition."""
    if raw.strip().lower() == "any":
        return list(CONDITIONS)
    found: list[str] = []
    for part in raw.replace(";", ",").replace("|", ",").split(","):
        if part.strip():
            key = condition_of(part, "conditions")
            if key not in found:
                found.append(key)
    if not found:
        raise BadArgument("conditions", "name at least one of ds, vnds or used (or any)")
    return found


def one_size(raw: str) -> str:
    """A have's size, canonical; the error names the ``size`` parameter."""
    try:
        return normalise_size(raw)
    except SizeError as exc:
        raise BadArgument("size", str(exc).split(": ", 1)[-1]) from None


def want_sizes(raw: str | None) -> list[str]:
    """A want's sizes, canonical; a want with none is refused (it could never match)."""
    if raw is None or not raw.strip():
        raise BadArgument("sizes", "a want needs at least one size, e.g. `10, 10.5` or `EU 44`")
    sizes = parse_sizes(raw)
    if not sizes:
        raise BadArgument("sizes", "a want needs at least one size, e.g. `10, 10.5` or `EU 44`")
    return sizes


def have_listing(row: TradeHave) -> Listing:
    return Listing(
        id=row.id, kind=SALE if row.price is not None else TRADE, member_id=row.member_id, catalog_id=row.catalog_id,
        item=row.item_name, sizes=(row.size_key,), conditions=(row.condition,), price=row.price, note=row.note,
        local_km=row.local_km, created_at=row.created_at,
    )  # fmt: skip


def want_listing(row: TradeWant) -> Listing:
    return Listing(
        id=row.id, kind=WANT, member_id=row.member_id, catalog_id=row.catalog_id, item=row.item_name,
        sizes=tuple(row.sizes), conditions=tuple(row.conditions or ()), price=row.max_price, note="",
        local_km=None, created_at=row.created_at,
    )  # fmt: skip
