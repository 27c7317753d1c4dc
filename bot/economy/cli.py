"""``snpd ledger verify``: check the ledger's invariants; exit 1 with a report on any violation."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import asdict
from typing import Any

import orjson
from sqlalchemy.exc import DBAPIError

from bot.economy.verify import VerifyReport, verify


def add_cli(subparsers: Any) -> None:
    ledger = subparsers.add_parser("ledger", help="LACES ledger tools").add_subparsers(dest="action", required=True)
    check = ledger.add_parser(
        "verify", help="recompute every balance from the transfers and check every invariant (exit 1 if broken)"
    )
    check.add_argument("--database-url", default=None, help="default: the database bot.toml points at")
    check.add_argument("--schema", default=None, help="PostgreSQL schema (search path) holding the tables")
    check.add_argument("--json", action="store_true", help="print the report as one JSON object")
    check.set_defaults(func=cmd_verify)


def verify_url(url: str, schema: str | None = None) -> VerifyReport:
    from core.storage.database import Database

    async def main() -> VerifyReport:
        db = Database(url, schema=schema)
        try:
            return await verify(db)
        finally:
            await db.dispose()

    return asyncio.run(main())


def cmd_verify(args: argparse.Namespace) -> int:
    url = args.database_url
    if url is None:
        from bot.slices import load_config, load_models

        load_models()  # every slice's [section] must be known before bot.toml is validated
        url = load_config(args.config).bot.resolved_database_url()
    try:
        report = verify_url(url, args.schema)
    except DBAPIError as exc:
        print(
            f"cannot read the ledger ({type(exc.orig).__name__}: {exc.orig}); is the database migrated? "
            "Run `snpd db upgrade`.",
            file=sys.stderr,
        )
        return 2
    if args.json:
        payload = asdict(report) | {"ok": report.ok}
        sys.stdout.write(orjson.dumps(payload).decode() + "\n")
    else:
        print(report.render())
    return 0 if report.ok else 1
