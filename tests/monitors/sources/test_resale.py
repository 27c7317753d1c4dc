"""Resale price sources: the StockX sales CSV through the import, eBay's Browse API against a local
fake, and the one observations table they both fill."""

from __future__ import annotations

import csv
import statistics
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, select

from bot.monitors.models import PriceObservation as ObservationRow
from bot.monitors.prices import ObservedDeals, recent_median, record
from bot.monitors.sources.ebay import EbayBrowse, EbayError, size_from_title
from bot.monitors.sources.resale import ResaleSource, SalesFileError, SalesHistoryImport
from core.storage.database import Database
from tests.fakes.ebay_api import CLIENT_ID, CLIENT_SECRET, FakeEbayAPI
from tests.paths import SHARED_DATA

DATA = SHARED_DATA
SALES_CSV = DATA / "stockx-sales-2017-09_2018-10.csv"
PRODUCTS_CSV = DATA / "stockx-products-2023.csv"
needs_data = pytest.mark.skipif(not SALES_CSV.exists(), reason=f"{SALES_CSV} not present")


async def count(db: Database, **where: str) -> int:
    query = select(func.count()).select_from(ObservationRow)
    for column, value in where.items():
        query = query.where(getattr(ObservationRow, column) == value)
    async with db.read() as session:
        return int(await session.scalar(query) or 0)


@needs_data
async def test_the_stockx_sales_csv_loads_completely_and_only_once(database: Database) -> None:
    source: ResaleSource = SalesHistoryImport(SALES_CSV)
    assert source.name == "stockx"
    first = await record(database, source.observations())
    assert first.offered == first.inserted == 57_968
    assert await count(database, source="stockx", kind="sale") == 57_968
    again = await record(database, SalesHistoryImport(SALES_CSV).observations())
    assert (again.offered, again.inserted) == (57_968, 0)
    async with database.read() as session:
        row = (
            await session.scalars(
                select(ObservationRow).order_by(ObservationRow.observed_at, ObservationRow.id).limit(1)
            )
        ).one()
    assert row.product == "Adidas Yeezy Boost 350 Low V2 Beluga"
    assert row.product_key == "adidas-yeezy-boost-350-low-v2-beluga"
    assert (row.price, row.size, row.size_key, row.brand) == (1097.0, "11", "11", "Yeezy")
    assert row.observed_at == datetime(2017, 9, 1, tzinfo=UTC)
    assert row.extra == {"retail_price": "220", "release_date": "2016-09-24", "buyer_region": "California"}


@needs_data
async def test_recent_median_matches_an_independent_computation(database: Database) -> None:
    await record(database, SalesHistoryImport(SALES_CSV).observations())
    with SALES_CSV.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["SneakerName"] == "Adidas-Yeezy-Boost-350-V2-Beluga-2pt0"]
    tens = [r for r in rows if r["ShoeSize"] == "10"]
    latest = max(datetime.fromisoformat(r["OrderDate"]) for r in tens)
    window = [float(r["SalePrice"]) for r in tens if (latest - datetime.fromisoformat(r["OrderDate"])).days <= 30]
    assert len(window) > 10
    median = await recent_median(database, "Yeezy Boost 350 V2 Beluga 2pt0", size="US 10", days=30)
    assert median == statistics.median(window)
    deals = ObservedDeals(database, days=30)
    discount = await deals.discount("adidas yeezy boost 350 v2 beluga 2pt0", "10", 220.0)
    assert discount == round((median - 220.0) / median * 100, 1)
    assert await deals.discount("Nike Air Nothing", "10", 100.0) is None


@needs_data
async def test_the_2023_market_snapshot_loads_with_a_given_date(database: Database) -> None:
    when = datetime(2023, 6, 1, tzinfo=UTC)
    source = SalesHistoryImport(PRODUCTS_CSV, source="stockx-market", kind="sale", observed_at=when)
    result = await record(database, source.observations())
    assert result.inserted == 2_000 == await count(database, source="stockx-market")
    median = await recent_median(database, "Jordan 4 Retro SB Pine Green")
    assert median == 347.0


