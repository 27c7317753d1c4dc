"""Matching events against alert rules, through an index whose cost follows the matches, not the rules.

Every rule is filed under exactly one *anchor*, the most selective thing an event must have for the
rule to match:

1. the rarest pair of its required keywords, or its only keyword. Rarest means appearing in the
   fewest product titles: the index is given word and word-pair counts from the catalogue the
   monitors know (``title_counts``), learns from the events it sees, and breaks ties towards rarer,
   longer words. A pair is far more selective than either word: ``unc`` and ``toe`` each appear in
   many titles, both together in few. An event looks up every pair of its words, a few dozen
   dictionary probes;
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
import operator
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


def pair_key(first: str, second: str) -> str:
    return f"{first} {second}" if first < second else f"{second} {first}"


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

    @property
    def sorted_tokens(self) -> list[str]:
        return sorted(self.tokens)

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


class _Bits:
    """Gives each value seen (a size, a store, a brand, a kind) its own bit, so a rule's set of wanted
    values and an event's set of present values compare with one ``&``."""

    def __init__(self) -> None:
        self._bits: dict[str, int] = {}

    def bit(self, value: str) -> int:
        found = self._bits.get(value)
        if found is None:
            found = self._bits[value] = 1 << len(self._bits)
        return found

    def mask(self, values: Iterable[str]) -> int:
        mask = 0
        for value in values:
            mask |= self.bit(value)
        return mask

    def known(self, values: Iterable[str]) -> int:
        """The mask of the values that some rule asked for (others cannot match anything)."""
        mask = 0
        bits = self._bits
        for value in values:
            mask |= bits.get(value, 0)
        return mask


# A compiled rule entry: (kinds, sizes, priced, price_min, price_max, stores, brands, extra keywords,
# excluded words, slow, multi, criteria id). ``slow`` sends the rare rules with alternatives, deal
# scores or a location through ``Criteria.matches``; ``multi`` marks entries filed under several
# keys, which an event may reach twice.
_Entry = tuple[int, int, bool, float, float, int, int, frozenset[str] | None, frozenset[str] | None, bool, bool, int]


