"""A ledger workload for the crash tests: start it, SIGKILL it anywhere, start it again.

    python -m tests.economy.ledger_worker URL SCHEMA SEED OPS

The plan is a pure function of SEED, so every restart re-sends the same keys from the first one:
whatever a killed run applied must come back as replays and never apply twice. On start the worker
does what the bot's sweep does after a crash, finishing purchases a kill left pending.
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

import bot.economy  # noqa: F401  (registers the economy's tables and config section)
from bot.economy.ledger import TransferRequest
from bot.economy.runtime import EconomyRuntime
from bot.slices import load_config
from core.engine import Engine
from core.logging import configure
from core.storage.database import Database
from core.storage.models import Member

MEMBERS = 5
CONCURRENCY = 6
PRICES = {"fire": 7, "og": 9}
SHOP = [
    # for 30 days: a timed flair may be bought again (a permanent one is refused to its owner)
    {"sku": "fire", "name": "Fire flair", "kind": "flair", "price": PRICES["fire"], "value": "🔥", "days": 30},
    # a Discord role with no Discord connection in this process: charged, then refunded
    {"sku": "og", "name": "OG role", "kind": "role", "price": PRICES["og"], "value": "5555", "days": 1},
]
MEMBER_PREFIX = "crash"


@dataclass(frozen=True)
class Op:
    index: int
    kind: str  # transfer, batch, buy
    source: int = 0
    target: int = 0
    amount: int = 0
    sku: str = ""
    #: for a batch: (source, target, amount) of each transfer in it
    parts: tuple[tuple[int, int, int], ...] = ()

    @property
    def key(self) -> str:
        return f"crash:{self.index}"


def plan(seed: int, ops: int) -> list[Op]:
    rng = random.Random(seed)
    planned = []
    for index in range(ops):
        roll = rng.random()
        if roll < 0.55:
            source, target = rng.sample(range(MEMBERS), 2)
            planned.append(Op(index, "transfer", source, target, rng.randint(1, 20)))
        elif roll < 0.75:
            parts = tuple((*rng.sample(range(MEMBERS), 2), rng.randint(1, 20)) for _ in range(rng.randint(2, 6)))
            planned.append(Op(index, "batch", parts=parts))  # type: ignore[arg-type]
        else:
            planned.append(Op(index, "buy", source=rng.randrange(MEMBERS), sku=rng.choice(sorted(PRICES))))
    return planned


def expected_deltas(planned: list[Op]) -> list[int]:
    """What the plan does to each member's balance when every op applies exactly once."""
    deltas = [0] * MEMBERS
    for op in planned:
        moves = [(op.source, op.target, op.amount)] if op.kind == "transfer" else list(op.parts)
        for source, target, amount in moves:
            deltas[source] -= amount
            deltas[target] += amount
        if op.kind == "buy" and op.sku == "fire":
            deltas[op.source] -= PRICES["fire"]
    return deltas


async def main(url: str, schema: str, seed: int, ops: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        empty = Path(folder) / "bot.toml"  # defaults only: the repo's bot.toml names other slices' sections
        empty.write_text("")
        config = load_config(
            empty,
            overrides={
                "bot": {"data_dir": folder},
                "economy": {"min_account_age_days": 0, "tip_pair_cooldown_seconds": 0, "shop": SHOP},
            },
        )
        db = Database(url, schema=schema or None)
        runtime = EconomyRuntime.build(Engine(config, db=db))
        economy, shop, ledger = runtime.economy, runtime.shop, runtime.economy.ledger
        async with db.read() as session:
            members = list(
                (
                    await session.execute(
                        select(Member).where(Member.display_name.like(f"{MEMBER_PREFIX}%")).order_by(Member.id)
                    )
                ).scalars()
            )
        wallets = [await economy.wallet(member.id) for member in members]
        await shop.recover(older_than=timedelta(0))
        print("ready", flush=True)
        queue = list(reversed(plan(seed, ops)))

        async def worker() -> None:
            while queue:
                op = queue.pop()
                if op.kind == "transfer":
                    source, target = wallets[op.source], wallets[op.target]
                    await ledger.transfer(TransferRequest(op.key, source, target, op.amount, "tip"))
                elif op.kind == "batch":
                    await ledger.transfer_many(
                        [
                            TransferRequest(f"{op.key}:{n}", wallets[source], wallets[target], amount, "tip")
                            for n, (source, target, amount) in enumerate(op.parts)
                        ]
                    )
                else:
                    await shop.buy(members[op.source], await shop.find(op.sku), op.key)

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        await db.dispose()
        print("finished", flush=True)


if __name__ == "__main__":
    configure("WARNING")  # logs go to stderr; stdout carries only "ready" and "finished"
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
