"""``snpd ledger verify``: recompute every balance from the transfers and check every invariant.

It reads one consistent snapshot (a deferred transaction on SQLite, REPEATABLE READ on PostgreSQL),
so it can run while the bot is live. Each check is one aggregate query, so it stays fast on a ledger
with millions of entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.economy.models import STATUS_POSTED, Account, Purchase, Raffle, RaffleEntry, Transfer
from core.storage.database import Database
from core.storage.models import table

_T = table(Transfer)
_A = table(Account)
_SHOWN_PER_CHECK = 10


@dataclass(frozen=True)
class Violation:
    check: str
    detail: str


@dataclass
class VerifyReport:
    accounts: int = 0
    transfers: int = 0
    posted: int = 0
    rejected: int = 0
    total_debits: int = 0
    total_credits: int = 0
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def add(self, check: str, detail: str) -> None:
        self.violations.append(Violation(check, detail))

    def render(self) -> str:
        lines = [
            f"accounts: {self.accounts}",
            f"transfers: {self.transfers} ({self.posted} posted, {self.rejected} rejected)",
            f"total debits: {self.total_debits}  total credits: {self.total_credits}",
        ]
        if self.ok:
            lines.append("ledger OK: every invariant holds")
        else:
            lines.append(f"LEDGER VIOLATIONS: {len(self.violations)}")
            lines.extend(f"  [{v.check}] {v.detail}" for v in self.violations)
        return "\n".join(lines)


async def verify(db: Database) -> VerifyReport:
    options = {"sqlite_begin": "DEFERRED"} if db.is_sqlite else {"isolation_level": "REPEATABLE READ"}
    async with db.engine.connect() as conn:
        conn = await conn.execution_options(**options)
        async with conn.begin():
            return await _verify(conn)


async def _verify(conn: AsyncConnection) -> VerifyReport:
    report = VerifyReport()
    report.accounts = int(await conn.scalar(select(func.count()).select_from(_A)) or 0)
    counts = await conn.execute(select(_T.c.status, func.count()).group_by(_T.c.status))
    by_status = {status: int(count) for status, count in counts}
    report.transfers = sum(by_status.values())
    report.posted = by_status.get(STATUS_POSTED, 0)
    report.rejected = by_status.get("rejected", 0)
    posted = _T.c.status == STATUS_POSTED
    report.total_debits = int(await conn.scalar(select(func.coalesce(func.sum(_T.c.amount), 0)).where(posted)) or 0)
    credits_by_account = (
        select(_T.c.credit_account_id.label("account"), func.sum(_T.c.amount).label("amount"))
        .where(posted)
        .group_by(_T.c.credit_account_id)
    )
    report.total_credits = int(
        await conn.scalar(select(func.coalesce(func.sum(credits_by_account.subquery().c.amount), 0))) or 0
    )
    if report.total_debits != report.total_credits:
        report.add("debits_equal_credits", f"debits {report.total_debits} != credits {report.total_credits}")

    await _check_balances(conn, report)
    await _check_transfers(conn, report)
    await _check_escrows(conn, report)
    return report


async def _check_balances(conn: AsyncConnection, report: VerifyReport) -> None:
    legs = union_all(
        select(_T.c.credit_account_id.label("account"), _T.c.amount.label("delta")).where(_T.c.status == STATUS_POSTED),
        select(_T.c.debit_account_id.label("account"), (-_T.c.amount).label("delta")).where(
            _T.c.status == STATUS_POSTED
        ),
    ).subquery()
    recomputed = select(legs.c.account, func.sum(legs.c.delta).label("total")).group_by(legs.c.account).subquery()
    rows = await conn.execute(
        select(_A.c.id, _A.c.code, _A.c.member_id, _A.c.balance, _A.c.allow_negative, recomputed.c.total)
        .select_from(_A.outerjoin(recomputed, recomputed.c.account == _A.c.id))
        .order_by(_A.c.id)
    )
    mismatched: list[str] = []
    negative: list[str] = []
    overdraft_wallets: list[str] = []
    stored_sum = 0
    for account_id, code, member_id, balance, allow_negative, total in rows:
        name = code or f"wallet of member #{member_id}"
        expected = int(total or 0)
        stored_sum += int(balance)
        if int(balance) != expected:
            mismatched.append(f"account {account_id} ({name}): stored {balance}, entries say {expected}")
        if not allow_negative and (balance < 0 or expected < 0):
            negative.append(f"account {account_id} ({name}): balance {balance}")
        if member_id is not None and allow_negative:
            overdraft_wallets.append(f"account {account_id} ({name}) allows a negative balance")
    _add_all(report, "stored_equals_recomputed", mismatched)
    _add_all(report, "no_negative_balance", negative)
    _add_all(report, "wallets_never_overdraw", overdraft_wallets)
    if stored_sum != 0:
        report.add("balances_sum_to_zero", f"stored balances sum to {stored_sum}, not 0")
    orphans = await conn.execute(
        select(_T.c.id)
        .where(
            ~select(_A.c.id).where(_A.c.id == _T.c.debit_account_id).exists()
            | ~select(_A.c.id).where(_A.c.id == _T.c.credit_account_id).exists()
        )
        .limit(_SHOWN_PER_CHECK)
    )
    _add_all(report, "accounts_exist", [f"transfer {row[0]} names a missing account" for row in orphans])


async def _check_transfers(conn: AsyncConnection, report: VerifyReport) -> None:
    duplicates = await conn.execute(
        select(_T.c.idempotency_key, func.count())
        .group_by(_T.c.idempotency_key)
        .having(func.count() > 1)
        .limit(_SHOWN_PER_CHECK)
    )
    _add_all(report, "idempotency_keys_unique", [f"key {key!r} used by {count} transfers" for key, count in duplicates])
    malformed = await conn.execute(
        select(_T.c.id, _T.c.amount, _T.c.status)
        .where(
            (_T.c.amount <= 0)
            | (_T.c.debit_account_id == _T.c.credit_account_id)
            | _T.c.status.not_in([STATUS_POSTED, "rejected"])
        )
        .limit(_SHOWN_PER_CHECK)
    )
    _add_all(
        report,
        "well_formed_transfers",
        [f"transfer {tid}: amount {amount}, status {status!r}" for tid, amount, status in malformed],
    )


async def _check_escrows(conn: AsyncConnection, report: VerifyReport) -> None:
    """System accounts that hold money on someone's behalf must hold exactly what they owe."""
    balances = {code: int(balance) for code, balance in await conn.execute(select(_A.c.code, _A.c.balance))}
    purchases = table(Purchase)
    pending = int(
        await conn.scalar(select(func.coalesce(func.sum(purchases.c.price), 0)).where(purchases.c.status == "pending"))
        or 0
    )
    if "escrow" in balances and balances["escrow"] != pending:
        report.add(
            "escrow_matches_pending_purchases", f"escrow holds {balances['escrow']}, pending purchases {pending}"
        )
    raffles, entries = table(Raffle), table(RaffleEntry)
    owed = int(
        await conn.scalar(
            select(func.coalesce(func.sum(_T.c.amount), literal(0)))
            .select_from(
                entries.join(raffles, raffles.c.id == entries.c.raffle_id).join(
                    _T, and_(_T.c.id == entries.c.transfer_id, _T.c.status == STATUS_POSTED)
                )
            )
            .where(raffles.c.status == "open")
        )
        or 0
    )
    if "raffle_pot" in balances and balances["raffle_pot"] != owed:
        report.add("raffle_pot_matches_open_entries", f"raffle pot holds {balances['raffle_pot']}, open entries {owed}")


def _add_all(report: VerifyReport, check: str, details: list[str]) -> None:
    for detail in details[:_SHOWN_PER_CHECK]:
        report.add(check, detail)
    if len(details) > _SHOWN_PER_CHECK:
        report.add(check, f"... and {len(details) - _SHOWN_PER_CHECK} more")
