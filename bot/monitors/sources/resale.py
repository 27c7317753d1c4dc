"""Resale price sources behind one interface: each yields ``PriceObservation``s.

- ``SalesHistoryImport``: a CSV or JSON export of sales (StockX, GOAT, or anything with a product and
  a price column). Columns are found by name, so ``Sneaker Name``/``SneakerName``/``title`` all work.
- ``bot.monitors.sources.ebay.EbayBrowse``: live listings from eBay's public Browse API.

StockX and GOAT have no public API, so they come in through their exports. Observations are stored
by ``bot.monitors.prices.record`` in the one ``price_observations`` table later features read.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson


@dataclass(frozen=True)
class PriceObservation:
    observed_at: datetime
    #: ``stockx``, ``goat``, ``ebay``...
    source: str
    #: ``sale`` (completed), ``listing`` (an ask), ``retail``
    kind: str
    product: str
    price: float
    #: the source's own id for this observation; with ``source`` it makes a re-import a no-op
    external_id: str
    currency: str = "USD"
    sku: str | None = None
    brand: str | None = None
    size: str | None = None
    url: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


class ResaleSource(Protocol):
    name: str

    def observations(
        self, query: str | None = None, *, size: str | None = None, limit: int | None = None
    ) -> AsyncIterator[PriceObservation]:
        """Observations matching ``query`` (a product name or SKU; ``None``: everything the source
        can list without one) and ``size``, at most ``limit`` of them."""
        ...


class SalesFileError(ValueError):
    """The file can't be read as sales history; the message says why."""


