"""The ledger: idempotent, atomic, double-entry transfers between accounts.

Every change of a balance is a transfer carrying an idempotency key the caller picked before sending
it. A transfer first *claims* its key with ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``, which
also decides from the debit account's balance whether the transfer is ``posted`` or ``rejected``. If
the key is taken the call is a replay and returns the stored result, even when it raced the original
(the racing insert waits for the original to commit, then finds its row). A posted transfer then
moves the money with one conditional, relative UPDATE of both rows (``balance + :amt`` for the credit,
``balance - :amt`` for the debit ``WHERE allow_negative OR balance >= :amt``): never
read-modify-write, re-checked by the UPDATE itself, and backed by the database's CHECK constraint.
All of it is one transaction, unlike a withdraw-then-deposit that a crash can cut in half.

On PostgreSQL (READ COMMITTED) the account rows are locked in id order before anything else, so
opposite transfers cannot deadlock and the claim's decision cannot go stale; serialization and
deadlock failures are retried anyway. On SQLite ``BEGIN IMMEDIATE`` already excludes every other
writer.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import structlog
from sqlalchemy import (
    BigInteger,
    Row,
    and_,
    bindparam,
    case,
    exists,
    literal,
    null,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.economy.bulk import NewRow, bulk_for
from bot.economy.models import STATUS_POSTED, STATUS_REJECTED, Account, Transfer
from core.ops.metrics import Metrics
from core.storage.database import Database
from core.storage.models import table
from core.storage.types import utcnow

log = structlog.get_logger(__name__)
T = TypeVar("T")

REASON_INSUFFICIENT = "insufficient_funds"
MAX_KEY_LENGTH = 120
_RETRIES = 10
_RETRY_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected

_T = table(Transfer)
_A = table(Account)
#: ``(kind, status)`` of the transfers written in the current ``Ledger.run`` attempt, counted only
#: once it commits (a retried or rolled-back attempt moved nothing)
_written: ContextVar[list[tuple[str, str]] | None] = ContextVar("ledger_written", default=None)


class LedgerError(Exception):
    """A malformed request: a bug in the caller, never the member's fault."""


class IdempotencyMismatch(LedgerError):
    """A key was reused for a different transfer."""


