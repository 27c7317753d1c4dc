"""Faults from the store: each marks the monitor's health and backs off, none crashes a poll or the
engine, and none ever produces a false restock (or loses a real one)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.storage.database import Database
from tests.fakes.shopify_store import FakeShopifyStore
from tests.monitors.test_engine import Harness, last_product, out_of_stock_size, start_engine, stop_engine

FAULTS = [
    ("429", "blocked", "rate limited (HTTP 429)"),
    ("430", "blocked", "blocked by the store (HTTP 430)"),
    ("403", "blocked", "blocked by the store (HTTP 403)"),
    ("500", "error", "store error (HTTP 500)"),
    ("503", "error", "store error (HTTP 503)"),
    ("captcha", "blocked", "captcha page instead of products"),
    ("html", "error", "HTML instead of JSON"),
    ("truncated", "error", "truncated or invalid JSON"),
    ("reset", "error", "no answer"),
    ("reset_body", "error", None),
]


@pytest.fixture
async def store() -> AsyncIterator[FakeShopifyStore]:
    shop = FakeShopifyStore()
    shop.seed_catalogue(400)
    await shop.start()
    yield shop
    await shop.stop()


@pytest.fixture
async def harness(make_config: Any, sqlite_database: Database, store: FakeShopifyStore) -> AsyncIterator[Harness]:
    engine = await start_engine(make_config, sqlite_database, backoff_base_seconds=0.1, backoff_max_seconds=0.3)
    yield Harness(engine, store)
    await stop_engine(engine)


@pytest.fixture
async def sqlite_database(tmp_path: Any) -> AsyncIterator[Database]:
    """Faults are about HTTP, not storage: SQLite is enough and keeps this file fast."""
    from bot.slices import load_models, migration_locations
    from core.storage.migrate import upgrade

    load_models()
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'faults.db'}")
    await upgrade(db, migration_locations())
    yield db
    await db.dispose()


async def rested(harness: Harness, host: str) -> None:
    gate = harness.service.gates.get(host, 0)
    while gate.backing_off_for() > 0:
        await asyncio.sleep(0.05)


@pytest.mark.parametrize(("fault", "status", "message"), FAULTS, ids=[f[0] for f in FAULTS])
async def test_fault_on_page_two_marks_health_backs_off_and_alerts_nothing_false(
    harness: Harness, fault: str, status: str, message: str | None
) -> None:
    store = harness.store
    monitor_id = await harness.add()
    host = store.base_url.split("//")[1]
    product = last_product(store)
    size = out_of_stock_size(product)
    store.set_available(product["id"], size, True)  # a real restock, hidden behind the fault
    # aiohttp retries a request once when a reused keep-alive connection turns out dead: reset twice
    store.inject(fault, path="/products.json", after=1, times=2 if fault == "reset" else 1)
    outcome = await harness.poll(monitor_id)
    assert outcome.status == status
    runner = harness.service.runners[monitor_id]
    assert runner.health.status == status
    if message:
        assert runner.health.last_error == message
    assert harness.bus.events == []
    # resting: the next poll doesn't even reach the store
    requests = store.stats.requests
    assert (await harness.poll(monitor_id)).status == "backing_off"
    assert store.stats.requests == requests
    await rested(harness, host)
    # recovered: the real restock comes through exactly once, nothing else does
    assert (await harness.poll(monitor_id)).status == "changed"
    assert harness.bus.kinds() == ["restock"] and harness.bus.events[0]["sizes"] == [size]
    assert runner.health.status == "ok" and runner.health.last_error is None
    assert (await harness.poll(monitor_id)).status == "unchanged"
    assert len(harness.bus.events) == 1


async def test_retry_after_is_honoured_over_a_shorter_backoff(harness: Harness) -> None:
    monitor_id = await harness.add()
    harness.store.inject("429", path="/products.json", retry_after="2")
    started = time.monotonic()
    await harness.poll(monitor_id)
    gate = harness.service.gates.get(harness.store.base_url.split("//")[1], 0)
    assert 1.8 <= gate.backing_off_for() <= 2.0
    await rested(harness, gate.host)
    assert time.monotonic() - started >= 1.9
    assert (await harness.poll(monitor_id)).status == "unchanged"


async def test_backoff_grows_exponentially_while_failures_continue(harness: Harness) -> None:
    monitor_id = await harness.add()
    gate = harness.service.gates.get(harness.store.base_url.split("//")[1], 0)
    gate.max_s = 100.0
    skipped = 0.0  # the gate's clock jumps past each rest instead of the test waiting it out
    gate.clock = lambda: time.monotonic() + skipped
    harness.store.inject("503", path="/products.json", times=4)
    rests = []
    for _ in range(4):
        await harness.poll(monitor_id)
        rests.append(gate.backing_off_for())
        skipped += rests[-1] + 0.01
    assert gate.failures == 4
    # base 0.1 s doubling, each with up to 50% jitter taken off
    for attempt, rest in enumerate(rests):
        assert 0.1 * 2**attempt * 0.5 - 0.01 <= rest <= 0.1 * 2**attempt
    await harness.poll(monitor_id)
    assert gate.failures == 0


async def test_a_failed_first_poll_still_adds_the_monitor_and_a_later_one_takes_the_baseline(
    harness: Harness,
) -> None:
    store = harness.store
    store.inject("truncated", path="/products.json", after=1)  # the probe passes, the baseline fails
    row, _probe, outcome = await harness.service.add(store.base_url, interval=3600)
    assert outcome.status == "error" and row.id in harness.service.runners
    await rested(harness, store.base_url.split("//")[1])
    product = last_product(store)
    store.set_available(product["id"], out_of_stock_size(product), True)
    assert (await harness.poll(row.id)).status == "baseline"
    assert harness.bus.events == []


async def test_a_slow_store_times_out_as_an_error(make_config: Any, sqlite_database: Database) -> None:
    store = FakeShopifyStore()
    store.seed_catalogue(10)
    await store.start()
    engine = await start_engine(make_config, sqlite_database, request_timeout_seconds=1.0)
    try:
        harness = Harness(engine, store)
        monitor_id = await harness.add()
        store.inject("slow", path="/products.json", delay=3.0)
        outcome = await harness.poll(monitor_id)
        assert outcome.status == "error" and outcome.error == "timed out"
    finally:
        await stop_engine(engine)
        await store.stop()
