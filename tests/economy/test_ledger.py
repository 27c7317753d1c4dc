"""The ledger on SQLite and PostgreSQL: idempotency, atomicity, no overdraft, and verify."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError

import bot.economy  # noqa: F401  (registers the tables)
from bot.economy.ledger import REASON_INSUFFICIENT, IdempotencyMismatch, Ledger, LedgerError, TransferRequest
from bot.economy.models import Account
from bot.economy.verify import verify
from core.storage.database import Database
from core.storage.models import Member
from tests.paths import REPO


async def _members(db: Database, count: int) -> list[int]:
    async with db.transaction() as session:
        members = [Member(display_name=f"m{n}", timezone="UTC", channel_order=[]) for n in range(count)]
        session.add_all(members)
        await session.flush()
        return [member.id for member in members]


async def _funded(db: Database, *amounts: int) -> tuple[Ledger, int, list[int]]:
    ledger = Ledger(db)
    mint = await ledger.system_account("mint")
    wallets = [await ledger.wallet(member) for member in await _members(db, len(amounts))]
    for wallet, amount in zip(wallets, amounts, strict=True):
        if amount:
            await ledger.transfer(TransferRequest(f"fund:{wallet}", mint, wallet, amount, "grant"))
    return ledger, mint, wallets


async def test_transfer_moves_and_replay_is_a_no_op(database: Database) -> None:
    ledger, _mint, (alice, bob) = await _funded(database, 100, 0)
    first = await ledger.transfer(TransferRequest("tip-1", alice, bob, 30, "tip", note="thanks"))
    again = await ledger.transfer(TransferRequest("tip-1", alice, bob, 30, "tip", note="thanks"))
    assert first.posted and not first.replayed
    assert again.replayed and again.id == first.id and again.posted
    assert (await ledger.balance(alice), await ledger.balance(bob)) == (70, 30)
    assert (await verify(database)).ok


async def test_insufficient_funds_moves_nothing_and_is_remembered(database: Database) -> None:
    ledger, _mint, (alice, bob) = await _funded(database, 10, 0)
    refused = await ledger.transfer(TransferRequest("big", alice, bob, 11, "tip"))
    assert not refused.posted and refused.reason == REASON_INSUFFICIENT
    await ledger.transfer(TransferRequest("refill", await ledger.system_account("mint"), alice, 50, "grant"))
    replay = await ledger.transfer(TransferRequest("big", alice, bob, 11, "tip"))
    assert replay.replayed and not replay.posted, "a replay returns the original answer, even a refusal"
    assert (await ledger.balance(alice), await ledger.balance(bob)) == (60, 0)
    assert (await verify(database)).ok


async def test_key_reused_for_another_transfer_is_refused(database: Database) -> None:
    ledger, _mint, (alice, bob, carol) = await _funded(database, 10, 0, 0)
    await ledger.transfer(TransferRequest("k", alice, bob, 1, "tip"))
    with pytest.raises(IdempotencyMismatch):
        await ledger.transfer(TransferRequest("k", alice, carol, 1, "tip"))


@pytest.mark.parametrize(
    "request_",
    [
        TransferRequest("z", 1, 2, 0, "tip"),
        TransferRequest("n", 1, 2, -5, "tip"),
        TransferRequest("f", 1, 2, 1.5, "tip"),  # type: ignore[arg-type]
        TransferRequest("s", 1, 1, 5, "tip"),
        TransferRequest("", 1, 2, 5, "tip"),
    ],
)
async def test_malformed_requests_never_reach_the_database(request_: TransferRequest) -> None:
    with pytest.raises(LedgerError):
        request_.check()


async def test_unknown_account_is_an_error_not_a_rejection(database: Database) -> None:
    ledger, mint, _ = await _funded(database, 0)
    with pytest.raises(LedgerError, match="unknown account"):
        await ledger.transfer(TransferRequest("ghost", mint, 99_999, 5, "grant"))
    assert (await verify(database)).ok


async def test_database_refuses_a_negative_wallet(database: Database) -> None:
    _ledger, _mint, (alice,) = await _funded(database, 5)
    with pytest.raises(IntegrityError):
        async with database.transaction() as session:
            await session.execute(update(Account).where(Account.id == alice).values(balance=-1))
    with pytest.raises(IntegrityError):
        async with database.transaction() as session:
            await session.execute(update(Account).where(Account.id == alice).values(allow_negative=True))


async def test_concurrent_spends_never_overdraw(database: Database) -> None:
    ledger, _mint, (alice, bob, carol) = await _funded(database, 100, 0, 0)
    requests = [TransferRequest(f"spend-{n}", alice, bob if n % 2 else carol, 7, "tip") for n in range(40)]
    results = await asyncio.gather(*(ledger.transfer(r) for r in requests))
    posted = sum(r.posted for r in results)
    assert posted == 100 // 7
    assert await ledger.balance(alice) == 100 - 7 * posted
    assert (await verify(database)).ok


async def test_replay_racing_the_original_applies_once(database: Database) -> None:
    ledger, _mint, (alice, bob) = await _funded(database, 50, 0)
    request = TransferRequest("double-click", alice, bob, 20, "purchase")
    results = await asyncio.gather(*(ledger.transfer(request) for _ in range(8)))
    assert len({r.id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert await ledger.balance(bob) == 20
    assert (await verify(database)).ok


async def test_opposite_transfers_do_not_deadlock(database: Database) -> None:
    ledger, _mint, (alice, bob) = await _funded(database, 1000, 1000)
    requests = [
        TransferRequest(f"x{n}", alice, bob, 3, "tip") if n % 2 else TransferRequest(f"x{n}", bob, alice, 3, "tip")
        for n in range(60)
    ]
    results = await asyncio.wait_for(asyncio.gather(*(ledger.transfer(r) for r in requests)), timeout=30)
    assert all(r.posted for r in results)
    assert await ledger.balance(alice) + await ledger.balance(bob) == 2000
    assert (await verify(database)).ok


async def test_batch_decides_in_order_and_replays_duplicates(database: Database) -> None:
    ledger, mint, (alice, bob) = await _funded(database, 10, 0)
    await ledger.transfer(TransferRequest("before", alice, bob, 1, "tip"))
    batch = [
        TransferRequest("before", alice, bob, 1, "tip"),  # stored already: replay
        TransferRequest("b1", alice, bob, 6, "tip"),
        TransferRequest("b2", alice, bob, 6, "tip"),  # only 3 left: refused
        TransferRequest("b1", alice, bob, 6, "tip"),  # earlier in this batch: replay
        TransferRequest("b3", bob, alice, 7, "tip"),
        TransferRequest("b4", mint, bob, 1_000, "grant"),  # the mint may go negative
    ]
    results = await ledger.transfer_many(batch)
    assert [r.status for r in results] == ["posted", "posted", "rejected", "posted", "posted", "posted"]
    assert [r.replayed for r in results] == [True, False, False, True, False, False]
    assert results[3].id == results[1].id
    assert (await ledger.balance(alice), await ledger.balance(bob)) == (10, 1_000)
    report = await verify(database)
    assert report.ok, report.render()
    assert report.posted == 5 and report.rejected == 1  # the funding, "before", b1, b3, b4


async def test_verify_reports_tampering(database: Database) -> None:
    ledger, _mint, (alice, bob) = await _funded(database, 10, 0)
    await ledger.transfer(TransferRequest("t", alice, bob, 4, "tip"))
    async with database.transaction() as session:
        await session.execute(text("UPDATE economy_accounts SET balance = balance + 5 WHERE id = :id"), {"id": bob})
    report = await verify(database)
    checks = {v.check for v in report.violations}
    assert {"stored_equals_recomputed", "balances_sum_to_zero"} <= checks
    assert "LEDGER VIOLATIONS" in report.render()


async def test_migration_matches_models(database: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.engine import Connection

    from core.storage.metadata import all_metadata

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return [d for d in compare_metadata(context, all_metadata()) if "economy_" in repr(d)]

    async with database.engine.connect() as connection:
        assert await connection.run_sync(diff) == []


async def test_system_accounts_exist_and_only_the_mint_may_go_negative(database: Database) -> None:
    async with database.read() as session:
        rows = (await session.execute(text("SELECT code, allow_negative FROM economy_accounts ORDER BY code"))).all()
    assert [(code, bool(flag)) for code, flag in rows] == [
        ("escrow", False),
        ("mint", True),
        ("raffle_pot", False),
        ("shop", False),
    ]


async def _snpd_verify(database: Database, *extra: str) -> tuple[int, str]:
    import sys

    args = ["--database-url", database.url, *(["--schema", database.schema] if database.schema else []), *extra]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "snpd", "ledger", "verify", *args,
        cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode() + err.decode()


async def test_snpd_ledger_verify_exit_codes(database: Database) -> None:
    ledger, _mint, (alice, bob) = await _funded(database, 10, 0)
    await ledger.transfer(TransferRequest("t", alice, bob, 4, "tip"))
    code, output = await _snpd_verify(database)
    assert code == 0 and "ledger OK" in output and "2 posted" in output
    async with database.transaction() as session:
        await session.execute(text("UPDATE economy_accounts SET balance = 0 WHERE id = :id"), {"id": bob})
    code, output = await _snpd_verify(database)
    assert code == 1
    assert "[stored_equals_recomputed]" in output and "stored 0, entries say 4" in output
    code, output = await _snpd_verify(database, "--json")
    assert code == 1 and '"ok":false' in output


async def test_large_batch_matches_one_by_one_posting(database: Database) -> None:
    import random

    ledger, _mint, wallets = await _funded(database, 300, 200, 100)
    rng = random.Random(5)
    batch = [
        TransferRequest(f"big:{n}", *rng.sample(wallets, 2), rng.randint(1, 60), "tip")  # type: ignore[misc]
        for n in range(1_200)
    ]
    batch += batch[::97]  # replays of earlier keys, inside the same batch
    model = {wallet: balance for wallet, balance in zip(wallets, (300, 200, 100), strict=True)}
    expected = []
    for request in batch[:1_200]:
        ok = model[request.debit] >= request.amount
        if ok:
            model[request.debit] -= request.amount
            model[request.credit] += request.amount
        expected.append("posted" if ok else "rejected")
    results = await ledger.transfer_many(batch)
    assert [r.status for r in results[:1_200]] == expected
    assert all(r.replayed for r in results[1_200:])
    assert [await ledger.balance(w) for w in wallets] == [model[w] for w in wallets]
    report = await verify(database)
    assert report.ok, report.render()