@dataclass(frozen=True, slots=True)
class TransferRequest:
    key: str
    debit: int
    credit: int
    amount: int
    kind: str
    note: str = ""
    ref: str | None = None
    actor_id: int | None = None

    def check(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount <= 0:
            raise LedgerError(f"amount must be a positive whole number, got {self.amount!r}")
        if self.debit == self.credit:
            raise LedgerError("a transfer needs two different accounts")
        if not self.key or len(self.key) > MAX_KEY_LENGTH:
            raise LedgerError(f"idempotency key must be 1-{MAX_KEY_LENGTH} characters")
        if not self.kind or len(self.kind) > 32 or len(self.note) > 200:
            raise LedgerError("kind must be 1-32 characters and note at most 200")

    def row(self, status: str, now: datetime, reason: str | None = None) -> dict[str, Any]:
        return {
            "idempotency_key": self.key,
            "kind": self.kind,
            "status": status,
            "debit_account_id": self.debit,
            "credit_account_id": self.credit,
            "amount": self.amount,
            "ref": self.ref,
            "note": self.note,
            "actor_id": self.actor_id,
            "reason": reason,
            "created_at": now,
        }


@dataclass(frozen=True, slots=True)
class TransferResult:
    id: int
    key: str
    status: str
    kind: str
    debit: int
    credit: int
    amount: int
    created_at: datetime
    reason: str | None = None
    #: True when the key had already been used: nothing moved this time
    replayed: bool = False

    @property
    def posted(self) -> bool:
        return self.status == STATUS_POSTED

    @classmethod
    def from_row(cls, row: Row[Any], *, replayed: bool) -> TransferResult:
        return cls(
            id=row.id,
            key=row.idempotency_key,
            status=row.status,
            kind=row.kind,
            debit=row.debit_account_id,
            credit=row.credit_account_id,
            amount=row.amount,
            created_at=row.created_at,
            reason=row.reason,
            replayed=replayed,
        )


# Statements are built once: SQLAlchemy's compiled cache then skips recompiling them on the hot path.
_AMOUNT = bindparam("amt", type_=BigInteger())
#: both legs in one conditional statement, only if the claim posted the transfer: the credit row,
#: and the debit row only if it can pay. Two rows changed means posted; none means rejected.
_MOVE = (
    update(_A)
    .where(
        or_(
            _A.c.id == bindparam("credit"),
            and_(_A.c.id == bindparam("debit"), or_(_A.c.allow_negative, _A.c.balance >= _AMOUNT)),
        ),
        exists().where(_T.c.id == bindparam("tid"), _T.c.status == STATUS_POSTED),
    )
    .values(balance=_A.c.balance + case((_A.c.id == bindparam("credit"), _AMOUNT), else_=-_AMOUNT))
)
_LOCK = select(_A.c.id).where(_A.c.id.in_(bindparam("ids", expanding=True))).order_by(_A.c.id).with_for_update()
_BY_KEY = select(_T).where(_T.c.idempotency_key == bindparam("key"))


def _deciding_claim(insert_factory: Callable[[Any], Any], *, returning: bool) -> Any:
    """``INSERT ... SELECT`` that claims the key and decides the status from the debit's balance.

    ``ON CONFLICT DO NOTHING`` makes a replay insert nothing (and, on PostgreSQL, wait for a racing
    original to commit first). ``WHERE true`` keeps SQLite's parser from reading ``ON`` as a join.
    """
    params = {column.name: bindparam(column.name, type_=column.type) for column in _T.c if column.name != "id"}
    funded = exists().where(
        _A.c.id == params["debit_account_id"],
        or_(_A.c.allow_negative, _A.c.balance >= params["amount"]),
    )
    decided = {
        **params,
        "status": case((funded, literal(STATUS_POSTED)), else_=literal(STATUS_REJECTED)),
        "reason": case((funded, null()), else_=literal(REASON_INSUFFICIENT)),
    }
    names = list(decided)
    source = select(*[decided[name].label(name) for name in names]).where(true())
    claim = insert_factory(_T).from_select(names, source).on_conflict_do_nothing(index_elements=["idempotency_key"])
    return claim.returning(_T.c.id) if returning else claim


def idempotency_key(*parts: object) -> str:
    """Join parts into a key; a key that would be too long is shortened to a stable hash."""
    key = ":".join(str(part) for part in parts)
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return f"{key[:40]}~{hashlib.sha256(key.encode()).hexdigest()[:64]}"


def is_retryable(exc: BaseException, *, sqlite: bool) -> bool:
    """SQLite busy after ``busy_timeout``, or a PostgreSQL serialization failure or deadlock."""
    if sqlite:
        text = str(exc).lower()
        return "database is locked" in text or "database is busy" in text
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in _RETRY_SQLSTATES


class Ledger:
    def __init__(self, db: Database, *, metrics: Metrics | None = None) -> None:
        self.db = db
        self._metrics = metrics
        self._sqlite = db.is_sqlite
        insert_factory = sqlite_insert if db.is_sqlite else pg_insert
        self._claim = _deciding_claim(insert_factory, returning=not db.is_sqlite)
        self._claim_as_given = (
            insert_factory(_T).on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(_T.c.id)
        )
        self._new_wallet = insert_factory(_A).on_conflict_do_nothing(index_elements=["member_id"])
        self._bulk = bulk_for(sqlite=db.is_sqlite)
        self._wallets: dict[int, int] = {}
        self._system: dict[str, int] = {}

    # ------------------------------------------------------------------ transactions

    async def run(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``work`` in one transaction, retrying lock, serialization and deadlock failures.

        ``work`` may run more than once, so it must not send messages or touch anything outside it.
        """
        attempt = 0
        while True:
            written: list[tuple[str, str]] = []
            token = _written.set(written)
            try:
                async with self.db.transaction() as session:
                    result = await work(await session.connection())
                if self._metrics is not None:
                    self._metrics.ledger_committed(written)
                return result
            except DBAPIError as exc:
                attempt += 1
                if attempt > _RETRIES or not is_retryable(exc, sqlite=self._sqlite):
                    raise
                delay = min(1.0, 0.005 * 2**attempt) * random.uniform(0.5, 1.0)
                log.warning("ledger.retry", attempt=attempt, delay_s=round(delay, 3), error=type(exc).__name__)
                await asyncio.sleep(delay)
            finally:
                _written.reset(token)

    async def transfer(self, request: TransferRequest) -> TransferResult:
        """Post one transfer in its own transaction (one commit)."""
        request.check()
        return await self.run(lambda conn: self.post(conn, request))

    async def transfer_many(self, requests: Sequence[TransferRequest]) -> list[TransferResult]:
        """Post many transfers in one transaction, each still idempotent and balance-checked, in order."""
        for request in requests:
            request.check()
        return await self.run(lambda conn: self.post_many(conn, requests))

    # ------------------------------------------------------------------ posting inside a transaction

    async def post(
        self, conn: AsyncConnection, request: TransferRequest, *, now: datetime | None = None
    ) -> TransferResult:
        """Post ``request`` inside the caller's transaction; a refused debit records a rejection.

        Two statements on the hot path: the claim decides ``posted`` or ``rejected`` from the debit
        account's balance as it inserts, then one conditional UPDATE moves the money if the claim
        posted. The UPDATE re-checks the balance itself, so if the two ever disagreed the transfer
        fails loudly instead of half-applying.
        """
        request.check()
        when = now or utcnow()
        await self.lock(conn, request.debit, request.credit)
        try:
            claimed = await conn.execute(self._claim, request.row(STATUS_POSTED, when))
        except IntegrityError as exc:
            raise LedgerError(f"transfer {request.key!r} names an unknown account") from exc
        transfer_id = self._claimed_id(claimed)
        if transfer_id is None:
            return await self._replay(conn, request)
        moved = await conn.execute(
            _MOVE, {"debit": request.debit, "credit": request.credit, "amt": request.amount, "tid": transfer_id}
        )
        if moved.rowcount == 0:
            self._wrote(request.kind, STATUS_REJECTED)
            return _result(transfer_id, request, STATUS_REJECTED, when, REASON_INSUFFICIENT)
        if moved.rowcount != 2:
            raise LedgerError(f"transfer {request.key!r}: the debit account changed under the claim")
        self._wrote(request.kind, STATUS_POSTED)
        return _result(transfer_id, request, STATUS_POSTED, when, None)

    def _wrote(self, kind: str, status: str) -> None:
        """Note a new transfer for ``/metrics``: counted when ``run`` commits, or at once when the
        caller runs its own transaction."""
        if self._metrics is None:
            return
        written = _written.get()
        if written is None:
            self._metrics.ledger_committed([(kind, status)])
        else:
            written.append((kind, status))

    def _claimed_id(self, claimed: Any) -> int | None:
        """The new transfer's id, or None when the key was taken. SQLite's claim has no RETURNING:
        the driver reports the new rowid and the row count for free, saving a round trip to the
        database thread on every transfer."""
        if self._sqlite:
            return int(claimed.lastrowid) if claimed.rowcount == 1 else None
        found = claimed.scalar()
        return None if found is None else int(found)

    async def record_rejection(
        self, conn: AsyncConnection, request: TransferRequest, reason: str, *, now: datetime | None = None
    ) -> TransferResult:
        """Answer ``request``'s key with a refusal decided by a rule (a cap, a cooldown): nothing moves."""
        request.check()
        when = now or utcnow()
        claimed = (await conn.execute(self._claim_as_given, request.row(STATUS_REJECTED, when, reason))).first()
        if claimed is None:
            return await self._replay(conn, request)
        self._wrote(request.kind, STATUS_REJECTED)
        return _result(claimed[0], request, STATUS_REJECTED, when, reason)

    async def lock(self, conn: AsyncConnection, *account_ids: int) -> None:
        """Lock account rows in id order until commit (PostgreSQL), so rule checks that read the
        ledger (caps, cooldowns) cannot race. SQLite's write transaction already excludes everyone."""
        if not self._sqlite:
            await conn.execute(_LOCK, {"ids": sorted(set(account_ids))})

    async def find(self, conn: AsyncConnection, key: str) -> TransferResult | None:
        row = (await conn.execute(_BY_KEY, {"key": key})).first()
        return None if row is None else TransferResult.from_row(row, replayed=True)

    async def _replay(self, conn: AsyncConnection, request: TransferRequest) -> TransferResult:
        row = (await conn.execute(_BY_KEY, {"key": request.key})).one()
        _same_transfer(row, request)
        return TransferResult.from_row(row, replayed=True)

    async def post_many(
        self, conn: AsyncConnection, requests: Sequence[TransferRequest], *, now: datetime | None = None
    ) -> list[TransferResult]:
        """The batched path: lock the accounts, then one lookup, one insert and one update for all.

        Each request is decided in order against the running balances, exactly as if posted one by
        one; a key seen earlier (stored, or earlier in this batch) is a replay. The CHECK constraint
        still guards the final balances: a wrong decision here would fail the batch, not overdraw.
        """
        when = now or utcnow()
        account_ids = sorted({account for r in requests for account in (r.debit, r.credit)})
        accounts = await self._bulk.accounts(conn, account_ids)
        missing = [a for a in account_ids if a not in accounts]
        if missing:
            raise LedgerError(f"unknown account {missing[0]}")
        balances = {account: balance for account, (balance, _) in accounts.items()}
        stored = await self._bulk.stored(conn, list(dict.fromkeys(r.key for r in requests)))
        decided: list[tuple[int, bool]] = []  # (index into new_rows, or -1 for stored; replayed) per request
        new_rows: list[NewRow] = []
        first_new: dict[str, int] = {}
        deltas: dict[int, int] = defaultdict(int)
        for request in requests:
            if request.key in stored:
                _same_transfer(stored[request.key], request)
                decided.append((-1, True))
                continue
            if request.key in first_new:
                decided.append((first_new[request.key], True))
                continue
            debit, credit, amount = request.debit, request.credit, request.amount
            if accounts[debit][1] or balances[debit] >= amount:
                balances[debit] -= amount
                balances[credit] += amount
                deltas[debit] -= amount
                deltas[credit] += amount
                status, reason = STATUS_POSTED, None
            else:
                status, reason = STATUS_REJECTED, REASON_INSUFFICIENT
            new_rows.append(
                (request.key, request.kind, status, debit, credit, amount, request.ref, request.note,
                 request.actor_id, reason)
            )  # fmt: skip
            first_new[request.key] = len(new_rows) - 1
            decided.append((len(new_rows) - 1, False))
            self._wrote(request.kind, status)
        ids = await self._bulk.insert(conn, new_rows, when) if new_rows else {}
        changes = [(account, delta) for account, delta in sorted(deltas.items()) if delta]
        if changes:
            await self._bulk.add(conn, changes)
        results: list[TransferResult] = []
        for request, (index, replayed) in zip(requests, decided, strict=True):
            if index < 0:
                results.append(TransferResult.from_row(stored[request.key], replayed=True))
                continue
            key, kind, status, debit, credit, amount, _ref, _note, _actor, reason = new_rows[index]
            results.append(
                TransferResult(ids[key], key, status, kind, debit, credit, amount, when, reason, replayed=replayed)
            )
        return results

    # ------------------------------------------------------------------ accounts

    async def system_account(self, code: str) -> int:
        if code not in self._system:
            async with self.db.read() as session:
                rows = await session.execute(select(_A.c.code, _A.c.id).where(_A.c.code.is_not(None)))
                self._system.update({str(code): int(account_id) for code, account_id in rows})
            if code not in self._system:
                raise LedgerError(f"no system account {code!r}: run `snpd db upgrade`")
        return self._system[code]

    async def wallet(self, member_id: int) -> int:
        """The wallet account of a member, created on first use. Call outside any transaction."""
        cached = self._wallets.get(member_id)
        if cached is not None:
            return cached
        async with self.db.read() as session:
            existing = await session.scalar(select(_A.c.id).where(_A.c.member_id == member_id))
        found = int(existing) if existing is not None else await self.run(lambda c: self.ensure_wallet(c, member_id))
        self._wallets[member_id] = found
        return found

    async def ensure_wallet(self, conn: AsyncConnection, member_id: int) -> int:
        """The wallet of ``member_id`` inside the caller's transaction, inserted if missing."""
        cached = self._wallets.get(member_id)
        if cached is not None:
            return cached
        await conn.execute(
            self._new_wallet, {"member_id": member_id, "balance": 0, "allow_negative": False, "created_at": utcnow()}
        )
        found: int = (await conn.execute(select(_A.c.id).where(_A.c.member_id == member_id))).scalar_one()
        return found

    async def balance_in(self, conn: AsyncConnection, account_id: int) -> int:
        value = await conn.scalar(select(_A.c.balance).where(_A.c.id == account_id))
        if value is None:
            raise LedgerError(f"unknown account {account_id}")
        return int(value)

    async def balance(self, account_id: int) -> int:
        async with self.db.read() as session:
            value = await session.scalar(select(_A.c.balance).where(_A.c.id == account_id))
        if value is None:
            raise LedgerError(f"unknown account {account_id}")
        return int(value)


def _same_transfer(row: Row[Any], request: TransferRequest) -> None:
    """A replay must name the same accounts and kind; the amount may differ when a rule capped it."""
    if (row.debit_account_id, row.credit_account_id, row.kind) != (request.debit, request.credit, request.kind):
        raise IdempotencyMismatch(f"idempotency key {request.key!r} was already used for a different transfer")


def _result(
    transfer_id: int, request: TransferRequest, status: str, when: datetime, reason: str | None
) -> TransferResult:
    return TransferResult(
        id=transfer_id,
        key=request.key,
        status=status,
        kind=request.kind,
        debit=request.debit,
        credit=request.credit,
        amount=request.amount,
        created_at=when,
        reason=reason,
    )
