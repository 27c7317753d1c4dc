"""What changed between two snapshots of a product, as typed changes. Pure functions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.monitors.sources.shopify import Product, Variant

ProductKind = Literal["new_product", "restock", "sold_out", "price_change"]
StoreKind = Literal["password_up", "password_down"]
EVENT_KINDS: tuple[str, ...] = ("restock", "new_product", "sold_out", "price_change", "password_up", "password_down")


@dataclass(frozen=True)
class Change:
    kind: ProductKind
    product: Product
    #: the variants this change is about, in their new state (a sold-out size: as it was, if removed)
    variants: tuple[Variant, ...]
    price: float | None
    old_price: float | None = None

    def with_variants(self, variants: tuple[Variant, ...]) -> Change:
        return Change(self.kind, self.product, variants, _min_price(variants) or self.price, self.old_price)


def _min_price(variants: tuple[Variant, ...] | list[Variant]) -> float | None:
    prices = [v.price for v in variants if v.price is not None]
    return min(prices) if prices else None


def diff(old: Product | None, new: Product) -> list[Change]:
    """Changes from ``old`` to ``new``; a product never seen before is a ``new_product``.

    A size that appears in stock counts as a restock, and one removed while in stock as sold out, so a
    store that rebuilds its variants (new ids) is still read right.
    """
    if old is None:
        in_stock = tuple(v for v in new.variants if v.available)
        return [Change("new_product", new, in_stock, _min_price(in_stock) or _min_price(new.variants))]
    before = {v.id: v for v in old.variants}
    after = {v.id: v for v in new.variants}
    restocked: list[Variant] = []
    sold_out: list[Variant] = []
    repriced: list[tuple[Variant, Variant]] = []
    for vid, variant in after.items():
        previous = before.get(vid)
        if variant.available and (previous is None or not previous.available):
            restocked.append(variant)
        elif previous is not None and previous.available and not variant.available:
            sold_out.append(variant)
        if (
            previous is not None
            and previous.price is not None
            and variant.price is not None
            and previous.price != variant.price
        ):
            repriced.append((previous, variant))
    sold_out.extend(v for vid, v in before.items() if vid not in after and v.available)
    changes: list[Change] = []
    if restocked:
        changes.append(Change("restock", new, tuple(restocked), _min_price(restocked)))
    if sold_out:
        changes.append(Change("sold_out", new, tuple(sold_out), _min_price(sold_out)))
    if repriced:
        changes.append(
            Change(
                "price_change",
                new,
                tuple(after_v for _, after_v in repriced),
                _min_price([after_v for _, after_v in repriced]),
                _min_price([before_v for before_v, _ in repriced]),
            )
        )
    return changes
