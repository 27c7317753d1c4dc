"""The /closet chart: what the closet was worth week by week, against what was paid.

Each pair is valued every week at its latest weekly median sale price so far (its size's sales when
it is valued by size, else every size's); the line is the sum over the pairs that have a price by
then. Drawn like the /price chart: matplotlib's Agg backend on a ``Figure`` of its own, called
through ``asyncio.to_thread``.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta

from bot.market.chart import day_number, new_chart, to_png, week_start
from bot.market.prices import Sale

CLOSET_CHART = "closet.png"
#: the chart shows at most this many weeks, the latest
WEEKS = 52


def weekly_medians(sales: Sequence[Sale]) -> dict[date, float]:
    weeks: dict[date, list[float]] = defaultdict(list)
    for sale in sales:
        weeks[week_start(sale.at.date())].append(sale.price)
    return {week: statistics.median(prices) for week, prices in weeks.items()}


def value_series(pairs: Sequence[Sequence[Sale]]) -> list[tuple[date, float]]:
    """(week, closet value) for the latest ``WEEKS`` weeks in which any pair had a price."""
    medians = [weekly_medians(sales) for sales in pairs]
    known = sorted({week for series in medians for week in series})
    if not known:
        return []
    first, last = max(known[0], known[-1] - timedelta(weeks=WEEKS - 1)), known[-1]
    points = []
    latest: list[float | None] = [None] * len(medians)
    for series_index, series in enumerate(medians):
        before = [week for week in series if week < first]
        if before:
            latest[series_index] = series[max(before)]
    week = first
    while week <= last:
        for series_index, series in enumerate(medians):
            if week in series:
                latest[series_index] = series[week]
        priced = [value for value in latest if value is not None]
        if priced:
            points.append((week, sum(priced)))
        week += timedelta(weeks=1)
    return points


def draw(points: Sequence[tuple[date, float]], paid: float | None) -> bytes:
    """A PNG of the closet's value over time, with what was paid as a dashed line."""
    figure, axes = new_chart()
    days = [day_number(week) for week, _ in points]
    axes.plot(days, [value for _, value in points], color="#1f4e79", linewidth=1.8, marker="o", markersize=3,
              label="closet value (weekly medians)")  # fmt: skip
    if paid:
        axes.axhline(paid, color="#e4572e", linestyle="--", linewidth=1.4, label="paid")
    return to_png(figure, axes, "Closet value")
