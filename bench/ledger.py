"""Ledger throughput: durable (one commit per transfer), batched, PostgreSQL, against raw SQLite.

``sqlite_single_insert_commit_per_s`` is the physical reference: one-row insert-and-commit through
the very stack transfers use (``Database.transaction``: SQLAlchemy async, aiosqlite, WAL,
``synchronous=NORMAL``, ``BEGIN IMMEDIATE``), with the same 50 concurrent tasks. The machine is
shared, so raw and durable run in alternating rounds and each rate is the total over its rounds:
both see the same background load. ``invariant_violations`` is ``snpd ledger verify`` run on every
database afterwards.

``sqlite_stdlib_insert_commit_per_s`` is context, not the target's reference: the same insert and
commit from one thread through the standard library's ``sqlite3`` with the same pragmas. The gap
between it and the async stack is the cost of aiosqlite's thread hop and SQLAlchemy, paid by every
write in the embedded default.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

import bot.economy  # noqa: F401  (registers the economy's tables and config section)
from bot.economy.ledger import Ledger, TransferRequest
from bot.economy.verify import verify
from bot.slices import migration_locations
from core.storage.database import Database
from core.storage.migrate import upgrade
from core.storage.models import Member
from core.storage.types import utcnow

POSTGRES_URL = os.environ.get("SNPD_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
TASKS = 50
WALLETS = 1_000
ROUNDS = 6
PER_ROUND = 1_000  # operations per round, for raw and for durable alike
BATCHED_TOTAL = 200_000
BATCH_SIZE = 1_000
POSTGRES_TOTAL = 5_000
REPLAY_EVERY = 100  # one request in this many re-sends an earlier key: it must be answered, not applied


async def _setup(db: Database, wallets: int) -> tuple[Ledger, list[int]]:
    await upgrade(db, migration_locations())
    now = utcnow()
    async with db.transaction() as session:
        await session.execute(
            insert(Member.__table__),
            [
                {
                    "display_name": f"bench{n}",
                    "timezone": "UTC",
                    "dm_enabled": True,
                    "sms_enabled": False,
                    "channel_order": [],
                    "is_bot": False,
                    "created_at": now,
                }
                for n in range(wallets)
            ],
        )
        member_ids = list((await session.execute(text("SELECT id FROM members ORDER BY id"))).scalars())
    ledger = Ledger(db)
    mint = await ledger.system_account("mint")
    accounts = [await ledger.wallet(member_id) for member_id in member_ids]
    await ledger.transfer_many(
        [TransferRequest(f"fund:{account}", mint, account, 1_000_000, "grant") for account in accounts]
    )
    return ledger, accounts


def _requests(prefix: str, count: int, wallets: list[int], rng: random.Random) -> list[TransferRequest]:
    requests = []
    for n in range(count):
        debit, credit = rng.sample(wallets, 2)
        requests.append(TransferRequest(f"{prefix}:{n}", debit, credit, rng.randint(1, 10), "tip"))
    return requests


async def _concurrently(work: list[Any], tasks: int = TASKS) -> float:
    """Run the awaitable factories in ``work`` over ``tasks`` workers; return the elapsed seconds."""
    queue = list(reversed(work))

    async def worker() -> None:
        while queue:
            await queue.pop()()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    return time.perf_counter() - started


async def _sqlite(result: dict[str, Any]) -> None:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="snpd-bench-") as folder:
        db = Database(f"sqlite+aiosqlite:///{Path(folder) / 'ledger.db'}")
        try:
            ledger, wallets = await _setup(db, WALLETS)
            async with db.transaction() as session:
                await session.execute(text("CREATE TABLE bench_raw (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)"))
            raw_insert = text("INSERT INTO bench_raw (v) VALUES (:v)")

            async def raw_one(value: int) -> None:
                async with db.transaction() as session:
                    await (await session.connection()).execute(raw_insert, {"v": value})

            outcomes: list[bool] = []

            async def durable_one(request: TransferRequest) -> None:
                outcomes.append((await ledger.transfer(request)).posted)

            raw_s = durable_s = 0.0
            for round_ in range(ROUNDS):
                raw_s += await _concurrently([lambda v=n: raw_one(v) for n in range(PER_ROUND)])
                requests = _requests(f"durable{round_}", PER_ROUND, wallets, rng)
                durable_s += await _concurrently([lambda r=r: durable_one(r) for r in requests])
            rejected = outcomes.count(False)
            raw_rate = ROUNDS * PER_ROUND / raw_s
            durable_rate = ROUNDS * PER_ROUND / durable_s

            batched = _requests("batched", BATCHED_TOTAL, wallets, rng)
            for index in range(REPLAY_EVERY, len(batched), REPLAY_EVERY):
                batched[index] = batched[index - REPLAY_EVERY // 2]
            replays = 0
            started = time.perf_counter()
            for start in range(0, len(batched), BATCH_SIZE):
                results = await ledger.transfer_many(batched[start : start + BATCH_SIZE])
                replays += sum(r.replayed for r in results)
            batched_s = time.perf_counter() - started

            started = time.perf_counter()
            report = await verify(db)
            verify_s = time.perf_counter() - started
        finally:
            await db.dispose()
    result.update(
        sqlite_single_insert_commit_per_s=round(raw_rate),
        transfers_per_s_durable=round(durable_rate),
        durable_vs_raw=round(durable_rate / raw_rate, 3),
        transfers_per_s_batched=round(BATCHED_TOTAL / batched_s),
        batch_size=BATCH_SIZE,
        batched_replays_answered=replays,
        durable_rejected_insufficient=rejected,
        sqlite_transfers_verified=report.transfers,
        sqlite_verify_s=round(verify_s, 2),
    )
    result["invariant_violations"] += len(report.violations)
    if report.violations:
        result["violations"] = [f"[{v.check}] {v.detail}" for v in report.violations]


def _postgres_reachable(url: str) -> bool:
    parsed = make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), timeout=1):
            return True
    except OSError:
        return False


async def _postgres(result: dict[str, Any]) -> None:
    if not _postgres_reachable(POSTGRES_URL):
        result["transfers_per_s_postgres"] = None
        result["postgres_note"] = f"skipped: PostgreSQL not reachable at {make_url(POSTGRES_URL).host}"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = Database(POSTGRES_URL)
    async with admin.engine.begin() as conn:
        await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    db = Database(POSTGRES_URL, schema=schema)
    try:
        ledger, wallets = await _setup(db, WALLETS)
        requests = _requests("pg", POSTGRES_TOTAL, wallets, random.Random(11))
        elapsed = await _concurrently([lambda r=r: ledger.transfer(r) for r in requests])
        report = await verify(db)
    finally:
        await db.dispose()
        async with admin.engine.begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.dispose()
    result.update(
        transfers_per_s_postgres=round(POSTGRES_TOTAL / elapsed),
        postgres_note="one commit per transfer, 50 concurrent tasks, pool of 30 connections",
    )
    result["invariant_violations"] += len(report.violations)


def _stdlib_insert_commit_rate(count: int = 5_000) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        connection = sqlite3.connect(Path(tmp) / "raw.db", isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("CREATE TABLE bench_raw (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
        started = time.perf_counter()
        for value in range(count):
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT INTO bench_raw (v) VALUES (?)", (value,))
            connection.execute("COMMIT")
        elapsed = time.perf_counter() - started
        connection.close()
    return count / elapsed


async def _main() -> dict[str, Any]:
    result: dict[str, Any] = {"invariant_violations": 0, "tasks": TASKS, "wallets": WALLETS}
    result["sqlite_stdlib_insert_commit_per_s"] = round(_stdlib_insert_commit_rate())
    await _sqlite(result)
    await _postgres(result)
    raw = result["sqlite_single_insert_commit_per_s"]
    result["targets_met"] = {
        "durable_ge_50pct_of_raw": result["transfers_per_s_durable"] >= 0.5 * raw,
        "batched_ge_20000": result["transfers_per_s_batched"] >= 20_000,
        "no_invariant_violations": result["invariant_violations"] == 0,
    }
    return result


def run() -> dict[str, Any]:
    return asyncio.run(_main())