_ALIASES: dict[str, tuple[str, ...]] = {
    "observed_at": ("orderdate", "saledate", "soldat", "date", "time", "timestamp", "createdat", "observedat"),
    "product": ("sneakername", "productname", "product", "name", "title", "item"),
    "sku": ("sku", "stylecode", "styleid", "style"),
    "brand": ("brand",),
    "size": ("shoesize", "size", "shoesizeus"),
    "price": ("saleprice", "soldprice", "price", "amount", "lastsale"),
    "currency": ("currency", "pricecurrency"),
    "url": ("url", "link"),
    "id": ("id", "orderid", "saleid", "transactionid"),
}
_EXTRA = {
    "retailprice": "retail_price",
    "retail": "retail_price",
    "releasedate": "release_date",
    "release": "release_date",
    "buyerregion": "buyer_region",
    "region": "buyer_region",
}
_DATE_FORMATS = ("%m/%d/%y", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def _fold(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _columns(header: Iterable[str]) -> dict[str, str]:
    """Our field → the file's column name, by alias."""
    by_fold = {_fold(name): name for name in header if name}
    found: dict[str, str] = {}
    for target, aliases in _ALIASES.items():
        for alias in aliases:
            if alias in by_fold:
                found[target] = by_fold[alias]
                break
    for alias, target in _EXTRA.items():
        if alias in by_fold and target not in found:
            found[target] = by_fold[alias]
    missing = [name for name in ("product", "price") if name not in found]
    if missing:
        raise SalesFileError(
            f"no {' or '.join(missing)} column; found: {', '.join(n for n in header if n) or 'nothing'}"
        )
    return found


def parse_money(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = _NUMBER.search(str(value or ""))
    return float(match.group(0).replace(",", "")) if match else None


def parse_when(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000 if value > 10**11 else value, UTC)
    text = str(value or "").strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for fmt in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _size(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    if not text:
        return None
    return text[:-2] if re.fullmatch(r"\d+\.0", text) else text


def _display(name: str) -> str:
    """StockX writes names as ``Adidas-Yeezy-Boost-350-V2-Beluga``; show them with spaces."""
    return name.replace("-", " ") if " " not in name and name.count("-") >= 2 else name


@dataclass
class ImportReport:
    rows: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)

    def skip(self, row: int, why: str) -> None:
        self.skipped += 1
        if len(self.problems) < 5:
            self.problems.append(f"row {row}: {why}")


class SalesHistoryImport:
    """A CSV or JSON file of sales. The whole file is parsed off the event loop, up front, so a bad
    file fails before anything is stored; rows that can't be read are skipped and counted."""

    def __init__(
        self,
        path: Path | str,
        *,
        source: str | None = None,
        kind: str = "sale",
        currency: str = "USD",
        observed_at: datetime | None = None,
    ) -> None:
        self.path = Path(path)
        stem = self.path.name.lower()
        self.name = source or next((s for s in ("stockx", "goat", "ebay", "flightclub") if s in stem), "import")
        self.kind = kind
        self.currency = currency
        #: when rows have no date of their own (a market snapshot), they are observed at this time
        self.observed_at = observed_at
        self.report = ImportReport()

    async def observations(
        self, query: str | None = None, *, size: str | None = None, limit: int | None = None
    ) -> AsyncIterator[PriceObservation]:
        rows = await asyncio.to_thread(self._read)
        wanted = [w for w in re.split(r"[^a-z0-9]+", (query or "").lower()) if w]
        count = 0
        for observation in rows:
            if wanted:
                haystack = f"{observation.product} {observation.sku or ''}".lower()
                if not all(word in haystack for word in wanted):
                    continue
            if size is not None and observation.size != size:
                continue
            yield observation
            count += 1
            if limit is not None and count >= limit:
                return

    def _read(self) -> list[PriceObservation]:
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            raise SalesFileError(f"can't read {self.path}: {exc.strerror}") from None
        digest = hashlib.blake2b(raw, digest_size=8).hexdigest()
        records = self._json_records(raw) if self.path.suffix.lower() == ".json" else self._csv_records(raw)
        self.report = ImportReport()
        found: list[PriceObservation] = []
        columns: dict[str, str] | None = None
        for number, record in enumerate(records, start=1):
            if columns is None:
                columns = _columns(record.keys())
            self.report.rows += 1
            observation = self._observation(record, columns, f"{digest}:{number}", number)
            if observation is not None:
                found.append(observation)
        return found

    @staticmethod
    def _csv_records(raw: bytes) -> Iterable[Mapping[str, Any]]:
        text = raw.decode("utf-8-sig", errors="replace")
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames:
            raise SalesFileError("the CSV file is empty")
        _columns(reader.fieldnames)
        return reader

    @staticmethod
    def _json_records(raw: bytes) -> list[Mapping[str, Any]]:
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise SalesFileError(f"not valid JSON ({exc})") from None
        if isinstance(data, dict):
            data = next(
                (data[k] for k in ("sales", "observations", "data", "items") if isinstance(data.get(k), list)), None
            )
        if not isinstance(data, list):
            raise SalesFileError("expected a list of sales, or an object with a `sales` list")
        return [item for item in data if isinstance(item, dict)]

    def _observation(
        self, record: Mapping[str, Any], columns: Mapping[str, str], fallback_id: str, number: int
    ) -> PriceObservation | None:
        def get(name: str) -> Any:
            column = columns.get(name)
            return record.get(column) if column else None

        product = str(get("product") or "").strip()
        price = parse_money(get("price"))
        if not product:
            self.report.skip(number, "no product name")
            return None
        if price is None or price <= 0:
            self.report.skip(number, f"price `{get('price')}` is not a positive number")
            return None
        when = parse_when(get("observed_at")) if "observed_at" in columns else self.observed_at
        if when is None:
            self.report.skip(number, f"date `{get('observed_at')}` is not a date")
            return None
        extra = {
            key: record.get(columns[key]) for key in ("retail_price", "release_date", "buyer_region") if key in columns
        }
        own_id = get("id")
        return PriceObservation(
            observed_at=when,
            source=self.name,
            kind=self.kind,
            product=_display(product)[:300],
            price=price,
            external_id=str(own_id)[:120] if own_id not in (None, "") else fallback_id,
            currency=str(get("currency") or self.currency)[:3].upper(),
            sku=(str(get("sku")).strip()[:64] or None) if get("sku") else None,
            brand=(str(get("brand")).strip()[:64] or None) if get("brand") else None,
            size=_size(get("size")),
            url=str(get("url"))[:500] if get("url") else None,
            extra={k: v for k, v in extra.items() if v not in (None, "")},
        )
