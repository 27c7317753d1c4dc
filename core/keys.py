"""``snpd keys rotate``: re-encrypt every stored phone number with the newest key, so an old key can be
removed from ``SNPD_ENCRYPTION_KEY`` without losing a number.

The columns are found by their marking (``mapped_column(..., info={"encrypted": True})``), so a slice
that stores an encrypted value is rotated without this module knowing it. Each batch is its own
transaction and rows already on the newest key are skipped: an interrupted rotation is simply run again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, ColumnElement, MetaData, Table, select, update

from core.crypto import AddressVault
from core.storage.database import Database

BATCH = 500


@dataclass
class RotationReport:
    rotated: dict[str, int] = field(default_factory=dict)
    already_current: int = 0

    @property
    def total(self) -> int:
        return sum(self.rotated.values())


def encrypted_columns(metadata: MetaData) -> list[tuple[Table, Column[str]]]:
    return [
        (table, column)
        for table in metadata.sorted_tables
        for column in table.columns
        if column.info.get("encrypted")
    ]


async def rotate_keys(db: Database, vault: AddressVault, metadata: MetaData) -> RotationReport:
    report = RotationReport()
    for table, column in encrypted_columns(metadata):
        key = list(table.primary_key.columns)
        name = f"{table.name}.{column.name}"
        report.rotated[name] = 0
        last: tuple[object, ...] | None = None
        while True:
            query = select(*key, column).where(column.is_not(None)).order_by(*key).limit(BATCH)
            if last is not None:
                query = query.where(_after(key, last))
            async with db.transaction() as session:
                rows = (await session.execute(query)).all()
                for row in rows:
                    *ids, token = row
                    if vault.is_current(token):
                        report.already_current += 1
                        continue
                    match = [col == value for col, value in zip(key, ids, strict=True)]
                    await session.execute(update(table).where(*match).values({column.name: vault.rotate(token)}))
                    report.rotated[name] += 1
            if len(rows) < BATCH:
                break
            last = tuple(rows[-1][: len(key)])
    return report


def _after(key: list[Column[Any]], last: tuple[object, ...]) -> ColumnElement[bool]:
    """Rows after ``last`` in primary-key order (keyset pagination; single-column keys here)."""
    if len(key) != 1:
        raise ValueError("encrypted columns must live in tables with a one-column primary key")
    return key[0] > last[0]
