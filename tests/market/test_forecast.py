"""Deadstock Detective on the real StockX history: the CLI end to end, refusals, new releases, intervals."""

from __future__ import annotations

import csv
import statistics
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from bot.market.forecast.intervals import Forecaster
from bot.market.forecast.names import parse_name
from bot.market.forecast.table import Sale, read_history
from tests.paths import SHARED_DATA

SALES_CSV = SHARED_DATA / "stockx-sales-2017-09_2018-10.csv"
SNPD = [sys.executable, "-m", "snpd"]
NEW_PAIR = "Nike-Blazer-Mid-Off-White-All-Hallows-Eve"

pytestmark = pytest.mark.skipif(not SALES_CSV.exists(), reason=f"real sales history not present at {SALES_CSV}")


def day(text: str) -> int:
    return date.fromisoformat(text).toordinal()


@pytest.fixture(scope="module")
def sales() -> list[Sale]:
    return sorted(read_history(SALES_CSV), key=lambda sale: sale.query.day)


@pytest.fixture(scope="module")
def rows() -> tuple[list[str], list[list[str]]]:
    with SALES_CSV.open(newline="") as handle:
        header, *body = list(csv.reader(handle))
    return header, body


def write(path: Path, header: list[str], body: list[list[str]]) -> Path:
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([header, *body])
    return path


def test_predict_cli_end_to_end_with_kaggle_headers_and_dollar_prices(
    rows: tuple[list[str], list[list[str]]], tmp_path: Path
) -> None:
    header, body = rows
    sale_at = header.index("SalePrice")
    history = [row for row in body if "2018-09-01" <= row[0] < "2018-10-01"]
    week = [row for row in body if "2018-10-01" <= row[0] < "2018-10-04"][:300]
    spaced = ["Order Date", "Brand", "Sneaker Name", "Sale Price", "Retail Price", "Release Date", "Shoe Size",
              "Buyer Region"]
    dollars = [[f"${float(cell):,.0f}" if i == sale_at else cell for i, cell in enumerate(row)] for row in history]
    write(tmp_path / "history.csv", spaced, dollars)
    write(tmp_path / "queries.csv", [c for c in header if c != "SalePrice"],
          [[cell for i, cell in enumerate(row) if i != sale_at] for row in week])

    done = subprocess.run(
        [*SNPD, "prices", "predict", "--history", str(tmp_path / "history.csv"),
         "--queries", str(tmp_path / "queries.csv"), "--out", str(tmp_path / "pred.csv")],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"{len(week)} predictions from {len(history):,} sales" in done.stdout

    with (tmp_path / "pred.csv").open(newline="") as handle:
        out_header, *out = list(csv.reader(handle))
    assert out_header == [*(c for c in header if c != "SalePrice"), "PredictedPrice", "Low80", "High80"]
    assert len(out) == len(week)
    assert [row[:7] for row in out] == [[c for i, c in enumerate(row) if i != sale_at] for row in week]
    predicted = [float(row[7]) for row in out]
    assert all(float(row[8]) <= float(row[7]) <= float(row[9]) for row in out)
    actual = [float(row[sale_at]) for row in week]
    mae = statistics.fmean(abs(p - a) for p, a in zip(predicted, actual, strict=True))
    at_retail = statistics.fmean(abs(float(row[4]) * 1.5 - a) for row, a in zip(week, actual, strict=True))
    assert mae < at_retail / 2


def test_missing_columns_are_refused_by_name(rows: tuple[list[str], list[list[str]]], tmp_path: Path) -> None:
    header, body = rows
    write(tmp_path / "history.csv", header, body[:50])
    keep = [i for i, c in enumerate(header) if c not in ("SalePrice", "ShoeSize", "BuyerRegion")]
    write(tmp_path / "queries.csv", [header[i] for i in keep], [[row[i] for i in keep] for row in body[:5]])

    done = subprocess.run(
        [*SNPD, "prices", "predict", "--history", str(tmp_path / "history.csv"),
         "--queries", str(tmp_path / "queries.csv"), "--out", str(tmp_path / "pred.csv")],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"{tmp_path / 'queries.csv'}: missing columns ShoeSize, BuyerRegion"]
    assert not (tmp_path / "pred.csv").exists()


def test_a_bad_price_names_its_line_and_column(rows: tuple[list[str], list[list[str]]], tmp_path: Path) -> None:
    header, body = rows
    broken = [list(row) for row in body[:20]]
    broken[6][header.index("SalePrice")] = "call me"
    write(tmp_path / "history.csv", header, broken)
    done = subprocess.run(
        [*SNPD, "prices", "predict", "--history", str(tmp_path / "history.csv"),
         "--queries", str(tmp_path / "history.csv"), "--out", str(tmp_path / "pred.csv")],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    problem = "line 8, column SalePrice: 'call me' is not a positive price"
    assert done.stderr.strip() == f"{tmp_path / 'history.csv'}: {problem}"


def test_names_split_into_maker_family_and_colourway() -> None:
    beluga = parse_name("Adidas-Yeezy-Boost-350-V2-Beluga")
    assert (beluga.maker, beluga.family, beluga.colourway) == ("adidas", "yeezy boost 350 v2", "beluga")
    assert parse_name("Adidas-Yeezy-Boost-350-Low-V2-Beluga").family == "yeezy boost 350 v2"
    unc = parse_name("Air-Jordan-1-Retro-High-Off-White-University-Blue")
    assert (unc.maker, unc.family, unc.colourway) == ("jordan", "air jordan 1 retro high off white", "university blue")


def test_a_pair_nobody_has_sold_is_priced_from_similar_releases(sales: list[Sale]) -> None:
    """The All Hallows Eve Blazer went on sale on 2018-09-19 at $130 retail and sold for about $730; the
    other Off-White Blazers tell the model it is no $130 shoe, and nothing of its own sales is seen."""
    cut = day("2018-09-19")
    forecaster = Forecaster([sale for sale in sales if sale.query.day < cut and sale.query.name != NEW_PAIR])
    first_weeks = [sale for sale in sales if sale.query.name == NEW_PAIR and sale.query.day < cut + 14]
    predictions = [forecaster.predict(sale.query) for sale in first_weeks]
    assert {prediction.pair_sales for prediction in predictions} == {0}
    predicted = statistics.median(prediction.price for prediction in predictions)
    actual = statistics.median(sale.price for sale in first_weeks)
    assert first_weeks[0].query.retail * 3 < predicted
    assert actual / 2 < predicted < actual * 1.5


def test_intervals_cover_about_80_percent_of_a_held_out_week(sales: list[Sale]) -> None:
    cut = day("2018-09-01")
    forecaster = Forecaster([sale for sale in sales if sale.query.day < cut])
    held_out = [sale for sale in sales if cut <= sale.query.day < cut + 7]
    inside = 0
    for sale in held_out:
        prediction = forecaster.predict(sale.query)
        inside += prediction.low <= sale.price <= prediction.high
    assert len(held_out) > 500
    assert 0.72 <= inside / len(held_out) <= 0.88
