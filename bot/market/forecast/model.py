"""The point model: a pair's price is its retail times a premium, and the log premium is learned.

log(sale / retail) = the pair's recent level (a time-decayed median, so last week counts most)
                   + a size offset (small and large sizes sell apart from the middle of the run).

Size offsets are measured against the pair's median in the same week, so a market moving over time
doesn't leak into them, and each is shrunk toward the family's, then the brand's, then everyone's
curve when it rests on few sales. A pair with no sales of its own takes its level from similar
releases at the same age (days since release): its model family, then its brand line, then its maker,
then everything, each level shrunk toward the next by how much it has seen.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.market.forecast.names import parse_name
from bot.market.forecast.stats import decay, weighted_median
from bot.market.forecast.table import Query, Sale

#: days since release that separate a release's phases: pre-orders, release week, first month...
AGE_EDGES = (0, 7, 30, 90, 365)
#: a prior shrinks toward its parent with this many sales' weight
PRIOR_SHRINK = 20.0
#: a pair's scatter is measured over recent weeks and shrunk toward the typical pair's
SPREAD_HALF_LIFE = 14.0
SPREAD_SHRINK = 10.0
MIN_SPREAD = 0.01


@dataclass(frozen=True, slots=True)
class Settings:
    """Tuned on the 2017-18 StockX history (weeks before the benchmark's)."""

    level_half_life: float = 1.0
    size_half_life: float = 30.0
    prior_half_life: float = 120.0
    #: how many sales a pair-size offset needs to count as much as its family's curve
    size_shrink: float = 10.0
    #: how many sales of its own a pair needs before they count as much as the similar-release prior
    level_shrink: float = 3.0


DEFAULT_SETTINGS = Settings()


def size_key(size: str) -> str:
    text = size.strip().upper().removeprefix("US").strip().rstrip("CWY").strip()
    try:
        return f"{float(text):g}"
    except ValueError:
        return text


def age_bucket(age_days: int) -> int:
    for index, edge in enumerate(AGE_EDGES):
        if age_days < edge:
            return index
    return len(AGE_EDGES)


@dataclass(frozen=True, slots=True)
class Estimate:
    """A point estimate of log(price / retail) and how many of the pair's own sales it rests on."""

    log_premium: float
    pair_sales: int
    #: how widely this pair's recent sales scatter around its level (log scale): scales its interval
    spread: float

    def price(self, retail: float) -> float:
        return retail * math.exp(self.log_premium)


@dataclass(frozen=True, slots=True)
class _Group:
    value: float
    count: int


def _groups(
    keys: Iterable[tuple[str, ...]], values: Sequence[float], weights: Sequence[float]
) -> dict[tuple[str, ...], _Group]:
    members: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for index, key in enumerate(keys):
        members[key].append(index)
    return {
        key: _Group(weighted_median([values[i] for i in rows], [weights[i] for i in rows]), len(rows))
        for key, rows in members.items()
    }


def _shrunk(group: _Group | None, parent: float, strength: float) -> float:
    if group is None:
        return parent
    return (group.count * group.value + strength * parent) / (group.count + strength)


class PointModel:
    """Fitted once from a sales history; ``estimate`` prices any query at or after its end."""

    def __init__(self, sales: Sequence[Sale], settings: Settings = DEFAULT_SETTINGS) -> None:
        self.settings = settings
        self.end = max(sale.query.day for sale in sales)
        queries = [sale.query for sale in sales]
        log_premium = [math.log(sale.price / sale.query.retail) for sale in sales]
        names = [parse_name(query.name) for query in queries]
        sizes = [size_key(query.size) for query in queries]
        self.pair_sales: dict[str, int] = defaultdict(int)
        for query in queries:
            self.pair_sales[query.name] += 1

        ones = [1.0] * len(sales)
        weekly = _groups(((q.name, str(q.day // 7)) for q in queries), log_premium, ones)
        within_week = [lp - weekly[(q.name, str(q.day // 7))].value for q, lp in zip(queries, log_premium, strict=True)]
        size_weight = [decay(self.end - q.day, settings.size_half_life) for q in queries]
        self.size_all = _groups(((s,) for s in sizes), within_week, size_weight)
        self.size_brand = _groups(((q.brand, s) for q, s in zip(queries, sizes, strict=True)), within_week, size_weight)
        self.size_family = _groups(
            ((n.family_key, s) for n, s in zip(names, sizes, strict=True)), within_week, size_weight
        )
        self.size_pair = _groups(((q.name, s) for q, s in zip(queries, sizes, strict=True)), within_week, size_weight)

        adjusted = [
            lp - self.size_offset(q, n.family_key, s, known=True)
            for q, n, s, lp in zip(queries, names, sizes, log_premium, strict=True)
        ]
        self.level: dict[str, tuple[float, float]] = {}
        scatter: dict[str, tuple[float, int]] = {}
        by_pair: dict[str, list[int]] = defaultdict(list)
        for index, query in enumerate(queries):
            by_pair[query.name].append(index)
        for name, rows in by_pair.items():
            weights = [decay(self.end - queries[i].day, settings.level_half_life) for i in rows]
            level = weighted_median([adjusted[i] for i in rows], weights)
            self.level[name] = (level, float(len(rows)))
            recent = [decay(self.end - queries[i].day, SPREAD_HALF_LIFE) for i in rows]
            deviation = sum(w * abs(adjusted[i] - level) for w, i in zip(recent, rows, strict=True)) / sum(recent)
            scatter[name] = (deviation, len(rows))
        typical = weighted_median([d for d, _ in scatter.values()], [float(n) for _, n in scatter.values()])
        self.typical_spread = max(typical, MIN_SPREAD)
        self.spread = {
            name: max((n * d + SPREAD_SHRINK * typical) / (n + SPREAD_SHRINK), MIN_SPREAD)
            for name, (d, n) in scatter.items()
        }

        prior_weight = [decay(self.end - q.day, settings.prior_half_life) for q in queries]
        ages = [str(age_bucket(q.day - q.release)) for q in queries]
        self.prior_all = _groups(((a,) for a in ages), adjusted, prior_weight)
        self.prior_maker = _groups(((n.maker, a) for n, a in zip(names, ages, strict=True)), adjusted, prior_weight)
        self.prior_brand = _groups(((q.brand, a) for q, a in zip(queries, ages, strict=True)), adjusted, prior_weight)
        self.prior_family = _groups(
            ((n.family_key, a) for n, a in zip(names, ages, strict=True)), adjusted, prior_weight
        )
        self.overall = _groups([("",)] * len(sales), adjusted, prior_weight)[("",)].value
        self._family_rows: dict[tuple[str, str], list[tuple[float, float, str]]] = defaultdict(list)
        for query, parsed, age, value, weight in zip(queries, names, ages, adjusted, prior_weight, strict=True):
            self._family_rows[(parsed.family_key, age)].append((value, weight, query.name))
        self._without: dict[tuple[str, str, str], _Group | None] = {}

    def size_offset(self, query: Query, family: str, size: str, *, known: bool) -> float:
        shrink = self.settings.size_shrink
        offset = _shrunk(self.size_all.get((size,)), 0.0, shrink)
        offset = _shrunk(self.size_brand.get((query.brand, size)), offset, shrink)
        offset = _shrunk(self.size_family.get((family, size)), offset, shrink)
        if known:
            offset = _shrunk(self.size_pair.get((query.name, size)), offset, shrink)
        return offset

    def _family_without(self, family: str, age: str, name: str) -> _Group | None:
        """The family's level at this age from its other pairs only (for pricing a known pair as new)."""
        key = (family, age, name)
        if key not in self._without:
            rows = [(value, weight) for value, weight, pair in self._family_rows.get((family, age), ()) if pair != name]
            self._without[key] = (
                _Group(weighted_median([v for v, _ in rows], [w for _, w in rows]), len(rows)) if rows else None
            )
        return self._without[key]

    def prior(self, query: Query, maker: str, family: str, *, leave_out: bool = False) -> float:
        """The level of similar releases at this query's age: family, brand line, maker, everyone.
        ``leave_out`` drops the query's own pair from its family, as if it had never sold."""
        age = str(age_bucket(query.day - query.release))
        level = _shrunk(self.prior_all.get((age,)), self.overall, PRIOR_SHRINK)
        level = _shrunk(self.prior_maker.get((maker, age)), level, PRIOR_SHRINK)
        level = _shrunk(self.prior_brand.get((query.brand, age)), level, PRIOR_SHRINK)
        family_group = (
            self._family_without(family, age, query.name) if leave_out else self.prior_family.get((family, age))
        )
        return _shrunk(family_group, level, PRIOR_SHRINK)

    def estimate(self, query: Query, *, as_new: bool = False) -> Estimate:
        """``as_new`` ignores the pair's own sales, in its family too: how the model would have priced it
        had it never sold (the replay uses it to measure how uncertain new releases are)."""
        parsed = parse_name(query.name)
        size = size_key(query.size)
        own = None if as_new else self.level.get(query.name)
        prior = self.prior(query, parsed.maker, parsed.family_key, leave_out=as_new)
        if own is None:
            level = prior
        else:
            value, weight = own
            level = (weight * value + self.settings.level_shrink * prior) / (weight + self.settings.level_shrink)
        offset = self.size_offset(query, parsed.family_key, size, known=own is not None)
        if own is None:
            return Estimate(level + offset, 0, self.typical_spread)
        return Estimate(level + offset, self.pair_sales[query.name], self.spread[query.name])
