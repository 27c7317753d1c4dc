"""The rule index: every alert rule an event matches, at a cost that follows the matches, not the
number of rules.

**Anchors decide which rules could match a product at all.** Each distinct criteria set is filed under
one anchor, the most selective thing an event must carry for it to match:

1. the rarest pair of its required keywords, or its only keyword. Rarest means appearing in the fewest
   product titles: the index is given word and word-pair counts from the catalogue (``title_counts``),
   learns from the events it sees, and breaks ties towards rarer, longer words. ``unc`` and ``toe`` each
   appear in many titles, both together in few;
2. else every word of its first ``any`` group (one of them must appear);
3. else its brands;
4. else it is *broad* (a store, sizes or just event kinds: "every restock at kith") and every product
   is a candidate.

**A plan per product does the rest.** What a rule asks of the product's title and brand (keywords,
alternatives, excluded words, brands) is the same for every event about that product, and monitors
report the same products again and again (restock, sold out, restock, price drop). So the first event
about a product checks its candidates' text once and compiles a ``_Plan``: the rules that passed, in
rule id order, with one bitmask per kind, size and store, and price ranges. Every later event about
the product is a handful of integer ``&``/``|`` on those masks and one C-level selection, whatever
the number of rules; only rules with a deal score (when the event has deal scores) or a location (when
it has one) are checked one by one. Plans are dropped exactly when a rule that could be in them
changes (by anchor word, brand, or all of them for a broad rule); past ``max_plans`` the oldest makes
room. The service compiles plans at startup for the products monitors reported recently.

``bot.alerts.matcher.brute_force`` is the reference the property tests compare this index against.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping
from itertools import chain, compress
from operator import attrgetter

from bot.alerts.matcher import Criteria, MatchEvent, RuleRef, words

#: compiled plans kept (a few kB each); the one compiled longest ago makes room for a new one
MAX_PLANS = 20_000
#: turns ``bin(mask)``, reversed, into a selector ``itertools.compress`` reads: b"\x01" where a bit is set
_SELECTOR = bytes.maketrans(b"01", b"\x00\x01")
_RULE_ID = attrgetter("rule_id")

#: a plan's key: the product's words and brand
PlanKey = tuple[frozenset[str], str]


class _Plan:
    """The rules whose text criteria one product satisfies (bit *i* of a mask is ``refs[i]``), with a
    mask per kind, size and store; per price, built the first time an event asks.

    The rules of one criteria set sit next to each other (``spans``), so the masks are built per
    criteria set, one run of bits at a time: ten thousand members who wrote the same rule cost what
    one does."""

    __slots__ = (
        "any_size", "any_store", "kinds", "located", "prices", "refs", "sizes", "spans", "starts", "stores",
        "with_deal",
    )  # fmt: skip

    def __init__(self, groups: list[tuple[Criteria, Mapping[int, RuleRef], tuple[str, ...]]]) -> None:
        self.refs: list[RuleRef] = list(chain.from_iterable(rules.values() for _, rules, _ in groups))
        self.spans: list[tuple[Criteria, int, int]] = []
        #: where each span starts, to find a bit's criteria set
        self.starts: list[int] = []
        width = len(self.refs)
        zero = b"0" * width
        digits: dict[str, bytearray] = {}  # per mask key, bit 0 last (as ``int(..., 2)`` reads it)
        start = 0
        for criteria, rules, keys in groups:
            size = len(rules)
            self.spans.append((criteria, start, start + size))
            self.starts.append(start)
            low = width - start - size
            for key in keys:
                row = digits.get(key)
                if row is None:
                    row = digits[key] = bytearray(zero)
                if size == 1:
                    row[low] = 49  # "1"
                else:
                    row[low : low + size] = b"1" * size
            start += size
        masks: dict[str, dict[str, int]] = {"kind": {}, "size": {}, "store": {}, "check": {}}
        for key, row in digits.items():
            namespace, _, value = key.partition(":")
            masks[namespace][value] = int(row, 2)
        self.kinds = masks["kind"]
        self.sizes = masks["size"]
        self.stores = masks["store"]
        self.any_size = self.sizes.pop("*", 0)
        self.any_store = self.stores.pop("*", 0)
        self.with_deal = masks["check"].get("min_deal", 0)
        self.located = masks["check"].get("location", 0)
        self.prices: dict[float | None, int] = {}

    def price_mask(self, price: float | None) -> int:
        found = self.prices.get(price)
        if found is None:
            at = math.nan if price is None else price  # every comparison with nan is false
            digits = "".join(  # bit 0 last
                [
                    ("1" if (c.price_min is None or at >= c.price_min) and (c.price_max is None or at <= c.price_max)
                     else "0") * (stop - start)
                    for c, start, stop in reversed(self.spans)
                ]
            )  # fmt: skip
            found = int(digits or "0", 2)
            if len(self.prices) < 32:  # a product has few prices; don't let a random walk grow this
                self.prices[price] = found
        return found

    def select(self, event: MatchEvent) -> list[RuleRef]:
        mask = self.kinds.get(event.kind, 0)
        if not mask:
            return []
        sizes = self.any_size
        for size in event.sizes:
            sizes |= self.sizes.get(size, 0)
        mask &= sizes & (self.any_store | self.stores.get(event.store, 0)) & self.price_mask(event.price)
        if not event.deals:
            mask &= ~self.with_deal  # a minimum deal score needs a deal score
        checked = mask & (self.with_deal | (self.located if event.location is not None else 0))
        while checked:  # once per criteria set, from its lowest bit still to check
            lowest = (checked & -checked).bit_length() - 1
            criteria, start, stop = self.spans[bisect_right(self.starts, lowest) - 1]
            run = ((1 << (stop - start)) - 1) << start
            if not criteria.matches(event):
                mask &= ~run
            checked &= ~run
        return list(compress(self.refs, bin(mask)[:1:-1].encode().translate(_SELECTOR)))


def mask_keys(criteria: Criteria) -> tuple[str, ...]:
    """The masks a criteria set's bits go in: its kinds, sizes (``*``: any), stores (``*``: any) and
    the per-event checks it needs."""
    keys = [f"kind:{kind}" for kind in criteria.kinds]
    keys.extend(f"size:{size}" for size in criteria.sizes or ("*",))
    keys.extend(f"store:{store}" for store in criteria.stores or ("*",))
    if criteria.min_deal is not None:
        keys.append("check:min_deal")
    if criteria.location is not None:
        keys.append("check:location")
    return tuple(keys)


class _Posting(dict[int, None]):
    """The criteria ids filed under one anchor key (an insertion-ordered set)."""


class RuleIndex:
    """The index. ``add``/``remove`` keep it current as members edit rules.

    ``title_counts`` says in how many product titles each word, and each pair of words (``"a b"``,
    sorted), appears; the better it is, the fewer candidates a product pulls. ``observe`` adds an
    event's words to it; ``rebuild`` re-files every rule under the current counts.
    """

    def __init__(self, title_counts: Mapping[str, int] | None = None, *, max_plans: int = MAX_PLANS) -> None:
        self.max_plans = max_plans
        self.title_counts: dict[str, int] = defaultdict(int, title_counts or {})
        self._postings: dict[str, dict[str, _Posting]] = {name: {} for name in ("pair", "word", "brand", "broad")}
        self._keyword_counts: dict[str, int] = defaultdict(int)
        self._ids: dict[Criteria, int] = {}
        self._criteria: dict[int, Criteria] = {}
        self._mask_keys: dict[int, tuple[str, ...]] = {}
        self._filed: dict[int, tuple[str, list[str]]] = {}
        self._holders: dict[int, dict[int, RuleRef]] = {}
        self._rules: dict[int, RuleRef] = {}
        self._next_id = 0
        self._plans: dict[PlanKey, _Plan] = {}
        self._plans_by_word: dict[str, set[PlanKey]] = defaultdict(set)
        self._plans_by_brand: dict[str, set[PlanKey]] = defaultdict(set)
        #: plans compiled so far (a product's first event, or its first after a rule change)
        self.plans_built = 0
        self._evicted = 0
        #: distinct criteria with a minimum deal score; none means events need no deal lookup
        self.deal_rules = 0

    def __len__(self) -> int:
        return len(self._rules)

    # ------------------------------------------------------------------ editing

    def add(self, rule: RuleRef) -> None:
        if rule.rule_id in self._rules:
            self.remove(rule.rule_id)
        self._rules[rule.rule_id] = rule
        cid = self._ids.get(rule.criteria)
        if cid is None:
            cid = self._file(rule.criteria)
        self._holders[cid][rule.rule_id] = rule
        self._forget_plans(cid)

    def remove(self, rule_id: int) -> None:
        rule = self._rules.pop(rule_id, None)
        if rule is None:
            return
        cid = self._ids[rule.criteria]
        self._forget_plans(cid)
        holders = self._holders[cid]
        del holders[rule_id]
        if not holders:
            self._unfile(cid)

    def observe(self, event: MatchEvent) -> None:
        _count_words(self.title_counts, event.tokens)

    def rebuild(self) -> None:
        rules = sorted(self._rules.values(), key=_RULE_ID)
        self.__init__(self.title_counts, max_plans=self.max_plans)  # type: ignore[misc]
        for rule in rules:
            self.add(rule)

    def _file(self, criteria: Criteria) -> int:
        cid = self._ids[criteria] = self._next_id
        self._next_id += 1
        self._criteria[cid] = criteria
        self._mask_keys[cid] = mask_keys(criteria)
        self._holders[cid] = {}
        kind, keys = self._anchor(criteria)
        self._filed[cid] = (kind, keys)
        for key in keys:
            self._postings[kind].setdefault(key, _Posting())[cid] = None
        self.deal_rules += criteria.min_deal is not None
        if kind in ("pair", "word") and criteria.keywords:
            for word in keys[0].split(" "):
                self._keyword_counts[word] += 1
        return cid

    def _unfile(self, cid: int) -> None:
        criteria = self._criteria.pop(cid)
        del self._mask_keys[cid]
        del self._holders[cid], self._ids[criteria]
        self.deal_rules -= criteria.min_deal is not None
        kind, keys = self._filed.pop(cid)
        for key in keys:
            posting = self._postings[kind][key]
            del posting[cid]
            if not posting:
                del self._postings[kind][key]
        if kind in ("pair", "word") and criteria.keywords:
            for word in keys[0].split(" "):
                self._keyword_counts[word] -= 1

    def _anchor(self, criteria: Criteria) -> tuple[str, list[str]]:
        kind, keys = criteria.anchors(self.title_counts, self._keyword_counts)
        if kind in ("store", "size", "kind"):
            return "broad", ["*"]
        return kind, keys

    def _forget_plans(self, cid: int) -> None:
        """Drop every compiled plan that this criteria set could be part of."""
        if not self._plans:
            return
        kind, keys = self._filed[cid]
        if kind == "broad":
            self._clear_plans()
            return
        doomed: set[PlanKey] = set()
        for key in keys:
            if kind == "brand":
                doomed |= self._plans_by_brand.pop(key, set())
            else:
                first, *rest = key.split(" ")
                doomed |= {plan for plan in self._plans_by_word.get(first, ()) if all(w in plan[0] for w in rest)}
        for plan in doomed:
            self._plans.pop(plan, None)

    def _evict_oldest(self) -> None:
        """Drop the plan compiled longest ago; now and then rebuild the word and brand registries, which
        still name evicted plans until then."""
        del self._plans[next(iter(self._plans))]
        self._evicted += 1
        if self._evicted >= self.max_plans:
            self._evicted = 0
            self._plans_by_word.clear()
            self._plans_by_brand.clear()
            for key in self._plans:
                self._register(key)

    def _register(self, key: PlanKey) -> None:
        """File a plan under its words and brand, where rule changes look for the plans to drop."""
        tokens, brand = key
        for token in tokens:
            self._plans_by_word[token].add(key)
        self._plans_by_brand[brand].add(key)

    def _clear_plans(self) -> None:
        self._plans.clear()
        self._plans_by_word.clear()
        self._plans_by_brand.clear()

    # ------------------------------------------------------------------ matching

    def _postings_for(self, tokens: frozenset[str], brand: str) -> list[_Posting]:
        postings = self._postings
        found = [posting for token in tokens if (posting := postings["word"].get(token))]
        pairs = postings["pair"]
        if pairs:
            ordered = sorted(tokens)
            for i, first in enumerate(ordered):
                for second in ordered[i + 1 :]:
                    posting = pairs.get(f"{first} {second}")
                    if posting:
                        found.append(posting)
        if posting := postings["brand"].get(brand):
            found.append(posting)
        if posting := postings["broad"].get("*"):
            found.append(posting)
        return found

    def candidates(self, event: MatchEvent) -> set[Criteria]:
        """The criteria a product's anchors reach (before checking them); for tests and tuning."""
        return {self._criteria[cid] for posting in self._postings_for(event.tokens, event.brand) for cid in posting}

    def _plan(self, tokens: frozenset[str], brand: str) -> _Plan:
        groups: list[tuple[Criteria, Mapping[int, RuleRef], tuple[str, ...]]] = []
        seen: set[int] = set()
        everything, holders, keys = self._criteria, self._holders, self._mask_keys
        for posting in self._postings_for(tokens, brand):
            for cid in posting:
                if cid in seen:
                    continue
                seen.add(cid)
                criteria = everything[cid]
                if not criteria.keywords <= tokens:
                    continue
                if criteria.any_groups and any(group.isdisjoint(tokens) for group in criteria.any_groups):
                    continue
                if criteria.exclude and not criteria.exclude.isdisjoint(tokens):
                    continue
                if criteria.brands and brand not in criteria.brands:
                    continue
                groups.append((criteria, holders[cid], keys[cid]))
        if len(self._plans) >= self.max_plans:
            self._evict_oldest()
        key = (tokens, brand)
        plan = self._plans[key] = _Plan(groups)
        self._register(key)
        self.plans_built += 1
        return plan

    def compile(self, event: MatchEvent) -> None:
        """Compile the plan for the event's product ahead of its next event (at startup, for the
        products the monitors reported recently)."""
        if (event.tokens, event.brand) not in self._plans:
            self._plan(event.tokens, event.brand)

    @property
    def plans(self) -> int:
        return len(self._plans)

    def match(self, event: MatchEvent) -> list[RuleRef]:
        """Every rule the event matches, once each; the rules of one criteria set together, in no
        particular order otherwise (sort them where order matters)."""
        plan = self._plans.get((event.tokens, event.brand))
        if plan is None:
            plan = self._plan(event.tokens, event.brand)
        return plan.select(event)


def title_counts(titles: Iterable[str]) -> dict[str, int]:
    """Word and word-pair counts over product titles, for ``RuleIndex(title_counts=...)``."""
    counts: dict[str, int] = defaultdict(int)
    for title in titles:
        _count_words(counts, set(words(title)))
    return dict(counts)


def _count_words(counts: dict[str, int], tokens: Iterable[str]) -> None:
    """Add one to each word's count and to each pair's (``"a b"``, sorted, as anchors name pairs)."""
    ordered = sorted(tokens)
    for i, token in enumerate(ordered):
        counts[token] += 1
        for other in ordered[i + 1 :]:
            counts[f"{token} {other}"] += 1


__all__ = ["MAX_PLANS", "RuleIndex", "title_counts"]
