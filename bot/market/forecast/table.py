"""Read StockX-style sales and query CSVs into typed rows, refusing bad files before any work.

Headers are matched without case, spaces or punctuation, so the Kaggle spelling (``Order Date``) and
the compact one (``OrderDate``) both load. Prices may be written ``$1,097``; dates ``2018-10-01``,
``10/1/2018`` or ``10/1/18``. A bad value names its line and column.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from core.errors import UserError

#: the columns every query row needs, as the issue spells them
QUERY_COLUMNS = ("OrderDate", "Brand", "SneakerName", "RetailPrice", "ReleaseDate", "ShoeSize", "BuyerRegion")
HISTORY_COLUMNS = ("OrderDate", "Brand", "SneakerName", "SalePrice", "RetailPrice", "ReleaseDate", "ShoeSize",
                   "BuyerRegion")
_NOT_ALNUM = re.compile(r"[^a-z0-9]")
_SLASH_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})")


class ForecastInputError(UserError):
    """A history or query file the model can't use; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class Query:
    """One pair, size and day to price. Days are proleptic ordinals (``date.toordinal``)."""

    day: int
    brand: str
    name: str
    retail: float
    release: int
    size: str


@dataclass(frozen=True, slots=True)
class Sale:
    query: Query
    price: float


@dataclass(frozen=True, slots=True)
class QueryTable:
    """The query rows, plus the file's own header and cells so the output can repeat them verbatim."""

    header: list[str]
    cells: list[list[str]]
    queries: list[Query]


def _key(header: str) -> str:
    return _NOT_ALNUM.sub("", header.lower())


def parse_price(text: str) -> float | None:
    cleaned = text.strip().replace("$", "").replace(",", "").replace(" ", "")
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return value if value > 0 and value < 1e7 else None


def parse_day(text: str) -> int | None:
    text = text.strip()
    try:
        return date.fromisoformat(text[:10]).toordinal()
    except ValueError:
        pass
    match = _SLASH_DATE.fullmatch(text)
    if match is None:
        return None
    month, day, year = match.groups()
    try:
        return datetime.strptime(f"{month}/{day}/{year}", "%m/%d/%y" if len(year) == 2 else "%m/%d/%Y").toordinal()
    except ValueError:
        return None


class _Reader:
    """Validates the header once, then converts each row, caching repeated date strings."""

    def __init__(self, path: Path, header: list[str], required: tuple[str, ...]) -> None:
        self.path = path
        positions = {_key(name): index for index, name in enumerate(header)}
        missing = [name for name in required if _key(name) not in positions]
        if missing:
            raise ForecastInputError(f"{path}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
        self.at = {name: positions[_key(name)] for name in required}
        self.width = max(self.at.values()) + 1
        self.days: dict[str, int | None] = {}

    def _fail(self, line: int, column: str, value: str, problem: str) -> ForecastInputError:
        shown = value if len(value) <= 30 else value[:29] + "…"
        return ForecastInputError(f"{self.path}: line {line}, column {column}: {shown!r} {problem}")

    def _day(self, cells: list[str], line: int, column: str) -> int:
        text = cells[self.at[column]]
        day = self.days.get(text)
        if day is None:
            day = self.days[text] = parse_day(text)
        if day is None:
            raise self._fail(line, column, text, "is not a date")
        return day

    def _price(self, cells: list[str], line: int, column: str) -> float:
        text = cells[self.at[column]]
        price = parse_price(text)
        if price is None:
            raise self._fail(line, column, text, "is not a positive price")
        return price

    def query(self, cells: list[str], line: int) -> Query:
        if len(cells) < self.width:
            raise ForecastInputError(f"{self.path}: line {line}: {len(cells)} cells, expected {len(self.at)}")
        name = cells[self.at["SneakerName"]].strip()
        if not name:
            raise self._fail(line, "SneakerName", "", "is empty")
        size = cells[self.at["ShoeSize"]].strip()
        if not size:
            raise self._fail(line, "ShoeSize", "", "is empty")
        return Query(
            day=self._day(cells, line, "OrderDate"),
            brand=cells[self.at["Brand"]].strip(),
            name=name,
            retail=self._price(cells, line, "RetailPrice"),
            release=self._day(cells, line, "ReleaseDate"),
            size=size,
        )

    def sale(self, cells: list[str], line: int) -> Sale:
        return Sale(self.query(cells, line), self._price(cells, line, "SalePrice"))


def _rows(path: Path) -> Iterator[list[str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            yield from csv.reader(handle)
    except FileNotFoundError:
        raise ForecastInputError(f"{path}: no such file") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ForecastInputError(f"{path}: not a readable CSV file ({exc.__class__.__name__})") from None
    except OSError as exc:
        raise ForecastInputError(f"{path}: can't read it ({exc.strerror})") from None


def _start(path: Path, rows: Iterator[list[str]], required: tuple[str, ...]) -> tuple[list[str], _Reader]:
    header = next(rows, None)
    if header is None:
        raise ForecastInputError(f"{path}: the file is empty")
    return header, _Reader(path, header, required)


def _content(rows: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """Rows with their 1-based line numbers (header is line 1), blank lines skipped."""
    for line, cells in enumerate(rows, start=2):
        if any(cell.strip() for cell in cells):
            yield line, cells


def read_history(path: Path) -> list[Sale]:
    rows = _rows(path)
    _, reader = _start(path, rows, HISTORY_COLUMNS)
    sales = [reader.sale(cells, line) for line, cells in _content(rows)]
    if not sales:
        raise ForecastInputError(f"{path}: no sales to learn from")
    return sales


def read_queries(path: Path) -> QueryTable:
    rows = _rows(path)
    header, reader = _start(path, rows, QUERY_COLUMNS)
    cells: list[list[str]] = []
    queries: list[Query] = []
    for line, row in _content(rows):
        queries.append(reader.query(row, line))
        cells.append(row)
    return QueryTable(header, cells, queries)
