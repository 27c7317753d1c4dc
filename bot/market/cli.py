"""``snpd catalog import FILE`` and ``snpd catalog search QUERY | --batch FILE [--json]``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

import orjson

from core.errors import UserError

#: ``--batch`` answers at least this many names per query
BATCH_RESULTS = 10


def add_cli(subparsers: Any) -> None:
    catalog = subparsers.add_parser("catalog", help="the pair catalog: import, search").add_subparsers(
        dest="action", required=True
    )
    load = catalog.add_parser("import", help="load a product list (StockX CSV) or the names in a sales history")
    load.add_argument("path")
    load.set_defaults(func=cmd_import)
    find = catalog.add_parser("search", help="ranked catalog names for a query, or for each line of --batch FILE")
    find.add_argument("query", nargs="?", default=None)
    find.add_argument("--batch", default=None, help="a file of queries, one a line")
    find.add_argument("--limit", type=int, default=BATCH_RESULTS, help=f"names per query (default {BATCH_RESULTS})")
    find.add_argument("--json", action="store_true", help="JSON: one object (or one per line with --batch)")
    find.set_defaults(func=cmd_search)


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 2


async def _market(args: argparse.Namespace) -> Any:
    from bot.market.service import Market
    from bot.monitors.cli import _config, _database

    db = await _database(_config(args, quiet=True))
    return Market(db)


def cmd_import(args: argparse.Namespace) -> int:
    async def main() -> dict[str, Any]:
        market = await _market(args)
        try:
            summary: dict[str, Any] = (await market.import_file(args.path)).as_dict()
            return summary
        finally:
            await market.db.dispose()

    try:
        summary = asyncio.run(main())
    except UserError as exc:
        return _fail(str(exc))
    sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    if (args.query is None) == (args.batch is None):
        return _fail("give a QUERY or --batch FILE (one of them)")
    if not 1 <= args.limit <= 100:
        return _fail("--limit: from 1 to 100")
    if args.batch is not None:
        try:
            queries = [line.strip() for line in Path(args.batch).read_text(encoding="utf-8").splitlines()]
        except (OSError, UnicodeDecodeError) as exc:
            return _fail(f"--batch: can't read {args.batch}: {exc}")
        queries = [query for query in queries if query]
    else:
        queries = [args.query]

    async def main() -> list[tuple[list[Any], list[str]]]:
        market = await _market(args)
        try:
            await market.refresh(force=True)
            return [_ranked(market, query, args.limit) for query in queries]
        finally:
            await market.db.dispose()

    results = asyncio.run(main())
    for query, (hits, names) in zip(queries, results, strict=True):
        if args.json:
            line: dict[str, Any] = {"query": query, "results": names}
            if args.batch is None:
                line["hits"] = [{"id": h.id, "name": h.name, "audience": h.audience, "score": h.score} for h in hits]
            sys.stdout.write(orjson.dumps(line).decode() + "\n")
        else:
            print(f"{query}:")
            for rank, name in enumerate(names, start=1):
                score = f"  ({hits[rank - 1].score:.3f})" if rank <= len(hits) else "  (by spelling)"
                print(f"  {rank:>2}. {name}{score}")
    return 0


def _ranked(market: Any, query: str, limit: int) -> tuple[list[Any], list[str]]:
    """The search's hits, then names nearest by spelling until ``limit``: a query whose words match
    few names still answers ``limit`` names, best first."""
    hits = market.search(query, limit=limit)
    names = [hit.name for hit in hits]
    if len(names) < limit:
        names += [name for name in market.closest(query, limit=limit * 2) if name not in names][: limit - len(names)]
    return hits, names
