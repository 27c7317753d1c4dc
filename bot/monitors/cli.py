"""``snpd monitor test URL``, ``snpd demo`` and ``snpd prices import|ebay|median|predict``."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from bot.market.forecast.cli import add_predict
from bot.monitors.config import MonitorsSection
from core.config import Config
from core.errors import UserError


def add_cli(subparsers: Any) -> None:
    monitor = subparsers.add_parser("monitor", help="monitor tools").add_subparsers(dest="action", required=True)
    test = monitor.add_parser("test", help="fetch a URL once and show what a monitor would see")
    test.add_argument("url")
    test.add_argument("--json", action="store_true", help="print one JSON object")
    test.add_argument("--render", action="store_true", help="render the page in chromium (JS sites)")
    test.add_argument("--css", default=None, help="selectors, e.g. 'stock=button.buy; price=.price'")
    test.set_defaults(func=cmd_monitor_test)

    demo = subparsers.add_parser("demo", help="a simulated store running a drop, the monitor engine and the shell")
    demo.add_argument("--seconds", type=float, default=None, help="run this long without a prompt, then exit")
    demo.set_defaults(func=cmd_demo)

    prices = subparsers.add_parser("prices", help="resale price observations").add_subparsers(
        dest="action", required=True
    )
    load = prices.add_parser("import", help="load a CSV or JSON sales export (StockX, GOAT...)")
    load.add_argument("path")
    load.add_argument("--source", default=None, help="source name (default: guessed from the file name)")
    load.add_argument("--date", default=None, help="date for rows without one (ISO), e.g. a market snapshot")
    load.set_defaults(func=cmd_prices_import)
    ebay = prices.add_parser("ebay", help="record current eBay listings for a search (needs EBAY_CLIENT_ID/SECRET)")
    ebay.add_argument("query")
    ebay.add_argument("--size", default=None)
    ebay.add_argument("--limit", type=int, default=50)
    ebay.set_defaults(func=cmd_prices_ebay)
    median = prices.add_parser("median", help="recent median sale price of a product (name or SKU)")
    median.add_argument("product", help="product name or SKU, as the price table holds it")
    median.add_argument("--size", default=None, help="one size, e.g. 10 or 'US 10' (default: every size)")
    median.add_argument(
        "--days", type=_bounded_int(1, MAX_HISTORY_DAYS), default=90,
        help=f"how many days back to look, 1 to {MAX_HISTORY_DAYS:,} (default 90)",
    )
    median.set_defaults(func=cmd_prices_median)
    add_predict(prices)


#: about 100 years: the sales history reaches back to 2017, and a date that far back still exists
MAX_HISTORY_DAYS = 36_500


def _bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high], refused with the range otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text[:30]!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low:,} to {high:,}, got {text[:30]}")
        return value

    return parse


def _config(args: argparse.Namespace, *, quiet: bool = False) -> Config:
    from core.logging import configure
    from snpd.cli import _load

    config = _load(args)
    configure("WARNING" if quiet else (args.log_level or config.bot.log_level), log_file=None)
    return config


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 2


def cmd_monitor_test(args: argparse.Namespace) -> int:
    from adapters.shell.frontend import render_text
    from bot.monitors.commands import _test_reply
    from bot.monitors.probe import inspect
    from bot.monitors.sources.http_fetch import PoliteFetcher
    from bot.monitors.sources.page_watch import PageWatcher, parse_selectors

    config = _config(args, quiet=True)
    settings = config.get(MonitorsSection)

    async def main() -> dict[str, Any]:
        fetcher = PoliteFetcher(
            timeout_s=settings.request_timeout_seconds, allow_private=settings.allow_private_addresses
        )
        watcher = PageWatcher(
            executable_path=settings.chromium_path,
            timeout_s=settings.page_timeout_seconds,
            allow_private=settings.allow_private_addresses,
            chromium_user=settings.chromium_user,
        )
        try:
            return await inspect(
                args.url,
                fetcher=fetcher,
                watcher=lambda: watcher,
                render=args.render,
                selectors=parse_selectors(args.css),
                max_pages=settings.max_pages,
                chromium_path=settings.chromium_path,
            )
        finally:
            await fetcher.close()
            await watcher.close()

    try:
        seen = asyncio.run(main())
    except (UserError, ValueError) as exc:
        if args.json:  # a script reading --json gets JSON whatever happened
            sys.stdout.write(orjson.dumps({"ok": False, "url": args.url, "error": str(exc)}).decode() + "\n")
            return 2
        return _fail(str(exc))
    if args.json:
        sys.stdout.write(orjson.dumps(seen).decode() + "\n")
    else:
        print(render_text(_test_reply(seen)))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.monitors.demo import demo_log_file, run_demo
    from core.logging import configure
    from snpd.cli import _load

    config = _load(args)
    configure("WARNING", json=True, log_file=demo_log_file(config))
    asyncio.run(run_demo(config, seconds=args.seconds))
    return 0


async def _database(config: Config) -> Any:
    from bot.slices import migration_locations
    from core.storage.database import Database
    from core.storage.migrate import upgrade

    db = Database(config.bot.resolved_database_url())
    await upgrade(db, migration_locations())
    return db


def cmd_prices_import(args: argparse.Namespace) -> int:
    from bot.monitors.prices import record
    from bot.monitors.sources.resale import SalesFileError, SalesHistoryImport, parse_when

    config = _config(args, quiet=True)
    when = parse_when(args.date) if args.date else None
    if args.date and when is None:
        return _fail(f"--date: `{args.date}` is not a date")
    source = SalesHistoryImport(args.path, source=args.source, observed_at=when or datetime.now(UTC))

    async def main() -> dict[str, Any]:
        db = await _database(config)
        try:
            result = await record(db, source.observations())
        finally:
            await db.dispose()
        report = source.report
        return {
            "source": source.name,
            "rows": report.rows,
            "inserted": result.inserted,
            "duplicates": result.offered - result.inserted,
            "skipped": report.skipped,
            "problems": report.problems,
        }

    try:
        summary = asyncio.run(main())
    except SalesFileError as exc:
        return _fail(f"{args.path}: {exc}")
    sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    return 0


def _secret(value: Any) -> str:
    return value.get_secret_value() if value is not None else ""


def cmd_prices_ebay(args: argparse.Namespace) -> int:
    from bot.monitors.prices import record
    from bot.monitors.sources.ebay import EbayBrowse, EbayError

    config = _config(args, quiet=True)
    settings = config.get(MonitorsSection)

    async def main() -> dict[str, Any]:
        client = EbayBrowse(
            _secret(config.secrets.EBAY_CLIENT_ID),
            _secret(config.secrets.EBAY_CLIENT_SECRET),
            api_base=settings.ebay_api_base or "https://api.ebay.com",
            marketplace=settings.ebay_marketplace,
        )
        db = await _database(config)
        try:
            result = await record(db, client.observations(args.query, size=args.size, limit=args.limit))
        finally:
            await client.close()
            await db.dispose()
        return {"source": "ebay", "listings": result.offered, "inserted": result.inserted}

    try:
        summary = asyncio.run(main())
    except EbayError as exc:
        return _fail(str(exc))
    sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    return 0


def cmd_prices_median(args: argparse.Namespace) -> int:
    from bot.monitors.prices import recent_prices

    config = _config(args, quiet=True)

    async def main() -> list[float]:
        db = await _database(config)
        try:
            return await recent_prices(db, args.product, size=args.size, days=args.days)
        finally:
            await db.dispose()

    prices = asyncio.run(main())
    sys.stdout.write(
        orjson.dumps(
            {
                "product": args.product,
                "size": args.size,
                "sales": len(prices),
                "median": statistics.median(prices) if prices else None,
            }
        ).decode()
        + "\n"
    )
    return 0 if prices else 1
