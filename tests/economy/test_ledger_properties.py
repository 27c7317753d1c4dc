"""Property-based tests: random concurrent mixes of transfers, batches, tips, purchases and refunds,
with keys re-sent at random (double clicks, redeliveries), on SQLite and PostgreSQL.

After every example the ledger verifies clean, every key was applied at most once, and what each
caller was told agrees with what the database holds.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.economy import EconomyRuntime
from bot.economy.ledger import TransferRequest, TransferResult
from bot.economy.models import Purchase, Transfer
from bot.economy.verify import verify
from core.engine import Engine
from core.errors import UserError
from core.identity import Caller
from core.storage.database import Database
from snpd.app import build_engine

WALLETS = 4
_examples = itertools.count()


@pytest.fixture
async def eco(make_config: Any, database: Database) -> AsyncIterator[Engine]:
    config = make_config(
        economy={
            "min_account_age_days": 0,
            "tip_pair_cooldown_seconds": 0,
            "shop": [
                # for 30 days: a timed flair may be bought again (a permanent one is refused to its owner)
                {"sku": "fire", "name": "Fire flair", "kind": "flair", "price": 7, "value": "🔥", "days": 30},
                # a Discord role with no Discord frontend running: charged, then refunded
                {"sku": "og", "name": "OG role", "kind": "role", "price": 9, "value": "5555", "days": 1},
            ],
        }
    )
    built = build_engine(config, db=database)
    await built.start(migrate=False)
    yield built
    await built.scheduler.stop()
    await built.bus.drain()


# A spec is one distinct operation; a plan sends specs, some of them more than once and at once.
transfer_spec = st.tuples(
    st.just("transfer"), st.integers(0, WALLETS), st.integers(0, WALLETS), st.integers(1, 40)
).filter(lambda spec: spec[1] != spec[2])
tip_spec = st.tuples(
    st.just("tip"), st.integers(0, WALLETS - 1), st.integers(0, WALLETS - 1), st.integers(1, 40)
).filter(lambda spec: spec[1] != spec[2])
buy_spec = st.tuples(st.just("buy"), st.integers(0, WALLETS - 1), st.sampled_from(["fire", "og"]), st.just(0))
specs = st.lists(st.one_of(transfer_spec, tip_spec, buy_spec), min_size=1, max_size=14)


Plan = tuple[list[tuple[Any, ...]], list[int], list[list[int]], list[int]]


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    """Distinct specs; the order they are sent in, each at least once and some again (double clicks,
    redeliveries); batches of transfer specs sent meanwhile; and each wallet's starting balance."""
    chosen = draw(specs)
    again = draw(st.lists(st.integers(0, len(chosen) - 1), max_size=len(chosen) + 2))
    sends = draw(st.permutations([*range(len(chosen)), *again]))
    transfers = [i for i, spec in enumerate(chosen) if spec[0] == "transfer"]
    batch = st.lists(st.sampled_from(transfers), min_size=1, max_size=6) if transfers else st.nothing()
    batches = draw(st.lists(batch, max_size=3)) if transfers else []
    funding = draw(st.lists(st.integers(0, 60), min_size=WALLETS, max_size=WALLETS))
    return chosen, list(sends), batches, funding


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=plans())
async def test_random_concurrent_mix_keeps_every_invariant(eco: Engine, plan: Plan) -> None:
    chosen, sends, batches, funding = plan
    example = next(_examples)
    runtime = eco.service(EconomyRuntime)
    economy, shop, ledger = runtime.economy, runtime.shop, runtime.economy.ledger
    members = [
        await eco.identity.resolve(Caller("discord", f"{example}-{n}", f"p{example}x{n}")) for n in range(WALLETS)
    ]
    wallets = [await economy.wallet(m.id) for m in members]
    mint = await ledger.system_account("mint")
    accounts = [*wallets, mint]  # index WALLETS is the mint, which may go negative
    funds = [(n, amount) for n, amount in enumerate(funding) if amount]
    await ledger.transfer_many([TransferRequest(f"fund:{example}:{n}", mint, wallets[n], a, "grant") for n, a in funds])

    def key(index: int) -> str:
        return f"prop:{example}:{index}"

    def request(index: int) -> TransferRequest:
        _kind, source, target, amount = chosen[index]
        return TransferRequest(key(index), accounts[source], accounts[target], amount, "tip")

    told: dict[str, list[TransferResult]] = defaultdict(list)
    bought: dict[str, list[str]] = defaultdict(list)

    async def send(index: int) -> None:
        kind = chosen[index][0]
        if kind == "transfer":
            told[key(index)].append(await ledger.transfer(request(index)))
        elif kind == "tip":
            _kind, source, target, amount = chosen[index]
            try:
                result = await economy.tip(members[source], members[target], amount, "", key(index))
                told[key(index)].append(result.transfer)
            except UserError as exc:
                assert "Not enough" in str(exc), exc
        else:
            _kind, buyer, sku, _ = chosen[index]
            try:
                outcome = await shop.buy(members[buyer], await shop.find(sku), key(index))
                bought[key(index)].append(outcome.purchase.status)
            except UserError as exc:
                assert "Not enough" in str(exc), exc

    async def batch(indices: list[int]) -> None:
        for result in await ledger.transfer_many([request(i) for i in indices]):
            told[result.key].append(result)

    await asyncio.gather(*(send(i) for i in sends), *(batch(b) for b in batches))

    report = await verify(eco.db)
    assert report.ok, report.render()
    async with eco.db.read() as session:
        stored = {
            row.idempotency_key: row
            for row in (
                await session.execute(select(Transfer).where(Transfer.idempotency_key.like(f"prop:{example}:%")))
            ).scalars()
        }
        purchases = {
            row.key: row.status
            for row in (await session.execute(select(Purchase).where(Purchase.key.like(f"prop:{example}:%")))).scalars()
        }
    for sent_key, results in told.items():
        row = stored[sent_key]
        assert {r.id for r in results} == {row.id}, "every answer for a key names the one stored transfer"
        assert {r.status for r in results} == {row.status}
        fresh = sum(not r.replayed for r in results)
        if chosen[int(sent_key.rsplit(":", 1)[1])][0] == "transfer":
            assert fresh == 1, "exactly one send applied the key; every other one was told it was a replay"
        else:
            assert fresh <= 1, "a key is applied at most once"
    for sent_key, statuses in bought.items():
        assert purchases[sent_key] in ("fulfilled", "refunded"), "no purchase is left half-done"
        sku = chosen[int(sent_key.rsplit(":", 1)[1])][2]
        assert purchases[sent_key] == ("fulfilled" if sku == "fire" else "refunded")
        assert all(s == purchases[sent_key] or s == "pending" for s in statuses)
    expected = defaultdict(int)
    for n, amount in enumerate(funding):
        expected[wallets[n]] += amount
    for row in stored.values():
        if row.status == "posted" and row.kind == "tip":
            expected[row.debit_account_id] -= row.amount
            expected[row.credit_account_id] += row.amount
    for sent_key, status in purchases.items():
        _kind, buyer, sku, _ = chosen[int(sent_key.rsplit(":", 1)[1])]
        if status == "fulfilled":
            expected[wallets[buyer]] -= 7
    for wallet in wallets:
        assert await ledger.balance(wallet) == expected[wallet]
