"""Crash tests: a worker process posting transfers, batches and purchases is SIGKILLed at random
points and restarted, on SQLite and PostgreSQL. After every kill the ledger verifies clean; at the
end every planned operation has applied exactly once, so the balances are exactly the plan's."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.economy import EconomyRuntime
from bot.economy.ledger import TransferRequest
from bot.economy.models import Purchase, Transfer
from bot.economy.verify import verify
from core.engine import Engine
from core.identity import Caller
from core.storage.database import Database
from snpd.app import build_engine
from tests.economy import ledger_worker as worker
from tests.paths import REPO

KILLS = 4
OPS = 160
FUNDS = 10_000


@pytest.fixture
async def eco(make_config: Any, database: Database) -> AsyncIterator[Engine]:
    built = build_engine(make_config(economy={"min_account_age_days": 0, "shop": worker.SHOP}), db=database)
    await built.start(migrate=False)
    yield built
    await built.scheduler.stop()


async def _spawn(database: Database, seed: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.economy.ledger_worker",
        database.url,
        database.schema or "",
        str(seed),
        str(OPS),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _no_key_applied_twice(database: Database) -> None:
    async with database.read() as session:
        doubled = (
            await session.execute(
                select(Transfer.idempotency_key).group_by(Transfer.idempotency_key).having(func.count() > 1)
            )
        ).all()
        charges = await session.scalar(
            select(func.count()).select_from(Transfer).where(Transfer.kind == "purchase", Transfer.status == "posted")
        )
        purchases = await session.scalar(select(func.count()).select_from(Purchase))
    assert doubled == []
    assert charges == purchases, "one posted charge per purchase, never two"


async def test_sigkill_at_random_points_then_restart(eco: Engine, database: Database) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    ledger = eco.service(EconomyRuntime).economy.ledger
    members = [
        await eco.identity.resolve(Caller("discord", f"{worker.MEMBER_PREFIX}{n}", f"{worker.MEMBER_PREFIX}{n}"))
        for n in range(worker.MEMBERS)
    ]
    wallets = [await eco.service(EconomyRuntime).economy.wallet(m.id) for m in members]
    mint = await ledger.system_account("mint")
    await ledger.transfer_many([TransferRequest(f"fund:{w}", mint, w, FUNDS, "grant") for w in wallets])

    kills = 0
    for _ in range(KILLS):
        process = await _spawn(database, seed)
        assert process.stdout is not None
        ready = await asyncio.wait_for(process.stdout.readline(), timeout=60)
        assert ready.strip() == b"ready", (await process.stderr.read()).decode() if process.stderr else ready
        await asyncio.sleep(rng.uniform(0.0, 0.35))
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        await process.wait()
        report = await verify(database)
        assert report.ok, f"seed {seed}: {report.render()}"
        await _no_key_applied_twice(database)

    final = await _spawn(database, seed)
    out, err = await asyncio.wait_for(final.communicate(), timeout=120)
    assert final.returncode == 0, err.decode()[-2000:]
    assert out.split()[-1] == b"finished"

    report = await verify(database)
    assert report.ok, f"seed {seed}: {report.render()}"
    await _no_key_applied_twice(database)
    planned = worker.plan(seed, OPS)
    deltas = worker.expected_deltas(planned)
    for n, wallet in enumerate(wallets):
        assert await ledger.balance(wallet) == FUNDS + deltas[n], f"seed {seed}, member {n}, {kills} kills"
    async with database.read() as session:
        statuses = dict((await session.execute(select(Purchase.key, Purchase.status))).all())
    buys = [op for op in planned if op.kind == "buy"]
    assert len(statuses) == len(buys)
    for op in buys:
        assert statuses[op.key] == ("fulfilled" if op.sku == "fire" else "refunded"), f"seed {seed}: {op}"
