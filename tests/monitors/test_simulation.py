"""A seeded random walk through store changes, faults, polls and restarts, checked against a model.

The model is just "what the store looked like at the last successful poll". After every successful
poll, the events must be exactly the differences between that and the store now: nothing missed,
nothing doubled, nothing invented while a fault hid the store.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.storage.database import Database
from tests.fakes.shopify_store import FakeShopifyStore
from tests.monitors.test_engine import Harness, start_engine, stop_engine

Snapshot = dict[str, dict[str, Any]]
FAULTS = ("429", "503", "430", "captcha", "html", "truncated", "reset_body")


def snapshot(store: FakeShopifyStore) -> Snapshot:
    return {
        str(p["id"]): {
            "title": p["title"],
            "variants": {str(v["id"]): (v["option1"], v["available"], float(v["price"])) for v in p["variants"]},
        }
        for p in store.products
    }


def expected_events(before: Snapshot, after: Snapshot) -> set[tuple[str, str, frozenset[str]]]:
    found: set[tuple[str, str, frozenset[str]]] = set()
    for pid, product in after.items():
        old = before.get(pid)
        if old is None:
            found.add(("new_product", pid, frozenset(s for s, avail, _ in product["variants"].values() if avail)))
            continue
        restocked, sold, repriced = set(), set(), set()
        for vid, (size, avail, price) in product["variants"].items():
            _size, was, old_price = old["variants"][vid]
            if avail and not was:
                restocked.add(size)
            if was and not avail:
                sold.add(size)
            if price != old_price:
                repriced.add(size)
        for kind, sizes in (("restock", restocked), ("sold_out", sold), ("price_change", repriced)):
            if sizes:
                found.add((kind, pid, frozenset(sizes)))
    return found


@pytest.fixture
async def sqlite_database(tmp_path: Any) -> AsyncIterator[Database]:
    from bot.slices import load_models, migration_locations
    from core.storage.migrate import upgrade

    load_models()
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'walk.db'}")
    await upgrade(db, migration_locations())
    yield db
    await db.dispose()


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_walk_matches_the_model(make_config: Any, sqlite_database: Database, seed: int) -> None:
    rng = random.Random(seed)
    store = FakeShopifyStore(seed=seed, etag=rng.random() < 0.7, last_modified=rng.random() < 0.5)
    store.seed_catalogue(300)
    await store.start()
    options = {"backoff_base_seconds": 0.1, "backoff_max_seconds": 0.1}
    engine = await start_engine(make_config, sqlite_database, **options)
    harness = Harness(engine, store)
    try:
        monitor_id = await harness.add()
        seen = snapshot(store)
        polls = failures = alerted = 0
        for step in range(60):
            for _ in range(rng.randint(0, 4)):
                product = rng.choice(store.products)
                action = rng.random()
                if action < 0.7:
                    size = rng.choice(product["variants"])["option1"]
                    store.set_available(product["id"], size, not store.variant(product["id"], size)["available"])
                elif action < 0.85:
                    store.set_price(product["id"], float(rng.choice((99, 110, 120, 135))))
                else:
                    store.add_product(f"Walk Drop {seed}-{step}", available=rng.sample(["8", "9", "10", "11"], 2))
            if rng.random() < 0.15:
                store.inject(rng.choice(FAULTS), path="/products.json", after=rng.randint(0, 1))
            if step in (20, 40) or rng.random() < 0.03:
                await stop_engine(engine)
                engine = await start_engine(make_config, sqlite_database, **options)
                harness = Harness(engine, store)
            gate = harness.service.gates.get(store.base_url.split("//")[1], 0)
            while gate.backing_off_for() > 0:
                await asyncio.sleep(0.005)
            harness.bus.clear()
            outcome = await harness.poll(monitor_id)
            polls += 1
            got = {(e["kind"], e["product"]["id"], frozenset(e["sizes"])) for e in harness.bus.events}
            assert len(got) == len(harness.bus.events), "an event was published twice"
            alerted += len(got)
            if outcome.status in ("changed", "unchanged"):
                now = snapshot(store)
                assert got == expected_events(seen, now), f"step {step}: {outcome.status}"
                seen = now
            else:
                failures += 1
                assert got == set(), f"events during a failed poll: {got}"
        assert failures > 0 and polls - failures > 30 and alerted > 40, (failures, polls, alerted)
    finally:
        await stop_engine(engine)
        await store.stop()
