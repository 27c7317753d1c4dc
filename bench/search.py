"""``snpd bench search``: catalog search quality and latency on labelled queries, against plain rapidfuzz.

The catalog is ``stockx-products-2023.csv`` imported by ``snpd catalog import`` into a scratch SQLite
database and indexed as the bot does at start. ``bench/search_queries.tsv`` holds the labelled
queries (query, the catalog name it means, the kind): typos, community abbreviations (aj1, af1,
am90, yzy, nb, ts, ow, cdg...), partial names, shuffled word order, audience words (gs, grade school,
wmns, w, ps, td) and case or punctuation changes. Most were made from catalog names by rules (a
typo in one or two colour words, abbreviations substituted, filler words dropped, words shuffled,
an audience word added), keeping only queries no other name of the same audience contains with as
few words; about fifty were written by hand the way members type.

``top1``/``top5``: share of queries whose expected name is first / in the first five. ``p50_ms`` and
``p95_ms``: one search each, in file order, on one core. ``reference_*``: the same for
``rapidfuzz.process.extract`` (WRatio, case folded) over the catalog names. ``by_kind``: top1 per kind.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from rapidfuzz import process, utils

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "stockx-products-2023.csv"
QUERIES = Path(__file__).resolve().parent / "search_queries.tsv"


def load_queries(path: Path = QUERIES) -> list[tuple[str, str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            query, expected, kind = line.split("\t")
            rows.append((query, expected, kind))
    return rows


async def _catalog(path: Path, folder: str) -> Any:
    from bot.market.service import Market
    from bot.slices import load_models, migration_locations
    from core.storage.database import Database
    from core.storage.migrate import upgrade

    load_models()
    db = Database(f"sqlite+aiosqlite:///{folder}/bench.db")
    await upgrade(db, migration_locations())
    market = Market(db)
    await market.import_file(str(path))
    await market.refresh(force=True)
    return market


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run(path: Path = DATA, queries_path: Path = QUERIES) -> dict[str, Any]:
    queries = load_queries(queries_path)
    with tempfile.TemporaryDirectory() as folder:
        return asyncio.run(_measure(path, folder, queries))


async def _measure(path: Path, folder: str, queries: list[tuple[str, str, str]]) -> dict[str, Any]:
    market = await _catalog(path, folder)
    try:
        names = market.index.names()
        missing = sorted({expected for _, expected, _ in queries} - set(names))
        ours_ms: list[float] = []
        theirs_ms: list[float] = []
        top1 = top5 = ref1 = ref5 = 0
        kinds: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for query, expected, kind in queries:
            started = time.perf_counter()
            found = [hit.name for hit in market.search(query, limit=5)]
            ours_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            reference = [m[0] for m in process.extract(query, names, processor=utils.default_process, limit=5)]
            theirs_ms.append((time.perf_counter() - started) * 1000)
            first = bool(found) and found[0] == expected
            top1 += first
            top5 += expected in found
            ref1 += bool(reference) and reference[0] == expected
            ref5 += expected in reference
            kinds[kind][0] += first
            kinds[kind][1] += 1
    finally:
        await market.db.dispose()
    count = len(queries)
    return {
        "queries": count,
        "catalog": len(names),
        "missing_expected": missing,
        "top1": round(top1 / count, 4),
        "top5": round(top5 / count, 4),
        "p50_ms": round(statistics.median(ours_ms), 3),
        "p95_ms": round(_percentile(ours_ms, 0.95), 3),
        "reference_top1": round(ref1 / count, 4),
        "reference_top5": round(ref5 / count, 4),
        "reference_p50_ms": round(statistics.median(theirs_ms), 3),
        "reference_p95_ms": round(_percentile(theirs_ms, 0.95), 3),
        "by_kind": {kind: round(hits / total, 4) for kind, (hits, total) in sorted(kinds.items())},
        "targets": {"top1": 0.97, "p95_ms": 5.0},
    }
