"""Apply Alembic migrations programmatically, on the engine the app already uses."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from core.storage.database import Database

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(locations: Sequence[Path] = ()) -> AlembicConfig:
    """Alembic's config: the shared environment, with every slice's versions folder besides core's."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if locations:
        folders = [str(MIGRATIONS_DIR / "versions"), *(str(path) for path in locations)]
        cfg.set_main_option("version_locations", " ".join(folders))
    return cfg


async def upgrade(db: Database, locations: Sequence[Path] = (), target: str = "heads") -> list[str]:
    """Upgrade to ``target`` and return the revisions the database is at afterwards."""
    cfg = alembic_config(locations)

    def _upgrade(connection: Connection) -> list[str]:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, target)
        return sorted(MigrationContext.configure(connection).get_current_heads())

    async with db.engine.begin() as connection:
        return await connection.run_sync(_upgrade)


async def pending(db: Database, locations: Sequence[Path] = ()) -> list[str]:
    """Head revisions the database has not reached yet."""
    script = ScriptDirectory.from_config(alembic_config(locations))

    def _current(connection: Connection) -> set[str]:
        return set(MigrationContext.configure(connection).get_current_heads())

    async with db.engine.connect() as connection:
        current = await connection.run_sync(_current)
    return sorted(set(script.get_heads()) - current)
