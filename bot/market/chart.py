"""The /price chart: weekly median sale price with the inter-quartile band, the member's size on top.

Drawn with matplotlib's Agg backend on a ``Figure`` of its own (no pyplot state, safe in a worker
thread); callers run ``draw`` through ``asyncio.to_thread`` so the event loop never waits on it.
"""

from __future__ import annotations

import io
import statistics
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from bot.market.prices import Sale

CHART_FILENAME = "price.png"


def day_number(day: date) -> float:
    """Matplotlib's date axis unit: days since its epoch, 1970-01-01."""
    return float((day - date(1970, 1, 1)).days)


def week_start(day: date) -> date:
    """The Monday of ``day``'s week: charts are weekly."""
    return day - timedelta(days=day.weekday())


def new_chart() -> tuple[Figure, Axes]:
    """A figure of its own with one set of axes (no pyplot state, safe off the event loop)."""
    figure = Figure(figsize=(8, 4), dpi=100)
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def to_png(figure: Figure, axes: Axes, title: str) -> bytes:
    """Dates along the bottom, prices up the side, the legend, and the PNG bytes."""
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    axes.xaxis_date()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    axes.set_title(title[:90], fontsize=11)
    axes.set_ylabel("USD")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def _weekly(sales: Sequence[Sale]) -> list[tuple[date, float, float, float]]:
    """(week start, 25th percentile, median, 75th percentile) per week with a sale."""
    weeks: dict[date, list[float]] = defaultdict(list)
    for sale in sales:
        weeks[week_start(sale.at.date())].append(sale.price)
    points = []
    for week in sorted(weeks):
        prices = weeks[week]
        if len(prices) >= 2:
            low, mid, high = statistics.quantiles(prices, n=4, method="inclusive")
        else:
            low = mid = high = prices[0]
        points.append((week, low, mid, high))
    return points


def draw(title: str, sales: Sequence[Sale], *, size: str | None = None, size_sales: Sequence[Sale] = ()) -> bytes:
    """A PNG of the price history."""
    figure, axes = new_chart()
    points = _weekly(sales)
    weeks = [day_number(p[0]) for p in points]
    axes.fill_between(weeks, [p[1] for p in points], [p[3] for p in points], color="#9ab8d8", alpha=0.45,
                      label="middle 50% of sales", step="mid")  # fmt: skip
    axes.plot(weeks, [p[2] for p in points], color="#1f4e79", linewidth=1.8, label="weekly median (all sizes)")
    if size is not None and size_sales:
        mine = _weekly(size_sales)
        axes.plot([day_number(p[0]) for p in mine], [p[2] for p in mine], color="#e4572e", linewidth=2.2, marker="o",
                  markersize=3, label=f"size {size}")  # fmt: skip
    return to_png(figure, axes, title)