class RuleIndex:
    """The inverted index. ``add``/``remove`` keep it current as members edit rules.

    ``title_counts`` says in how many product titles each word, and each pair of words (``"a b"``,
    sorted), appears; the better it is, the fewer candidates an event pulls. ``observe`` adds an
    event's words to it; ``rebuild`` re-files every rule under the current counts.

    Each distinct ``Criteria`` is compiled once into an ``_Entry`` of bitmasks and bounds, so checking
    a candidate is a handful of integer operations rather than set algebra.
    """

    def __init__(self, title_counts: Mapping[str, int] | None = None) -> None:
        self.title_counts: dict[str, int] = defaultdict(int, title_counts or {})
        self._index: dict[str, dict[str, dict[int, _Entry]]] = {
            name: defaultdict(dict) for name in ("pair", "word", "brand", "store", "size", "kind")
        }
        self._ids: dict[Criteria, int] = {}
        self._criteria: dict[int, Criteria] = {}
        self._holders: dict[int, dict[int, RuleRef]] = {}
        self._filed: dict[int, tuple[str, list[str]]] = {}
        self._rules: dict[int, RuleRef] = {}
        self._keyword_counts: dict[str, int] = defaultdict(int)
        self._next_id = 0
        self._kinds, self._sizes, self._stores, self._brands = _Bits(), _Bits(), _Bits(), _Bits()
        #: distinct criteria with a minimum deal score; none means events need no deal lookup
        self.deal_rules = 0

    def __len__(self) -> int:
        return len(self._rules)

    def _compile(self, cid: int, criteria: Criteria, kind: str, keys: list[str]) -> _Entry:
        anchored = set(keys[0].split(" ")) if kind in ("pair", "word") and criteria.keywords else set()
        extra = frozenset(criteria.keywords - anchored) or None
        priced = criteria.price_min is not None or criteria.price_max is not None
        slow = bool(criteria.any_groups or criteria.min_deal is not None or criteria.location)
        return (
            self._kinds.mask(criteria.kinds),
            self._sizes.mask(criteria.sizes),
            priced,
            criteria.price_min if criteria.price_min is not None else -math.inf,
            criteria.price_max if criteria.price_max is not None else math.inf,
            self._stores.mask(criteria.stores),
            self._brands.mask(criteria.brands),
            extra,
            criteria.exclude or None,
            slow,
            len(keys) > 1,
            cid,
        )

    def add(self, rule: RuleRef) -> None:
        if rule.rule_id in self._rules:
            self.remove(rule.rule_id)
        self._rules[rule.rule_id] = rule
        cid = self._ids.get(rule.criteria)
        if cid is None:
            cid = self._ids[rule.criteria] = self._next_id
            self._next_id += 1
            self._criteria[cid] = rule.criteria
            self._holders[cid] = {}
            kind, keys = rule.criteria.anchors(self.title_counts, self._keyword_counts)
            self._filed[cid] = (kind, keys)
            entry = self._compile(cid, rule.criteria, kind, keys)
            self.deal_rules += rule.criteria.min_deal is not None
            for key in keys:
                self._index[kind][key][cid] = entry
            if kind in ("pair", "word") and rule.criteria.keywords:
                for word in keys[0].split(" "):
                    self._keyword_counts[word] += 1
        self._holders[cid][rule.rule_id] = rule

    def remove(self, rule_id: int) -> None:
        rule = self._rules.pop(rule_id, None)
        if rule is None:
            return
        cid = self._ids[rule.criteria]
        holders = self._holders[cid]
        del holders[rule_id]
        if holders:
            return
        del self._holders[cid], self._ids[rule.criteria], self._criteria[cid]
        self.deal_rules -= rule.criteria.min_deal is not None
        kind, keys = self._filed.pop(cid)
        for key in keys:
            bucket = self._index[kind][key]
            bucket.pop(cid, None)
            if not bucket:
                del self._index[kind][key]
        if kind in ("pair", "word") and rule.criteria.keywords:
            for word in keys[0].split(" "):
                self._keyword_counts[word] -= 1

    def observe(self, event: MatchEvent) -> None:
        tokens = event.sorted_tokens
        for i, token in enumerate(tokens):
            self.title_counts[token] += 1
            for other in tokens[i + 1 :]:
                self.title_counts[f"{token} {other}"] += 1

    def rebuild(self) -> None:
        rules = list(self._rules.values())
        self.__init__(self.title_counts)  # type: ignore[misc]
        for rule in rules:
            self.add(rule)

    def _buckets(self, event: MatchEvent) -> list[dict[int, _Entry]]:
        found: list[dict[int, _Entry]] = []
        index = self._index
        words_index = index["word"]
        if words_index:
            found.extend(bucket for token in event.tokens if (bucket := words_index.get(token)))
        pairs = index["pair"]
        if pairs:
            tokens = event.sorted_tokens
            for i, first in enumerate(tokens):
                for second in tokens[i + 1 :]:
                    bucket = pairs.get(f"{first} {second}")
                    if bucket:
                        found.append(bucket)
        for kind, keys in (("brand", (event.brand,)), ("store", (event.store,)), ("size", event.sizes),
                           ("kind", (event.kind,))):
            kind_index = index[kind]
            if kind_index:
                found.extend(bucket for key in keys if (bucket := kind_index.get(key)))
        return found

    def candidates(self, event: MatchEvent) -> set[Criteria]:
        """The criteria an event's anchors reach (before checking them); for tests and tuning."""
        return {self._criteria[cid] for bucket in self._buckets(event) for cid in bucket}

    def match(self, event: MatchEvent) -> list[RuleRef]:
        """Every rule the event matches, in rule id order."""
        kind_bit = self._kinds.known((event.kind,))
        if not kind_bit:
            return []
        sizes = self._sizes.known(event.sizes)
        store = self._stores.known((event.store,))
        brand = self._brands.known((event.brand,))
        price = event.price
        tokens = event.tokens
        holders = self._holders
        criteria = self._criteria
        seen: set[int] = set()
        matched: list[RuleRef] = []
        for bucket in self._buckets(event):
            for entry in bucket.values():
                kinds, want_sizes, priced, low, high, stores, brands, extra, exclude, slow, multi, cid = entry
                if not kinds & kind_bit:
                    continue
                if want_sizes and not want_sizes & sizes:
                    continue
                if priced and (price is None or not low <= price <= high):
                    continue
                if stores and not stores & store:
                    continue
                if brands and not brands & brand:
                    continue
                if extra is not None and not extra <= tokens:
                    continue
                if exclude is not None and not exclude.isdisjoint(tokens):
                    continue
                if slow and not criteria[cid].matches(event):
                    continue
                if multi:
                    if cid in seen:
                        continue
                    seen.add(cid)
                matched.extend(holders[cid].values())
        matched.sort(key=_RULE_ID)
        return matched


_RULE_ID = operator.attrgetter("rule_id")


def title_counts(titles: Iterable[str]) -> dict[str, int]:
    """Word and word-pair counts over product titles, for ``RuleIndex(title_counts=...)``."""
    counts: dict[str, int] = defaultdict(int)
    for title in titles:
        tokens = sorted(set(words(title)))
        for i, token in enumerate(tokens):
            counts[token] += 1
            for other in tokens[i + 1 :]:
                counts[f"{token} {other}"] += 1
    return dict(counts)


def brute_force(rules: Iterable[RuleRef], event: MatchEvent) -> list[RuleRef]:
    """The reference: check every rule."""
    return sorted((rule for rule in rules if rule.criteria.check(event) is None), key=lambda rule: rule.rule_id)
