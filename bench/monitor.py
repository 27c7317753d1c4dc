"""``snpd bench monitor``: parse-and-diff throughput, detection latency, bytes saved by revalidation.

Throughput (``pages_per_s``): the monitor's own code path (``scan_page`` then the runner's diff and
in-memory update; storing is excluded) over 250-product ``products.json`` pages of the local store's
realistic products (about 1.3 MB a page), on one core, in steady state: each round 3 products of each
page change (a size restocks or sells out). ``pages_per_s_cold`` is the same with nothing cached,
every product parsed (the first poll after a restart).

Latency (``detect_p50_ms``/``detect_p99_ms``): the store runs in its own process with 600 products
(3 pages); the engine polls it every second through the scheduler. Changes land at random moments
(each on a different product, one size restocking or selling out) through the store's admin
endpoint, which returns the instant of the change; the clock stops when the feed item for that change
is published on the bus (it has left the monitor engine for the frontends). Every change must produce
exactly one feed item: ``missed`` and ``duplicates`` count the ones that didn't.

``unchanged_bytes_saved_pct``: over the pages that had not changed since the last poll, the share of
their bytes that conditional requests kept off the wire (304s send headers only; headers counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median, quantiles
from typing import Any

import aiohttp
import orjson

REPO = Path(__file__).resolve().parents[1]
THROUGHPUT_S = 4.0
QUIET_S = 3.0
CHANGES_S = 24.0
CHANGE_GAP_S = (0.1, 0.6)
STORE_PRODUCTS = 600


def _config(tmp: Path) -> Any:
    from bot.slices import load_config, load_models

    load_models()
    return load_config(
        None,
        overrides={
            "bot": {"data_dir": str(tmp)},
            # a steady 1 s poll: jitter (10% by default) would add up to 100 ms to the detection figure;
            # the store is a local fake, so loopback is allowed explicitly, as in the tests and the demo
            "monitors": {
                "host_min_interval": {"127.0.0.1": 1.0},
                "flap_window_seconds": 0.0,
                "jitter_fraction": 0.0,
                "allow_private_addresses": True,
            },
        },
    )


# ---------------------------------------------------------------------------- throughput


async def _throughput(tmp: Path) -> dict[str, Any]:
    from bot.monitors.models import Monitor
    from bot.monitors.runner import MonitorRunner
    from bot.monitors.service import MonitorService
    from bot.monitors.sources import Observation
    from bot.monitors.sources.shopify import scan_page
    from core.storage.types import utcnow
    from snpd.app import build_engine
    from tests.fakes.shopify_store import FakeShopifyStore

    engine = build_engine(_config(tmp / "throughput"))
    service = engine.service(MonitorService)
    store = FakeShopifyStore()
    store.seed_catalogue(1000)
    base = "http://127.0.0.1:1"
    row = Monitor(
        id=1,
        kind="store",
        url=base,
        host="127.0.0.1:1",
        keywords="",
        sizes=[],
        feed="restocks",
        role=None,
        interval_s=1,
        selectors={},
        currency="USD",
        status="new",
        revision=0,
    )
    runner = MonitorRunner(service, row)
    runner.products = {}
    rng = random.Random(3)

    def pages() -> list[bytes]:
        return [orjson.dumps({"products": store.products[i : i + 250]}) for i in range(0, len(store.products), 250)]

    def process(bodies: list[bytes]) -> int:
        observation = Observation(seen=set())
        for body in bodies:
            scan = scan_page(body, runner.chunks, base)
            observation.changed.extend(scan.changed)
            observation.chunks.update(scan.chunks)
            assert observation.seen is not None
            observation.seen.update(scan.ids)
        plan = runner._plan(observation, utcnow())
        runner._apply(plan, observation)
        return len(plan.events)

    bodies = pages()
    page_bytes = sum(len(b) for b in bodies) // len(bodies)
    cold_started = time.perf_counter()
    process(bodies)  # the baseline: nothing cached, everything parsed
    cold = len(bodies) / (time.perf_counter() - cold_started)

    processed = events = 0
    busy = 0.0
    deadline = time.perf_counter() + THROUGHPUT_S
    while time.perf_counter() < deadline:
        for start in range(0, 1000, 250):
            for product in rng.sample(store.products[start : start + 250], 3):
                variant = rng.choice(product["variants"])
                variant["available"] = not variant["available"]
        bodies = pages()  # the store's work, not timed
        started = time.perf_counter()
        events += process(bodies)
        busy += time.perf_counter() - started
        processed += len(bodies)
    await engine.db.dispose()
    return {
        "pages_per_s": round(processed / busy, 1),
        "pages_per_s_cold": round(cold, 1),
        "page_bytes": page_bytes,
        "changed_products_per_page": 3,
        "throughput_events": events,
    }


# ---------------------------------------------------------------------------- latency


async def _start_store() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.shopify_store", "--products", str(STORE_PRODUCTS)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = await asyncio.to_thread(process.stdout.readline)
    if not line.startswith("http://"):
        process.kill()
        raise RuntimeError("the fake store did not start")
    return process, line.strip()


async def _latency(tmp: Path) -> dict[str, Any]:
    from bot.monitors.service import MonitorService
    from core.feeds import FEED_TOPIC
    from snpd.app import build_engine

    store, base = await _start_store()
    engine = build_engine(_config(tmp / "latency"))
    await engine.start()
    service = engine.service(MonitorService)
    posted: dict[str, list[float]] = {}
    events: list[dict[str, Any]] = []

    async def on_feed(_topic: str, payload: dict[str, Any]) -> None:
        posted.setdefault(payload["item"]["title"], []).append(time.time())

    async def on_event(_topic: str, payload: dict[str, Any]) -> None:
        events.append(payload)

    engine.bus.subscribe(FEED_TOPIC, on_feed)
    engine.bus.subscribe("monitor.event", on_event)
    changes: list[tuple[str, float]] = []
    rng = random.Random(11)
    try:
        async with aiohttp.ClientSession() as http:
            catalogue = await (await http.get(f"{base}/products.json?limit=250&page=1")).json()
            catalogue["products"] += (await (await http.get(f"{base}/products.json?limit=250&page=2")).json())[
                "products"
            ]
            catalogue["products"] += (await (await http.get(f"{base}/products.json?limit=250&page=3")).json())[
                "products"
            ]
            await service.add(base, interval=1, feed="restocks")
            await asyncio.sleep(QUIET_S)
            products = catalogue["products"]
            rng.shuffle(products)
            deadline = time.monotonic() + CHANGES_S
            for product in products:
                if time.monotonic() >= deadline:
                    break
                await asyncio.sleep(rng.uniform(*CHANGE_GAP_S))
                variant = product["variants"][0]
                size = variant["option1"]
                now_available = not variant["available"]
                answer = await http.post(
                    f"{base}/_admin/op",
                    json={"op": "set_available", "product": product["id"], "sizes": [size], "available": now_available},
                )
                at = (await answer.json())["at"]
                kind = "🟢 Restock" if now_available else "🔴 Sold out"
                changes.append((f"{kind}: {product['title']}", at))
            await asyncio.sleep(2.5)
            server = await (await http.get(f"{base}/_admin/stats")).json()
    finally:
        await engine.stop()
        await service.close()
        store.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            store.wait(timeout=5)
    latencies = []
    missed = duplicates = 0
    expected = {title for title, _ in changes}
    for title, at in changes:
        seen = posted.get(title, [])
        if not seen:
            missed += 1
            continue
        duplicates += len(seen) - 1
        latencies.append((seen[0] - at) * 1000)
    duplicates += sum(len(times) for title, times in posted.items() if title not in expected)
    cuts = quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else [0.0] * 99
    stats = service.stats
    return {
        "detect_p50_ms": round(median(latencies), 1) if latencies else None,
        "detect_p99_ms": round(cuts[98], 1),
        "detect_max_ms": round(max(latencies), 1) if latencies else None,
        "poll_interval_ms": 1000,
        "changes": len(changes),
        "missed": missed,
        "duplicates": duplicates,
        "bus_events": len(events),
        "unchanged_bytes_saved_pct": stats.unchanged_bytes_saved_pct,
        "unchanged_pages": stats.not_modified + stats.same_hash,
        "requests": stats.requests,
        "server_304s": server["not_modified"],
    }


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="snpd-bench-monitor-") as tmp:
        result = asyncio.run(_throughput(Path(tmp)))
        result.update(asyncio.run(_latency(Path(tmp))))
    return result