async def test_json_import_and_bad_rows(tmp_path: Path, database: Database) -> None:
    path = tmp_path / "goat-sales.json"
    path.write_bytes(
        orjson.dumps(
            {
                "sales": [
                    {
                        "id": "g1",
                        "title": "Nike Dunk Low Panda",
                        "sku": "DD1391-100",
                        "size": "US 9",
                        "price": "$120",
                        "sold_at": "2024-03-01T10:00:00Z",
                        "currency": "usd",
                    },
                    {
                        "id": "g2",
                        "title": "Nike Dunk Low Panda",
                        "sku": "DD1391-100",
                        "size": "10",
                        "price": 135,
                        "sold_at": 1709300000,
                    },
                    {"id": "g3", "title": "Nike Dunk Low Panda", "price": "free", "sold_at": "2024-03-01"},
                    {"id": "g4", "title": "", "price": 100, "sold_at": "2024-03-01"},
                    {"id": "g5", "title": "Nike Dunk Low Panda", "price": 140, "sold_at": "yesterday"},
                ]
            }
        )
    )
    source = SalesHistoryImport(path)
    assert source.name == "goat"
    result = await record(database, source.observations())
    assert (result.offered, result.inserted) == (2, 2)
    assert source.report.rows == 5 and source.report.skipped == 3
    assert source.report.problems[0] == "row 3: price `free` is not a positive number"
    assert await recent_median(database, "DD1391-100") == 127.5
    assert await recent_median(database, "Nike Dunk Low Panda", size="9") == 120.0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name,when\nx,2020-01-01\n", "no price column; found: name, when"),
        ("", "the CSV file is empty"),
    ],
)
async def test_unreadable_files_are_refused_before_anything_is_stored(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "sales.csv"
    path.write_text(content)
    with pytest.raises(SalesFileError, match=message):
        [o async for o in SalesHistoryImport(path).observations()]
    with pytest.raises(SalesFileError, match="can't read"):
        [o async for o in SalesHistoryImport(tmp_path / "missing.csv").observations()]


@pytest.fixture
async def ebay() -> AsyncIterator[FakeEbayAPI]:
    fake = FakeEbayAPI()
    for n in range(230):
        fake.add_listing(f"Nike Dunk Low Retro Panda Size {8 + n % 6} DD1391-100 #{n}", 110.0 + n % 40)
    fake.add_listing("Jordan 4 Retro Bred Reimagined Mens Size 10.5", 260.0)
    await fake.start()
    yield fake
    await fake.stop()


async def test_ebay_browse_token_search_pagination_and_storage(ebay: FakeEbayAPI, database: Database) -> None:
    client = EbayBrowse(CLIENT_ID, CLIENT_SECRET, api_base=ebay.base_url)
    try:
        found = [o async for o in client.observations("nike dunk panda", limit=210)]
        assert len(found) == 210
        assert [q["offset"] for q in ebay.calls.queries] == ["0", "200"]
        assert [q["limit"] for q in ebay.calls.queries] == ["200", "10"]
        first = found[0]
        assert (first.source, first.kind, first.price, first.currency, first.size) == (
            "ebay",
            "listing",
            110.0,
            "USD",
            "8",
        )
        assert first.url and first.url.startswith("https://www.ebay.com/itm/")
        result = await record(database, found)
        assert result.inserted == 210
        again = await record(database, [o async for o in client.observations("nike dunk panda", limit=210)])
        assert again.inserted == 0
        assert ebay.calls.tokens == 1  # one token reused
        bred = [o async for o in client.observations("jordan bred")]
        assert [(o.size, o.price) for o in bred] == [("10.5", 260.0)]
        assert [o async for o in client.observations("yeezy foam runner")] == []
    finally:
        await client.close()


async def test_ebay_renews_an_expired_token_and_reports_limits(ebay: FakeEbayAPI) -> None:
    client = EbayBrowse(CLIENT_ID, CLIENT_SECRET, api_base=ebay.base_url)
    try:
        assert len([o async for o in client.observations("jordan bred")]) == 1
        ebay.expire_tokens()
        assert len([o async for o in client.observations("jordan bred")]) == 1
        assert ebay.calls.tokens == 2 and ebay.calls.rejected_tokens == 1
        ebay.rate_limited = 1
        with pytest.raises(EbayError) as limited:
            [o async for o in client.observations("jordan bred")]
        assert limited.value.kind == "rate_limited" and limited.value.retry_after == 3.0
        with pytest.raises(EbayError, match="something to search for"):
            [o async for o in client.observations("  ")]
    finally:
        await client.close()
    wrong = EbayBrowse(CLIENT_ID, "not-the-secret", api_base=ebay.base_url)
    try:
        with pytest.raises(EbayError, match="refused the app credentials: client authentication failed"):
            [o async for o in wrong.observations("jordan")]
    finally:
        await wrong.close()
    with pytest.raises(EbayError, match="EBAY_CLIENT_ID"):
        EbayBrowse("", "")


@pytest.mark.parametrize(
    ("title", "size"),
    [("Jordan 4 Bred Size 10.5 DS", "10.5"), ("Dunk Low Panda Mens 9", "9"), ("Samba OG US 11", "11"), ("Tee L", None)],
)
def test_size_from_listing_titles(title: str, size: str | None) -> None:
    assert size_from_title(title) == size
