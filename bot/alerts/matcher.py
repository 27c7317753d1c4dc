"""Matching events against alert rules, through an index whose cost follows the matches, not the rules.

Every rule is filed under exactly one *anchor*, the most selective thing an event must have for the
rule to match:

1. its rarest required keyword (fewest rules filed under it so far, ties to the longest word);
2. else every word of its first ``any`` group (one of them must appear);
3. else its brands, else its stores, else its sizes;
4. else its event kinds (rules that want, say, every restock).

An event looks up only the anchors it carries (its title words, brand, store, sizes, kind), and only
those candidates are checked in full. Rules with identical criteria (many members want the same
pair) share one ``Criteria`` object, so each distinct criteria set is checked once per event.
``brute_force`` is the reference the property tests compare the index against.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bot.alerts.sizes import event_size

_WORD = re.compile(r"[a-z0-9]+")

EVENT_KINDS = ("restock", "new_product", "price_drop", "drop_reminder", "trade_match")
#: a monitor's ``price_change`` is a price drop only when the price went down
KIND_ALIASES = {"price_change": "price_drop"}
DEFAULT_KINDS = frozenset({"restock", "new_product"})


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def fold(text: str) -> str:
    return " ".join(words(text))


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
                return "no wanted size in stock"
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

    def anchors(self, keyword_counts: Mapping[str, int]) -> tuple[str, list[str]]:
        """The index this rule is filed in and its keys there (see the module docstring)."""
        if self.keywords:
            best = min(self.keywords, key=lambda w: (keyword_counts.get(w, 0), -len(w), w))
            return "word", [best]
        if self.any_groups:
            return "word", sorted(self.any_groups[0])
        if self.brands:
            return "brand", sorted(self.brands)
        if self.stores:
            return "store", sorted(self.stores)
        if self.sizes:
            return "size", sorted(self.sizes)
        return "kind", sorted(self.kinds)


@dataclass(frozen=True)
class RuleRef:
    """A rule as the matcher sees it: who owns it and how urgent it is, plus its criteria."""

    rule_id: int
    member_id: int
    criteria: Criteria
    high_priority: bool = False


@dataclass(frozen=True)
class MatchEvent:
    """An event prepared once for matching: words, canonical sizes, per-size deal scores."""

    event_id: str
    kind: str
    tokens: frozenset[str]
    brand: str
    store: str
    sizes: frozenset[str]
    price: float | None
    #: canonical size (or ``*`` for the product as a whole) → discount in % vs the resale median
    deals: Mapping[str, float] = field(default_factory=dict)
    location: tuple[float, float] | None = None

    def best_deal(self, sizes: Iterable[str]) -> float | None:
        found = [self.deals[s] for s in sizes if s in self.deals]
        if "*" in self.deals:
            found.append(self.deals["*"])
        return max(found) if found else None


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
    in_stock = payload.get("sizes_in_stock") or payload.get("sizes") or []
    location = payload.get("location")
    where: tuple[float, float] | None = None
    if isinstance(location, Mapping) and "lat" in location and "lon" in location:
        where = (float(location["lat"]), float(location["lon"]))
    return MatchEvent(
        event_id=str(payload.get("event_id", "")),
        kind=kind,
        tokens=frozenset(words(text)),
        brand=fold(str(product.get("brand") or "")),
        store=str(payload.get("store") or "").lower(),
        sizes=frozenset(event_size(str(s)) for s in in_stock) if isinstance(in_stock, list) else frozenset(),
        price=price,
        deals=dict(deals or {}),
        location=where,
    )


def _float(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(min(1.0, math.sqrt(a)))


class RuleIndex:
    """The inverted index. ``add``/``remove`` keep it current as members edit rules."""

    def __init__(self) -> None:
        self._index: dict[str, dict[str, dict[Criteria, None]]] = {
            name: defaultdict(dict) for name in ("word", "brand", "store", "size", "kind")
        }
        self._holders: dict[Criteria, dict[int, RuleRef]] = {}
        self._rules: dict[int, RuleRef] = {}
        self._keyword_counts: dict[str, int] = defaultdict(int)
        self._filed: dict[Criteria, tuple[str, list[str]]] = {}

    def __len__(self) -> int:
        return len(self._rules)

    def add(self, rule: RuleRef) -> None:
        if rule.rule_id in self._rules:
            self.remove(rule.rule_id)
        self._rules[rule.rule_id] = rule
        holders = self._holders.get(rule.criteria)
        if holders is None:
            holders = self._holders[rule.criteria] = {}
            kind, keys = rule.criteria.anchors(self._keyword_counts)
            self._filed[rule.criteria] = (kind, keys)
            for key in keys:
                self._index[kind][key][rule.criteria] = None
            if kind == "word" and rule.criteria.keywords:
                self._keyword_counts[keys[0]] += 1
        holders[rule.rule_id] = rule

    def remove(self, rule_id: int) -> None:
        rule = self._rules.pop(rule_id, None)
        if rule is None:
            return
        holders = self._holders[rule.criteria]
        del holders[rule_id]
        if holders:
            return
        del self._holders[rule.criteria]
        kind, keys = self._filed.pop(rule.criteria)
        for key in keys:
            bucket = self._index[kind][key]
            bucket.pop(rule.criteria, None)
            if not bucket:
                del self._index[kind][key]
        if kind == "word" and rule.criteria.keywords:
            self._keyword_counts[keys[0]] -= 1

    def candidates(self, event: MatchEvent) -> set[Criteria]:
        found: set[Criteria] = set()
        words_index = self._index["word"]
        for token in event.tokens:
            bucket = words_index.get(token)
            if bucket:
                found.update(bucket)
        for kind, keys in (
            ("brand", (event.brand,)),
            ("store", (event.store,)),
            ("size", event.sizes),
            ("kind", (event.kind,)),
        ):
            index = self._index[kind]
            if not index:
                continue
            for key in keys:
                bucket = index.get(key)
                if bucket:
                    found.update(bucket)
        return found

    def match(self, event: MatchEvent) -> list[RuleRef]:
        """Every rule the event matches, in rule id order."""
        matched: list[RuleRef] = []
        for criteria in self.candidates(event):
            if criteria.check(event) is None:
                matched.extend(self._holders[criteria].values())
        matched.sort(key=lambda rule: rule.rule_id)
        return matched


def brute_force(rules: Iterable[RuleRef], event: MatchEvent) -> list[RuleRef]:
    """The reference: check every rule."""
    return sorted((rule for rule in rules if rule.criteria.check(event) is None), key=lambda rule: rule.rule_id)
