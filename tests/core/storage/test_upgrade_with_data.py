"""An install made by the old main (all revisions in one shared folder; the alerts revision made the
outbox and SMS verifications) upgrades to today's per-slice migrations with every row kept, and ends
in exactly the schema, and at exactly the revisions, a fresh database gets. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, insert, inspect, select
from sqlalchemy.engine import Connection

from bot.slices import load_models, migration_locations
from core.storage.database import Database
from core.storage.metadata import all_metadata
from core.storage.migrate import pending, upgrade
from tests.conftest import POSTGRES_URL
from tests.core.storage import old_main

VERSION_TABLE = "alembic_version"


async def _admin(sql: str) -> None:
    admin = Database(POSTGRES_URL)
    try:
        async with admin.engine.begin() as connection:
            await connection.exec_driver_sql(sql)
    finally:
        await admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
async def old_and_fresh(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_available: bool
) -> AsyncIterator[tuple[Database, Database]]:
    """Two empty databases on one engine: one to build as the old main did, one to build fresh."""
    load_models()
    if request.param == "sqlite":
        pair = (
            Database(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"),
            Database(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"),
        )
        yield pair
        for db in pair:
            await db.dispose()
        return
    if not postgres_available:
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432; the upgrade ran on SQLite only")
    schemas = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    for schema in schemas:
        await _admin(f'CREATE SCHEMA "{schema}"')
    pair = (Database(POSTGRES_URL, schema=schemas[0]), Database(POSTGRES_URL, schema=schemas[1]))
    try:
        yield pair
    finally:
        for db in pair:
            await db.dispose()
        for schema in schemas:
            await _admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _reflect(connection: Connection) -> MetaData:
    metadata = MetaData()
    metadata.reflect(connection)
    return metadata


def _seed(connection: Connection) -> dict[str, list[dict[str, Any]]]:
    metadata = _reflect(connection)
    rows = old_main.rows(connection, metadata)
    assert set(rows) == set(metadata.tables) - {VERSION_TABLE}, "the seed must cover every table"
    for name, table_rows in rows.items():
        connection.execute(insert(metadata.tables[name]), table_rows)
    return rows


def _contents(connection: Connection) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, in primary-key order."""
    contents: dict[str, list[dict[str, Any]]] = {}
    for name, table in _reflect(connection).tables.items():
        if name != VERSION_TABLE:
            query = select(table).order_by(*table.primary_key.columns)
            contents[name] = [dict(row) for row in connection.execute(query).mappings()]
    return contents


def _schema(connection: Connection) -> dict[str, dict[str, Any]]:
    """What the inspector sees: columns, keys, indexes and constraints of every table, by name."""
    inspector = inspect(connection)
    schema: dict[str, dict[str, Any]] = {}
    for name in inspector.get_table_names():
        schema[name] = {
            "columns": [
                (column["name"], str(column["type"]), column["nullable"], column.get("default"))
                for column in inspector.get_columns(name)
            ],
            "primary_key": inspector.get_pk_constraint(name),
            "foreign_keys": sorted(
                (fk["name"], fk["constrained_columns"], fk["referred_table"], fk["referred_columns"], fk["options"])
                for fk in inspector.get_foreign_keys(name)
            ),
            "indexes": sorted(
                (index["name"], index["column_names"], index["unique"]) for index in inspector.get_indexes(name)
            ),
            "unique": sorted(
                (unique["name"], unique["column_names"]) for unique in inspector.get_unique_constraints(name)
            ),
            "checks": sorted((check["name"], check["sqltext"]) for check in inspector.get_check_constraints(name)),
        }
    return schema


def _drift(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, all_metadata()))


async def test_a_database_made_by_the_old_main_upgrades_with_every_row_kept(
    old_and_fresh: tuple[Database, Database],
) -> None:
    old, fresh = old_and_fresh
    locations = migration_locations()
    async with old.engine.begin() as connection:
        assert await connection.run_sync(old_main.create) == old_main.OLD_HEADS
        seeded = await connection.run_sync(_seed)
    async with old.engine.connect() as connection:
        before = await connection.run_sync(_contents)
    assert set(await pending(old, locations)) >= {"0400_delivery"}  # the slice branches the old main lacked

    heads = await upgrade(old, locations)

    async with old.engine.connect() as connection:
        after = await connection.run_sync(_contents)
        upgraded_schema = await connection.run_sync(_schema)
        assert await connection.run_sync(_drift) == []
    assert _kept(before, after) == []
    for name, rows in seeded.items():
        now = after[name]
        missing = [
            row for row in _kept_columns(name, rows) if not any(_contains(other, row) for other in now)
        ]
        assert not missing, f"{name}: rows lost or changed by the upgrade: {missing}"
    assert await pending(old, locations) == []

    assert await upgrade(fresh, locations) == heads
    async with fresh.engine.connect() as connection:
        assert await connection.run_sync(_schema) == upgraded_schema


#: columns a later revision removed on purpose, and where their meaning went
DROPPED = {
    ("sms_verifications", "attempts"): "wrong codes are counted in account_throttles since 0501",
}


def _kept_columns(table: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if (table, k) not in DROPPED} for row in rows]


def _contains(row: dict[str, Any], expected: dict[str, Any]) -> bool:
    return all(row.get(column) == value for column, value in expected.items())


def _kept(before: dict[str, list[dict[str, Any]]], after: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Every old row is still there with the same values in every column it had (new columns may
    have been added with their defaults; only ``DROPPED`` columns may be gone)."""
    problems: list[str] = []
    for table, rows in before.items():
        if table not in after:
            problems.append(f"table {table} is gone")
            continue
        new_rows = after[table]
        if len(new_rows) != len(rows):
            problems.append(f"{table}: {len(rows)} rows before, {len(new_rows)} after")
            continue
        for old_row, new_row in zip(rows, new_rows, strict=True):
            for column, value in old_row.items():
                if (table, column) in DROPPED:
                    continue
                if column not in new_row or new_row[column] != value:
                    problems.append(f"{table}.{column}: {value!r} became {new_row.get(column, '<gone>')!r}")
    return problems
