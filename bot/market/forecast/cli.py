"""``snpd prices predict``: price a file of queries from a file of past sales, offline, in one call."""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path
from typing import Any

from bot.market.forecast.intervals import Forecaster
from bot.market.forecast.table import ForecastInputError, read_history, read_queries

OUTPUT_COLUMNS = ("PredictedPrice", "Low80", "High80")


def add_predict(prices: Any) -> None:
    """Add ``predict`` to the ``snpd prices`` sub-commands."""
    predict = prices.add_parser(
        "predict", help="predict sale prices (with an 80%% interval) for a CSV of queries from a CSV of past sales"
    )
    predict.add_argument("--history", required=True, type=Path, help="past sales, StockX columns")
    predict.add_argument("--queries", required=True, type=Path, help="the same columns without SalePrice")
    predict.add_argument("--out", required=True, type=Path, help="where to write the queries plus predictions")
    predict.set_defaults(func=cmd_prices_predict)


def cmd_prices_predict(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        history = read_history(args.history)
        table = read_queries(args.queries)
    except ForecastInputError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    forecaster = Forecaster(history)
    try:
        with args.out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow([*table.header, *OUTPUT_COLUMNS])
            for cells, query in zip(table.cells, table.queries, strict=True):
                prediction = forecaster.predict(query)
                writer.writerow([*cells, *(f"{value:.2f}" for value in (prediction.price, prediction.low,
                                                                         prediction.high))])
    except OSError as exc:
        print(f"{args.out}: can't write it ({exc.strerror})", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - started
    print(f"{len(table.queries):,} predictions from {len(history):,} sales in {elapsed:.1f} s -> {args.out}")
    return 0
