"""``snpd demo``, ``snpd monitor test`` and ``snpd prices``, run as a user would."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from bot.monitors.demo import run_demo
from tests.fakes.shopify_store import FakeShopifyStore

SNPD = [sys.executable, "-m", "snpd"]


@pytest.fixture
async def store() -> AsyncIterator[FakeShopifyStore]:
    shop = FakeShopifyStore()
    shop.seed_catalogue(20)
    shop.add_product("Jordan 4 Retro Bred", available=["9", "10"], price=210.0, vendor="Jordan")
    await shop.start()
    yield shop
    await shop.stop()


async def test_demo_shows_restock_alerts_with_cart_links(make_config: Any) -> None:
    out = io.StringIO()
    # the scripted drop at 3x speed: the first restock lands about 3 s in
    await run_demo(make_config(), seconds=6.5, speed=3.0, stdout=out)
    text = out.getvalue()
    assert "SNPD demo: a simulated Shopify store" in text
    assert "[feed:restocks] == 🆕 New: Jordan 4 Retro Military Blue ==" in text
    restock = text[text.index("== 🟢 Restock: Jordan 4 Retro Military Blue ==") :]
    assert "Back in stock: 8, 9, 9.5, 10, 11" in restock
    assert "/cart/" in restock and "🛒 9.5 → http://127.0.0.1:" in restock


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SNPD, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


async def test_cli_monitor_test_json(store: FakeShopifyStore, tmp_path: Path) -> None:
    (tmp_path / "bot.toml").write_text("[monitors]\nallow_private_addresses = true\n")
    result = await asyncio.to_thread(run_cli, "monitor", "test", store.base_url, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    seen = orjson.loads(result.stdout)
    assert seen["kind"] == "store" and seen["product_count"] == 21 and seen["currency"] == "USD"
    bred = seen["products"][0]
    assert bred["title"] == "Jordan 4 Retro Bred" and bred["sizes_in_stock"] == ["9", "10"]
    nine = store.variant(int(bred["id"]), "9")["id"]
    assert bred["cart_links"]["9"] == f"{store.base_url}/cart/{nine}:1"
    assert {v["size"] for v in bred["variants"]} >= {"7", "9", "13"}


async def test_cli_monitor_test_errors_are_one_line(tmp_path: Path) -> None:
    result = await asyncio.to_thread(run_cli, "monitor", "test", "not a url", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "`url`: `not a url` is not a web address; give one like https://kith.com"


def test_cli_prices_import_and_median(tmp_path: Path) -> None:
    csv_path = tmp_path / "goat-export.csv"
    csv_path.write_text(
        "Sold At,Product,Size,Price\n2024-01-02,Nike Dunk Low Panda,US 10,$130\n2024-01-03,Nike Dunk Low Panda,10,"
        "$150\n2024-01-04,Nike Dunk Low Panda,9,oops\n"
    )
    first = run_cli("prices", "import", str(csv_path), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert orjson.loads(first.stdout) == {
        "source": "goat",
        "rows": 3,
        "inserted": 2,
        "duplicates": 0,
        "skipped": 1,
        "problems": ["row 3: price `oops` is not a positive number"],
    }
    again = orjson.loads(run_cli("prices", "import", str(csv_path), cwd=tmp_path).stdout)
    assert (again["inserted"], again["duplicates"]) == (0, 2)
    median = run_cli("prices", "median", "nike dunk low panda", "--size", "10", cwd=tmp_path)
    assert orjson.loads(median.stdout) == {"product": "nike dunk low panda", "size": "10", "sales": 2, "median": 140.0}
    bad = run_cli("prices", "import", str(tmp_path / "nope.csv"), cwd=tmp_path)
    assert bad.returncode == 2 and "can't read" in bad.stderr
