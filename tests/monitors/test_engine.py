"""The monitor engine end to end against the local Shopify store, on SQLite and PostgreSQL.

Every event type, pagination over several pages, the first run as a silent baseline, a restart
without duplicates, flap debouncing, filters, and the exact ``monitor.event`` payload.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.monitors.models import MonitorEvent, MonitorProduct, PriceObservation
from bot.monitors.service import MonitorService
from core.engine import Engine
from core.storage.database import Database
from snpd.app import build_engine
from tests.fakes.shopify_store import BusRecorder, FakeShopifyStore

FAST = {
    "host_min_interval": {"127.0.0.1": 0.0},
    "backoff_base_seconds": 0.2,
    "backoff_max_seconds": 1.0,
    "flap_window_seconds": 0.0,
}
PAYLOAD_KEYS = {
    "event_id",
    "kind",
    "monitor_id",
    "store",
    "product",
    "sizes",
    "sizes_in_stock",
    "price",
    "old_price",
    "currency",
    "cart_links",
    "occurred_at",
}
PRODUCT_KEYS = {"id", "title", "handle", "brand", "url", "image", "tags"}


class Harness:
    def __init__(self, engine: Engine, store: FakeShopifyStore) -> None:
        self.engine = engine
        self.service: MonitorService = engine.service(MonitorService)
        self.store = store
        self.bus = BusRecorder(engine.bus)

    async def add(self, url: str | None = None, **options: Any) -> int:
        row, _probe, outcome = await self.service.add(url or self.store.base_url, interval=3600, **options)
        assert outcome.error is None, outcome.error
        await self.engine.bus.drain()
        return row.id

    async def poll(self, monitor_id: int) -> Any:
        outcome = await self.service.poll(monitor_id)
        await self.engine.bus.drain()
        return outcome


async def start_engine(make_config: Any, database: Database, **overrides: Any) -> Engine:
    engine = build_engine(make_config(monitors={**FAST, **overrides}), db=database)
    await engine.start(migrate=False)
    return engine


async def stop_engine(engine: Engine) -> None:
    """Running polls finish (or are cancelled) before the HTTP session and the database close."""
    await engine.scheduler.stop()
    await engine.bus.drain()
    await engine.service(MonitorService).close()


@pytest.fixture
async def store() -> AsyncIterator[FakeShopifyStore]:
    shop = FakeShopifyStore()
    shop.seed_catalogue(600)
    await shop.start()
    yield shop
    await shop.stop()


@pytest.fixture
async def harness(make_config: Any, database: Database, store: FakeShopifyStore) -> AsyncIterator[Harness]:
    engine = await start_engine(make_config, database)
    yield Harness(engine, store)
    await stop_engine(engine)


def last_product(store: FakeShopifyStore) -> dict[str, Any]:
    """A product on the last page (page 3 of 600 at 250 a page)."""
    return store.products[-1]


def out_of_stock_size(product: dict[str, Any]) -> str:
    return next(v["option1"] for v in product["variants"] if not v["available"])


def in_stock_size(product: dict[str, Any]) -> str:
    return next(v["option1"] for v in product["variants"] if v["available"])


async def test_first_run_is_a_silent_baseline_over_every_page(harness: Harness) -> None:
    monitor_id = await harness.add()
    assert harness.bus.events == [] and harness.bus.feed == []
    # three full pages and the empty fourth that ends the listing
    assert harness.store.stats.paths["/products.json"] >= 4
    async with harness.engine.db.read() as session:
        stored = await session.scalar(
            select(func.count()).select_from(MonitorProduct).where(MonitorProduct.monitor_id == monitor_id)
        )
    assert stored == 600
    outcome = await harness.poll(monitor_id)
    assert outcome.status == "unchanged" and harness.bus.events == []


async def test_restock_on_the_last_page_is_one_event_with_cart_links(harness: Harness) -> None:
    monitor_id = await harness.add()
    product = last_product(harness.store)
    size = out_of_stock_size(product)
    harness.store.set_available(product["id"], size, True)
    outcome = await harness.poll(monitor_id)
    assert outcome.status == "changed"
    assert harness.bus.kinds() == ["restock"]
    event = harness.bus.events[0]
    assert set(event) == PAYLOAD_KEYS and set(event["product"]) == PRODUCT_KEYS
    variant = harness.store.variant(product["id"], size)
    base = harness.store.base_url
    assert event["sizes"] == [size]
    assert size in event["sizes_in_stock"]
    assert event["cart_links"][size] == f"{base}/cart/{variant['id']}:1"
    assert set(event["cart_links"]) == set(event["sizes_in_stock"])
    assert event["product"]["id"] == str(product["id"])
    assert event["product"]["url"] == f"{base}/products/{product['handle']}"
    assert event["product"]["brand"] == product["vendor"]
    assert event["store"] == base.split("//")[1]
    assert event["monitor_id"] == monitor_id
    assert event["currency"] == "USD"
    assert event["price"] == float(variant["price"])
    assert event["event_id"] == f"{monitor_id}:{product['id']}:2:restock"
    # the feed post: one cart button per size in stock, the restocked size first
    assert len(harness.bus.feed) == 1 and harness.bus.feed[0]["feed"] == "restocks"
    item = harness.bus.feed[0]["item"]
    assert item["buttons"][0] == {"label": f"🛒 {size}", "url": event["cart_links"][size], "action": None}
    assert {b["url"] for b in item["buttons"]} == set(event["cart_links"].values())
    assert item["image_url"] == event["product"]["image"] and item["title"].endswith(product["title"])
    # nothing more on the next poll
    assert (await harness.poll(monitor_id)).status == "unchanged"
    assert len(harness.bus.events) == 1


async def test_sold_out_price_change_and_new_product(harness: Harness) -> None:
    monitor_id = await harness.add()
    product = last_product(harness.store)
    size = in_stock_size(product)
    harness.store.set_available(product["id"], size, False)
    await harness.poll(monitor_id)
    assert harness.bus.kinds() == ["sold_out"]
    assert harness.bus.events[0]["sizes"] == [size]
    assert size not in harness.bus.events[0]["cart_links"]

    harness.bus.clear()
    old = float(product["variants"][0]["price"])
    harness.store.set_price(product["id"], old - 25)
    await harness.poll(monitor_id)
    assert harness.bus.kinds() == ["price_change"]
    event = harness.bus.events[0]
    assert (event["old_price"], event["price"]) == (old, old - 25)
    assert "dropped" in harness.bus.feed[0]["item"]["text"]

    harness.bus.clear()
    # a new product goes to the top and pushes one product of every page onto the next page
    harness.store.add_product("Air Jordan 1 High OG Chicago", available=["9", "10"], vendor="Jordan")
    await harness.poll(monitor_id)
    assert harness.bus.kinds() == ["new_product"]
    assert harness.bus.events[0]["product"]["title"] == "Air Jordan 1 High OG Chicago"
    assert harness.bus.events[0]["sizes"] == ["9", "10"]
    # retail prices from those events land in the observations table the price features read
    async with harness.engine.db.read() as session:
        rows = (await session.scalars(select(PriceObservation).order_by(PriceObservation.id))).all()
    assert [(r.kind, r.source, r.product, r.price) for r in rows] == [
        ("retail", f"shopify:{harness.store.base_url.split('//')[1]}", product["title"], old - 25),
        ("retail", f"shopify:{harness.store.base_url.split('//')[1]}", "Air Jordan 1 High OG Chicago", 120.0),
    ]


async def test_password_page_up_and_down(harness: Harness) -> None:
    monitor_id = await harness.add()
    harness.store.set_password(True)
    outcome = await harness.poll(monitor_id)
    assert outcome.status == "password"
    assert harness.bus.kinds() == ["password_up"]
    assert harness.service.runners[monitor_id].health.status == "password"
    assert (await harness.poll(monitor_id)).status == "password"
    assert len(harness.bus.events) == 1
    harness.store.set_password(False)
    await harness.poll(monitor_id)
    assert harness.bus.kinds() == ["password_up", "password_down"]
    assert harness.bus.events[1]["event_id"] == f"{monitor_id}:store:2:password_down"
    assert harness.service.runners[monitor_id].health.status == "ok"


async def test_restart_emits_no_duplicates_and_keeps_detecting(
    make_config: Any, database: Database, store: FakeShopifyStore
) -> None:
    first = await start_engine(make_config, database)
    harness = Harness(first, store)
    monitor_id = await harness.add()
    product = last_product(store)
    size = out_of_stock_size(product)
    store.set_available(product["id"], size, True)
    await harness.poll(monitor_id)
    assert harness.bus.kinds() == ["restock"]
    await stop_engine(first)

    second = await start_engine(make_config, database)
    try:
        again = Harness(second, store)
        assert (await again.poll(monitor_id)).status == "unchanged"
        assert again.bus.events == []
        store.set_available(product["id"], size, False)
        await again.poll(monitor_id)
        assert again.bus.kinds() == ["sold_out"]
    finally:
        await stop_engine(second)


async def test_changes_while_down_alert_once_after_restart(
    make_config: Any, database: Database, store: FakeShopifyStore
) -> None:
    first = await start_engine(make_config, database)
    monitor_id = await Harness(first, store).add()
    await stop_engine(first)
    product = last_product(store)
    store.set_available(product["id"], out_of_stock_size(product), True)
    second = await start_engine(make_config, database)
    try:
        harness = Harness(second, store)
        await harness.poll(monitor_id)
        await harness.poll(monitor_id)
        assert harness.bus.kinds() == ["restock"]
    finally:
        await stop_engine(second)


async def test_unpublished_outbox_events_go_out_at_start(
    make_config: Any, database: Database, store: FakeShopifyStore
) -> None:
    first = await start_engine(make_config, database)
    harness = Harness(first, store)
    monitor_id = await harness.add()
    product = last_product(store)
    store.set_available(product["id"], out_of_stock_size(product), True)
    await harness.poll(monitor_id)
    # as if the process died between storing the event and publishing it
    async with database.transaction() as session:
        await session.execute(update(MonitorEvent).values(published_at=None))
    await stop_engine(first)
    second = build_engine(make_config(monitors=FAST), db=database)
    recorder = BusRecorder(second.bus)
    await second.service(MonitorService).boot()
    await second.bus.drain()
    try:
        assert [e["event_id"] for e in recorder.events] == [harness.bus.events[0]["event_id"]]
        assert len(recorder.feed) == 1
        async with database.read() as session:
            pending = await session.scalar(select(func.count()).where(MonitorEvent.published_at.is_(None)))
        assert pending == 0
    finally:
        await stop_engine(second)


async def test_flapping_size_alerts_once_within_the_window(
    make_config: Any, database: Database, store: FakeShopifyStore
) -> None:
    engine = await start_engine(make_config, database, flap_window_seconds=600.0)
    try:
        harness = Harness(engine, store)
        monitor_id = await harness.add()
        product = last_product(store)
        size = out_of_stock_size(product)
        for available in (True, False, True, False, True):
            store.set_available(product["id"], size, available)
            await harness.poll(monitor_id)
        assert harness.bus.kinds() == ["restock"]
        # another size is not held back by the first one's window
        other = next(v["option1"] for v in product["variants"] if not v["available"])
        store.set_available(product["id"], other, True)
        await harness.poll(monitor_id)
        assert harness.bus.kinds() == ["restock", "restock"]
        assert harness.bus.events[1]["sizes"] == [other]
    finally:
        await stop_engine(engine)


async def test_keyword_and_size_filters(harness: Harness) -> None:
    store = harness.store
    jordan = store.add_product("Jordan 4 Retro Bred", vendor="Jordan", available=False, tags=["jordan"])
    kids = store.add_product("Jordan 4 Retro Bred (GS) kids", vendor="Jordan", available=False, tags=["jordan"])
    dunk = store.add_product("Nike Dunk Low Panda", vendor="Nike", available=False)
    monitor_id = await harness.add(keywords="+jordan -kids retro|og", sizes="9.5, 10")
    for product in (jordan, kids, dunk):
        store.set_available(product["id"], ["8", "9.5", "10"], True)
    await harness.poll(monitor_id)
    assert harness.bus.kinds() == ["restock"]
    event = harness.bus.events[0]
    assert event["product"]["id"] == str(jordan["id"])
    assert event["sizes"] == ["9.5", "10"]
    assert set(event["sizes_in_stock"]) >= {"8", "9.5", "10"}
    harness.bus.clear()
    store.set_available(jordan["id"], "8", False)
    await harness.poll(monitor_id)
    assert harness.bus.events == []


async def test_a_vanished_product_that_returns_is_a_restock_not_a_new_product(harness: Harness) -> None:
    monitor_id = await harness.add()
    product = last_product(harness.store)
    harness.store.remove_product(product["id"])
    await harness.poll(monitor_id)
    assert harness.bus.events == []
    for variant in product["variants"]:
        variant["available"] = True
    harness.store.products.append(product)
    harness.store.set_price(product["id"], float(product["variants"][0]["price"]))
    await harness.poll(monitor_id)
    assert harness.bus.kinds() == ["restock"]


async def test_conditional_requests_skip_unchanged_pages(harness: Harness) -> None:
    monitor_id = await harness.add()
    before = harness.store.stats.not_modified
    await harness.poll(monitor_id)
    assert harness.store.stats.not_modified - before == 4
    stats = harness.service.stats
    assert stats.unchanged_full_bytes > 0 and stats.unchanged_bytes_saved_pct > 90


async def test_without_validators_a_content_hash_skips_parsing(make_config: Any, database: Database) -> None:
    store = FakeShopifyStore(etag=False, last_modified=False)
    store.seed_catalogue(300)
    await store.start()
    engine = await start_engine(make_config, database)
    try:
        harness = Harness(engine, store)
        monitor_id = await harness.add()
        hashed = harness.service.stats.same_hash
        assert (await harness.poll(monitor_id)).status == "unchanged"
        assert harness.service.stats.same_hash - hashed == 3
        assert harness.service.runners[monitor_id].pages[1].validators.etag is None
        product = last_product(store)
        store.set_available(product["id"], out_of_stock_size(product), True)
        await harness.poll(monitor_id)
        assert harness.bus.kinds() == ["restock"]
    finally:
        await stop_engine(engine)
        await store.stop()


async def test_last_modified_only_store_never_hides_a_change_in_the_same_second(
    make_config: Any, database: Database
) -> None:
    store = FakeShopifyStore(etag=False, last_modified=True)
    store.seed_catalogue(50)
    await store.start()
    engine = await start_engine(make_config, database)
    try:
        product = store.add_product("Samba OG White", available=False, vendor="Adidas")
        harness = Harness(engine, store)
        monitor_id = await harness.add()
        # three changes inside about a second: a Last-Modified that close to Date can't tell them
        # apart, so the client must not revalidate with it (or the 2nd and 3rd would be 304s)
        for size in ("9", "10", "11"):
            store.set_available(product["id"], size, True)
            await harness.poll(monitor_id)
        assert [e["sizes"] for e in harness.bus.events] == [["9"], ["10"], ["11"]]
    finally:
        await stop_engine(engine)
        await store.stop()


async def test_single_product_watch_from_not_live_to_restock(harness: Harness) -> None:
    store = harness.store
    monitor_id = await harness.add(f"{store.base_url}/products/yeezy-350-onyx")
    assert harness.service.runners[monitor_id].product_count == 0
    assert (await harness.poll(monitor_id)).status == "unchanged"
    product = store.add_product("Yeezy 350 Onyx", handle="yeezy-350-onyx", available=False, vendor="Adidas")
    await harness.poll(monitor_id)
    assert harness.bus.kinds() == ["new_product"]
    assert harness.bus.events[0]["sizes"] == []
    store.set_available(product["id"], ["10", "11"], True)
    await harness.poll(monitor_id)
    assert harness.bus.kinds() == ["new_product", "restock"]
    restock = harness.bus.events[1]
    assert restock["sizes"] == ["10", "11"] and restock["price"] == 120.0
    variant = store.variant(product["id"], "10")
    assert restock["cart_links"]["10"] == f"{store.base_url}/cart/{variant['id']}:1"


async def test_collection_monitor_reads_only_that_collection(harness: Harness) -> None:
    monitor_id = await harness.add(f"{harness.store.base_url}/collections/salomon")
    assert harness.service.runners[monitor_id].product_count == 100
    salomon = next(p for p in harness.store.products if "salomon" in p["tags"])
    nike = next(p for p in harness.store.products if "nike" in p["tags"])
    harness.store.set_available(salomon["id"], out_of_stock_size(salomon), True)
    harness.store.set_available(nike["id"], out_of_stock_size(nike), True)
    await harness.poll(monitor_id)
    assert [e["product"]["id"] for e in harness.bus.events] == [str(salomon["id"])]
