"""``snpd bench forecast``: the sale-price model against "recent median of the pair", week by week.

On the 2017-09 to 2018-10 StockX sales history, for each week starting 2018-08-01, 2018-08-08, ...
up to 2018-10-31, the model is fitted on every sale before that week (nothing later) and prices each
sale of that week from its pair, size, date, retail and release date. ``mae`` is its mean absolute
error in dollars; ``mae_baseline`` is the same for the median of the pair's sales in the 30 days
before the week (retail × 1.5 when there are none), and ``mae_ratio`` their ratio (target ≤ 0.75).
``mae_new_releases`` covers sales of pairs with no sale before their week (``new_release_queries`` of
them, with ``mae_new_releases_baseline`` for comparison). ``interval_coverage`` is the share of sales
inside the model's 80% interval (target 0.75 to 0.85), ``interval_coverage_new_releases`` the same
for the new releases alone. ``fit_s`` is the time spent fitting, summed
over the weeks, ``fit_max_s`` the slowest week. ``chart_p95_ms`` is the 95th percentile time to draw a
``/price`` chart (``bot.market.chart.draw``, the PNG the command sends) for every pair of the history,
once over all sizes and once with its most sold size highlighted (``chart_draws`` of them; target ≤ 300).
"""

from __future__ import annotations

import bisect
import statistics
import time
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.market.chart import draw
from bot.market.forecast.intervals import Forecaster
from bot.market.forecast.table import Sale, read_history
from bot.market.prices import Sale as PriceSale

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "stockx-sales-2017-09_2018-10.csv"
FIRST_WEEK = date(2018, 8, 1)
LAST_WEEK = date(2018, 10, 31)
BASELINE_DAYS = 30
BASELINE_MARKUP = 1.5


def _baseline(history: list[Sale], start: int) -> dict[str, float]:
    """Median sale price per pair over the ``BASELINE_DAYS`` before ``start``."""
    recent: dict[str, list[float]] = {}
    for sale in history:
        if sale.query.day >= start - BASELINE_DAYS:
            recent.setdefault(sale.query.name, []).append(sale.price)
    return {name: statistics.median(prices) for name, prices in recent.items()}


def _chart_times(sales: list[Sale]) -> list[float]:
    """Milliseconds per ``/price`` chart: each pair over all sizes, then with its most sold size."""
    by_pair: dict[str, list[PriceSale]] = defaultdict(list)
    for sale in sales:
        at = datetime.combine(date.fromordinal(sale.query.day), datetime.min.time(), UTC)
        by_pair[sale.query.name].append(PriceSale(at, sale.price, sale.query.size, sale.query.size))
    times = []
    for name, history in by_pair.items():
        size = Counter(sale.size_key for sale in history).most_common(1)[0][0]
        for highlighted in (None, size):
            chosen = [sale for sale in history if sale.size_key == highlighted] if highlighted else []
            began = time.perf_counter()
            draw(name, history, size=highlighted, size_sales=chosen)
            times.append((time.perf_counter() - began) * 1000)
    return times


def run(path: Path = DATA) -> dict[str, Any]:
    sales = sorted(read_history(path), key=lambda sale: sale.query.day)
    days = [sale.query.day for sale in sales]
    errors: list[float] = []
    baseline_errors: list[float] = []
    new_errors: list[float] = []
    new_baseline_errors: list[float] = []
    inside = 0
    new_inside = 0
    fit_times: list[float] = []
    week = FIRST_WEEK
    weeks = 0
    while week <= LAST_WEEK:
        start = week.toordinal()
        cut, stop = bisect.bisect_left(days, start), bisect.bisect_left(days, start + 7)
        history, queries = sales[:cut], sales[cut:stop]
        began = time.perf_counter()
        forecaster = Forecaster(history)
        fit_times.append(time.perf_counter() - began)
        baseline = _baseline(history, start)
        seen = {sale.query.name for sale in history}
        for sale in queries:
            prediction = forecaster.predict(sale.query)
            error = abs(prediction.price - sale.price)
            reference = baseline.get(sale.query.name, sale.query.retail * BASELINE_MARKUP)
            errors.append(error)
            baseline_errors.append(abs(reference - sale.price))
            covered = prediction.low <= sale.price <= prediction.high
            inside += covered
            if sale.query.name not in seen:
                new_inside += covered
                new_errors.append(error)
                new_baseline_errors.append(abs(reference - sale.price))
        weeks += 1
        week += timedelta(days=7)
    charts = _chart_times(sales)
    mae = statistics.fmean(errors)
    mae_baseline = statistics.fmean(baseline_errors)
    return {
        "mae": round(mae, 2),
        "mae_baseline": round(mae_baseline, 2),
        "mae_ratio": round(mae / mae_baseline, 3),
        "mae_new_releases": round(statistics.fmean(new_errors), 2) if new_errors else None,
        "mae_new_releases_baseline": round(statistics.fmean(new_baseline_errors), 2) if new_errors else None,
        "new_release_queries": len(new_errors),
        "interval_coverage": round(inside / len(errors), 3),
        "interval_coverage_new_releases": round(new_inside / len(new_errors), 3) if new_errors else None,
        "weeks": weeks,
        "queries": len(errors),
        "fit_s": round(sum(fit_times), 2),
        "fit_max_s": round(max(fit_times), 2),
        "chart_p95_ms": round(statistics.quantiles(charts, n=20)[-1], 1),
        "chart_draws": len(charts),
        "chart_pairs": len(charts) // 2,
    }
