"""What an alert rule asks of an event (``Criteria``), the event as matching sees it (``MatchEvent``),
and ``brute_force``, the reference that checks every rule.

``bot.alerts.rule_index.RuleIndex`` finds the same matches without checking every rule; the property
tests compare the two.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

from bot.alerts.sizes import event_size
from core.geo import distance_km

_WORD = re.compile(r"[a-z0-9]+")

EVENT_KINDS = ("restock", "new_product", "price_drop", "drop_reminder", "trade_match", "prediction")
#: a monitor's ``price_change`` is a price drop only when the price went down
KIND_ALIASES = {"price_change": "price_drop"}
DEFAULT_KINDS = frozenset({"restock", "new_product"})


def pair_key(first: str, second: str) -> str:
    return f"{first} {second}" if first < second else f"{second} {first}"


def words(text: str) -> list[str]:
    return list(_words(text))


@functools.lru_cache(maxsize=8192)
def _words(text: str) -> tuple[str, ...]:
    """Cached: monitors report the same product titles again and again."""
    return tuple(_WORD.findall(text.lower()))


@functools.lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """Lower-case words joined by single spaces; cached, as brands and stores repeat."""
    return " ".join(_words(text))


@dataclass(frozen=True)
class Criteria:
    """What a rule asks of an event. Frozen and hashable, so equal criteria are shared."""

    keywords: frozenset[str] = frozenset()
    any_groups: tuple[frozenset[str], ...] = ()
    exclude: frozenset[str] = frozenset()
    brands: frozenset[str] = frozenset()
    stores: frozenset[str] = frozenset()
    sizes: frozenset[str] = frozenset()
    price_min: float | None = None
    price_max: float | None = None
    min_deal: float | None = None
    #: (latitude, longitude, radius in km); constrains only events that carry a location
    location: tuple[float, float, float] | None = None
    kinds: frozenset[str] = DEFAULT_KINDS

    def matches(self, event: MatchEvent) -> bool:
        """``check(event) is None``, without building reasons: the hot path of matching."""
        if event.kind not in self.kinds or not self.keywords <= event.tokens:
            return False
        tokens = event.tokens
        if self.any_groups and any(group.isdisjoint(tokens) for group in self.any_groups):
            return False
        if self.exclude and not self.exclude.isdisjoint(tokens):
            return False
        if self.brands and event.brand not in self.brands:
            return False
        if self.stores and event.store not in self.stores:
            return False
        if self.sizes and self.sizes.isdisjoint(event.sizes):
            return False
        if self.price_min is not None or self.price_max is not None:
            price = event.price
            if price is None:
                return False
            if (self.price_min is not None and price < self.price_min) or (
                self.price_max is not None and price > self.price_max
            ):
                return False
        if self.min_deal is not None:
            best = event.best_deal(self.sizes & event.sizes if self.sizes else event.sizes)
            if best is None or best < self.min_deal:
                return False
        if self.location is not None and event.location is not None:
            lat, lon, radius = self.location
            if distance_km(lat, lon, *event.location) > radius:
                return False
        return True

    def explain(self, event: MatchEvent) -> str:
        """Why a matching event matched, for ``/alerts test``: the parts of the rule it satisfied."""
        parts = [event.kind.replace("_", " ")]
        if self.keywords:
            parts.append("words " + " ".join(sorted(self.keywords)))
        for group in self.any_groups:
            parts.append(" / ".join(sorted(group & event.tokens)))
        if self.brands:
            parts.append("brand " + event.brand)
        if self.stores:
            parts.append("store " + event.store)
        if self.sizes:
            parts.append("size " + ", ".join(sorted(self.sizes & event.sizes)))
        if (self.price_min is not None or self.price_max is not None) and event.price is not None:
            parts.append(f"price {event.price:g}")
        if self.min_deal is not None:
            best = event.best_deal(self.sizes & event.sizes if self.sizes else event.sizes)
            parts.append(f"deal {best:.0f}%" if best is not None else "deal")
        if self.location is not None and event.location is not None:
            parts.append(f"{distance_km(*self.location[:2], *event.location):.0f} km away")
        return ", ".join(parts)

    def check(self, event: MatchEvent) -> str | None:
        """``None`` if the event matches, else the first reason it does not (for ``/alerts test``)."""
        if event.kind not in self.kinds:
            return f"kind {event.kind} not wanted"
        if not self.keywords <= event.tokens:
            return "missing keyword " + ", ".join(sorted(self.keywords - event.tokens))
        for group in self.any_groups:
            if group.isdisjoint(event.tokens):
                return "none of " + " / ".join(sorted(group))
        if not self.exclude.isdisjoint(event.tokens):
            return "excluded word " + ", ".join(sorted(self.exclude & event.tokens))
        if self.brands and event.brand not in self.brands:
            return f"brand {event.brand or '?'} not wanted"
        if self.stores and event.store not in self.stores:
            return f"store {event.store} not wanted"
        sizes = event.sizes
        if self.sizes:
            sizes = self.sizes & event.sizes
            if not sizes:
                return "none of your sizes is in this news"
        if self.price_min is not None or self.price_max is not None:
            if event.price is None:
                return "no price"
            if self.price_min is not None and event.price < self.price_min:
                return f"price {event.price:g} below {self.price_min:g}"
            if self.price_max is not None and event.price > self.price_max:
                return f"price {event.price:g} above {self.price_max:g}"
        if self.min_deal is not None:
            best = event.best_deal(sizes)
            if best is None or best < self.min_deal:
                shown = "unknown" if best is None else f"{best:.0f}%"
                return f"deal {shown} below {self.min_deal:g}%"
        if self.location is not None and event.location is not None:
            lat, lon, radius = self.location
            if distance_km(lat, lon, *event.location) > radius:
                return f"more than {radius:g} km away"
        return None

    def anchors(self, title_counts: Mapping[str, int], rule_counts: Mapping[str, int]) -> tuple[str, list[str]]:
        """The index this rule is filed in and its keys there (see the module docstring)."""
        options: list[tuple[int, int, str, list[str]]] = []
        if self.keywords:
            ranked = sorted(
                self.keywords, key=lambda w: (title_counts.get(w, 0), -len(w), rule_counts.get(w, 0), w)
            )
            if len(ranked) >= 2:
                pairs = [pair_key(a, b) for i, a in enumerate(ranked) for b in ranked[i + 1 :]]
                best = min(pairs, key=lambda key: (title_counts.get(key, 0), pairs.index(key)))
                options.append((title_counts.get(best, 0), 0, "pair", [best]))
            options.append((title_counts.get(ranked[0], 0), 1, "word", ranked[:1]))
        for group in self.any_groups:
            options.append((sum(title_counts.get(w, 0) for w in group), 2, "word", sorted(group)))
        if options:
            _count, _rank, kind, keys = min(options)
            return kind, keys
        if self.brands:
            return "brand", sorted(self.brands)
        if self.stores:
            return "store", sorted(self.stores)
        if self.sizes:
            return "size", sorted(self.sizes)
        return "kind", sorted(self.kinds)


@dataclass(frozen=True, slots=True)
class RuleRef:
    """A rule as the matcher sees it: who owns it and how urgent it is, plus its criteria."""

    rule_id: int
    member_id: int
    criteria: Criteria
    high_priority: bool = False


class MatchEvent(NamedTuple):
    """An event prepared once for matching: words, canonical sizes, per-size deal scores. A named tuple
    rather than a frozen dataclass: it is built for every event, and that is a third of the cost."""

    event_id: str
    kind: str
    tokens: frozenset[str]
    brand: str
    store: str
    sizes: frozenset[str]
    price: float | None
    #: canonical size (or ``*`` for the product as a whole) → discount in % vs the resale median
    deals: Mapping[str, float] = MappingProxyType({})
    location: tuple[float, float] | None = None

    def best_deal(self, sizes: Iterable[str]) -> float | None:
        """The best discount among ``sizes``; the product-wide figure only if no size has its own."""
        found = [self.deals[s] for s in sizes if s in self.deals]
        if found:
            return max(found)
        return self.deals.get("*")


def prepare_event(payload: Mapping[str, object], deals: Mapping[str, float] | None = None) -> MatchEvent:
    """Turn a ``monitor.event`` payload into a ``MatchEvent``."""
    product = payload.get("product")
    product = product if isinstance(product, Mapping) else {}
    kind = str(payload.get("kind", ""))
    price = _float(payload.get("price"))
    old_price = _float(payload.get("old_price"))
    if kind == "price_change":
        kind = "price_drop" if price is not None and old_price is not None and price < old_price else "price_rise"
    tags = product.get("tags") or []
    text = " ".join([str(product.get("title", "")), *(str(t) for t in tags if isinstance(tags, list))])
    location = payload.get("location")
    where: tuple[float, float] | None = None
    if isinstance(location, Mapping) and "lat" in location and "lon" in location:
        where = (float(location["lat"]), float(location["lon"]))
    return MatchEvent(
        event_id=str(payload.get("event_id", "")),
        kind=kind,
        tokens=_tokens(text),
        brand=fold(str(product.get("brand") or "")),
        store=str(payload.get("store") or "").lower(),
        sizes=event_sizes(kind, payload),
        price=price,
        deals=dict(deals) if deals else MappingProxyType({}),
        location=where,
    )


def event_sizes(kind: str, payload: Mapping[str, object]) -> frozenset[str]:
    """The sizes an event is news about, which is what a rule's ``sizes`` are checked against.

    - ``restock``: the sizes that came back (a size-10 watcher hears when 10 returns, not when 9 does
      while 10 merely stayed in stock);
    - ``price_drop`` / ``price_rise``: the repriced sizes that are in stock (a cheaper size you can't
      buy is no news);
    - ``sold_out``: the sizes that sold out;
    - anything else (new products, reports, reminders): the sizes in stock, or the sizes named.
    """
    changed = _canonical(payload.get("sizes"))
    in_stock = _canonical(payload.get("sizes_in_stock"))
    if kind in ("restock", "sold_out"):
        return changed
    if kind in ("price_drop", "price_rise"):
        return changed & in_stock if in_stock else changed
    return in_stock or changed


def _canonical(sizes: object) -> frozenset[str]:
    if not isinstance(sizes, list):
        return frozenset()
    return frozenset(event_size(str(size)) for size in sizes)


@functools.lru_cache(maxsize=8192)
def _tokens(text: str) -> frozenset[str]:
    return frozenset(_words(text))


def _float(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def brute_force(rules: Iterable[RuleRef], event: MatchEvent) -> list[RuleRef]:
    """The reference: check every rule."""
    return sorted((rule for rule in rules if rule.criteria.check(event) is None), key=lambda rule: rule.rule_id)
