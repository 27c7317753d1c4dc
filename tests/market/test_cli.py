"""``snpd catalog import`` and ``snpd catalog search``, run as a user would."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import orjson

from tests.market.data import PRODUCTS, SALES, write

SNPD = [sys.executable, "-m", "snpd"]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SNPD, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


async def test_import_then_search_batch(tmp_path: Path) -> None:
    (tmp_path / "bot.toml").write_text("")
    products = write(tmp_path, "products.csv", PRODUCTS)
    first = await asyncio.to_thread(run_cli, "catalog", "import", str(products), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert orjson.loads(first.stdout)["inserted"] == 12
    sales = write(tmp_path, "sales.csv", SALES)
    assert (await asyncio.to_thread(run_cli, "catalog", "import", str(sales), cwd=tmp_path)).returncode == 0

    bad = write(tmp_path, "bad.csv", PRODUCTS.replace("2022-09-01", "soon"))
    refused = await asyncio.to_thread(run_cli, "catalog", "import", str(bad), cwd=tmp_path)
    assert refused.returncode == 2 and "line 14, column 5 (release)" in refused.stderr and not refused.stdout

    queries = write(tmp_path, "queries.txt", "jordn 4 pine gren\n\nyzy beluga 2.0\nqqqq\n")
    found = await asyncio.to_thread(run_cli, "catalog", "search", "--batch", str(queries), "--json", cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    lines = [orjson.loads(line) for line in found.stdout.splitlines()]
    assert [line["query"] for line in lines] == ["jordn 4 pine gren", "yzy beluga 2.0", "qqqq"]
    assert lines[0]["results"][0] == "Jordan 4 Retro SB Pine Green"
    assert lines[1]["results"][0] == "Adidas Yeezy Boost 350 V2 Beluga 2.0"
    assert all(len(line["results"]) >= 5 and len(set(line["results"])) == len(line["results"]) for line in lines)

    one = await asyncio.to_thread(run_cli, "catalog", "search", "aj4 military black gs", "--json", cwd=tmp_path)
    assert orjson.loads(one.stdout)["results"][0] == "Jordan 4 Retro Military Black (GS)"
