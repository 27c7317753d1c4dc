"""Set-based reads and writes for the ledger's batched path, one implementation per database.

A batch of a thousand transfers is a handful of statements either way. On PostgreSQL they are plain
SQLAlchemy Core (``IN`` lists, a multi-row ``INSERT ... RETURNING``, an ``executemany`` UPDATE) and
lock the accounts in id order. On SQLite, where building a thousand-row statement in Python costs
more than SQLite takes to run it, each statement gets the whole batch as one JSON parameter and
unpacks it with ``json_each`` in C: one bound value instead of thousands, same rows, same checks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

import orjson
from sqlalchemy import Row, bindparam, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.economy.models import Account, Transfer
from core.storage.models import table
from core.storage.types import UtcDateTime

T = TypeVar("T")
_T = table(Transfer)
_A = table(Account)
_CHUNK = 500

#: a new transfer row, in this column order, without ``created_at`` (one value for the whole batch)
ROW_COLUMNS = (
    "idempotency_key", "kind", "status", "debit_account_id", "credit_account_id",
    "amount", "ref", "note", "actor_id", "reason",
)  # fmt: skip
NewRow = tuple[Any, ...]


class BulkIO(Protocol):
    async def accounts(self, conn: AsyncConnection, ids: Sequence[int]) -> dict[int, tuple[int, bool]]:
        """Balance and overdraft permission of each account, locked until commit where that's needed."""
        ...

    async def stored(self, conn: AsyncConnection, keys: Sequence[str]) -> dict[str, Row[Any]]:
        """Transfers already holding any of ``keys``."""
        ...

    async def insert(self, conn: AsyncConnection, rows: Sequence[NewRow], when: datetime) -> dict[str, int]:
        """Insert the rows; the new ids by idempotency key."""
        ...

    async def add(self, conn: AsyncConnection, deltas: Sequence[tuple[int, int]]) -> None:
        """``balance += delta`` for each ``(account id, delta)``."""
        ...


def _chunks(items: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class CoreBulk:
    """Portable Core statements; on PostgreSQL the account rows are locked in id order."""

    _balances = select(_A.c.id, _A.c.balance, _A.c.allow_negative).where(_A.c.id.in_(bindparam("ids", expanding=True)))
    _by_keys = select(_T).where(_T.c.idempotency_key.in_(bindparam("keys", expanding=True)))
    _insert = insert(_T).returning(_T.c.id, _T.c.idempotency_key)
    _add = update(_A).where(_A.c.id == bindparam("acct")).values(balance=_A.c.balance + bindparam("delta"))

    def __init__(self, *, lock: bool) -> None:
        self._accounts_query = self._balances.order_by(_A.c.id).with_for_update() if lock else self._balances

    async def accounts(self, conn: AsyncConnection, ids: Sequence[int]) -> dict[int, tuple[int, bool]]:
        found: dict[int, tuple[int, bool]] = {}
        for chunk in _chunks(ids):
            for account_id, balance, allow_negative in await conn.execute(self._accounts_query, {"ids": list(chunk)}):
                found[account_id] = (int(balance), bool(allow_negative))
        return found

    async def stored(self, conn: AsyncConnection, keys: Sequence[str]) -> dict[str, Row[Any]]:
        found: dict[str, Row[Any]] = {}
        for chunk in _chunks(keys):
            for row in await conn.execute(self._by_keys, {"keys": list(chunk)}):
                found[row.idempotency_key] = row
        return found

    async def insert(self, conn: AsyncConnection, rows: Sequence[NewRow], when: datetime) -> dict[str, int]:
        params = [{**dict(zip(ROW_COLUMNS, row, strict=True)), "created_at": when} for row in rows]
        return {key: transfer_id for transfer_id, key in await conn.execute(self._insert, params)}

    async def add(self, conn: AsyncConnection, deltas: Sequence[tuple[int, int]]) -> None:
        await conn.execute(self._add, [{"acct": account, "delta": delta} for account, delta in deltas])


class SqliteJsonBulk:
    """SQLite: every statement takes its whole batch as one JSON array, unpacked by ``json_each``.
    No locking statement: the batch's ``BEGIN IMMEDIATE`` already excludes every other writer."""

    _balances = text(
        f"SELECT id, balance, allow_negative FROM {_A.name} WHERE id IN (SELECT value FROM json_each(:ids))"
    )
    _by_keys = text(
        f"SELECT {', '.join(_T.c.keys())} FROM {_T.name} WHERE idempotency_key IN (SELECT value FROM json_each(:keys))"
    ).columns(*_T.c)
    _insert = text(
        f"INSERT INTO {_T.name} ({', '.join(ROW_COLUMNS)}, created_at) "
        f"SELECT {', '.join(f'value ->> {n}' for n in range(len(ROW_COLUMNS)))}, :created_at "
        "FROM json_each(:rows) ORDER BY key "
        "RETURNING id, idempotency_key"
    ).bindparams(bindparam("created_at", type_=UtcDateTime()))
    _add = text(
        f"UPDATE {_A.name} SET balance = balance + (d.value ->> 1) "
        f"FROM json_each(:deltas) AS d WHERE {_A.name}.id = (d.value ->> 0)"
    )

    async def accounts(self, conn: AsyncConnection, ids: Sequence[int]) -> dict[int, tuple[int, bool]]:
        rows = await conn.execute(self._balances, {"ids": _json(ids)})
        return {account_id: (int(balance), bool(allow_negative)) for account_id, balance, allow_negative in rows}

    async def stored(self, conn: AsyncConnection, keys: Sequence[str]) -> dict[str, Row[Any]]:
        return {row.idempotency_key: row for row in await conn.execute(self._by_keys, {"keys": _json(keys)})}

    async def insert(self, conn: AsyncConnection, rows: Sequence[NewRow], when: datetime) -> dict[str, int]:
        result = await conn.execute(self._insert, {"rows": _json(rows), "created_at": when})
        return {key: transfer_id for transfer_id, key in result}

    async def add(self, conn: AsyncConnection, deltas: Sequence[tuple[int, int]]) -> None:
        await conn.execute(self._add, {"deltas": _json(deltas)})


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


def bulk_for(*, sqlite: bool) -> BulkIO:
    return SqliteJsonBulk() if sqlite else CoreBulk(lock=True)
