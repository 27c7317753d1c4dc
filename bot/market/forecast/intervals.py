"""80% intervals from the model's own out-of-sample errors.

Before answering, the forecaster replays the last few weeks of its history as if they were the
future: it fits on everything before each week, prices that week's sales, and keeps each log error
divided by its pair's recent scatter (a pair selling all over the place gets a wide band, a steady one
a narrow band). The 10th and 90th percentiles of those scaled errors, times the pair's scatter, become
the interval. Pairs with no sales of their own use the errors of the replayed sales priced as if their
pair were new, since a release nobody has sold is far less certain."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from bot.market.forecast.model import DEFAULT_SETTINGS, PointModel, Settings
from bot.market.forecast.stats import quantile
from bot.market.forecast.table import Query, Sale

#: a pair with no sales of its own is priced from similar releases and gets their (wider) band
DEPTH_EDGES = (1,)
REPLAY_WEEKS = 4
MIN_ERRORS = 200
#: replayed errors understate the next week's (the market drifts between the replayed weeks and the
#: forecast one); this widening was calibrated on the weeks before the benchmark's (May to July 2018)
WIDEN = 1.1
LOW_Q, HIGH_Q = 0.10, 0.90
#: with too little to replay (a history of a few weeks), three times the pair's scatter either way
FALLBACK_BAND = (-3.0, 3.0)


def depth_bucket(pair_sales: int) -> int:
    return sum(1 for edge in DEPTH_EDGES if pair_sales >= edge)


@dataclass(frozen=True, slots=True)
class Prediction:
    price: float
    low: float
    high: float
    pair_sales: int


@dataclass(frozen=True, slots=True)
class Bands:
    """Quantiles of log errors in units of the pair's scatter, per depth bucket."""

    by_depth: dict[int, tuple[float, float]]

    def around(self, depth: int) -> tuple[float, float]:
        return self.by_depth[depth]


def _band(errors: list[float]) -> tuple[float, float]:
    ordered = sorted(errors)
    middle = quantile(ordered, 0.5)
    low, high = quantile(ordered, LOW_Q), quantile(ordered, HIGH_Q)
    return middle + (low - middle) * WIDEN, middle + (high - middle) * WIDEN


def replay_errors(sales: Sequence[Sale], settings: Settings) -> tuple[dict[int, list[float]], list[float]]:
    """Log errors of week-ahead forecasts over the history's last weeks, by depth bucket, and the errors
    of the same forecasts made as if every pair were new."""
    ordered = sorted(sales, key=lambda sale: sale.query.day)
    end = ordered[-1].query.day
    by_depth: dict[int, list[float]] = {bucket: [] for bucket in range(len(DEPTH_EDGES) + 1)}
    as_new: list[float] = []
    for weeks_back in range(1, REPLAY_WEEKS + 1):
        cut = end + 1 - 7 * weeks_back
        train = [sale for sale in ordered if sale.query.day < cut]
        test = [sale for sale in ordered if cut <= sale.query.day < cut + 7]
        if not train or not test:
            continue
        model = PointModel(train, settings)
        for sale in test:
            actual = math.log(sale.price / sale.query.retail)
            estimate = model.estimate(sale.query)
            by_depth[depth_bucket(estimate.pair_sales)].append((actual - estimate.log_premium) / estimate.spread)
            unseen = model.estimate(sale.query, as_new=True)
            as_new.append((actual - unseen.log_premium) / unseen.spread)
    return by_depth, as_new


def fit_bands(sales: Sequence[Sale], settings: Settings) -> Bands:
    by_depth, as_new = replay_errors(sales, settings)
    pooled = [error for errors in by_depth.values() for error in errors]
    default = _band(pooled) if len(pooled) >= MIN_ERRORS else FALLBACK_BAND
    bands: dict[int, tuple[float, float]] = {}
    for bucket, errors in by_depth.items():
        if len(errors) >= MIN_ERRORS:
            bands[bucket] = _band(errors)
        elif bucket == 0 and len(as_new) >= MIN_ERRORS:
            bands[bucket] = _band(as_new)
        else:
            bands[bucket] = default
    return Bands(bands)


class Forecaster:
    """A point model and its intervals, both learned from one sales history."""

    def __init__(self, sales: Sequence[Sale], settings: Settings = DEFAULT_SETTINGS) -> None:
        self.model = PointModel(sales, settings)
        self.bands = fit_bands(sales, settings)

    def predict(self, query: Query) -> Prediction:
        estimate = self.model.estimate(query)
        low, high = (estimate.spread * edge for edge in self.bands.around(depth_bucket(estimate.pair_sales)))
        price = estimate.price(query.retail)
        return Prediction(price, price * math.exp(low), price * math.exp(high), estimate.pair_sales)
