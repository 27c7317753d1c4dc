"""Apply Alembic migrations programmatically, on the engine the app already uses.

Core owns the Alembic environment and its own revisions; every slice keeps its revisions in its own
folder (its branch label is the slice's name), so callers pass the slices' folders
(``bot.slices.migration_locations()``). Leaving one out hides that slice's tables.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from core.storage.database import Database

#: core's Alembic environment (env.py, script.py.mako) and ``versions/``, core's own revisions
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(locations: Sequence[Path]) -> AlembicConfig:
    """Alembic's config: core's environment, core's revisions and every slice's folder."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # split on os.pathsep, not spaces: a checkout under a folder with a space in its name still works
    cfg.set_main_option("path_separator", "os")
    folders = [MIGRATIONS_DIR / "versions", *locations]
    cfg.set_main_option("version_locations", os.pathsep.join(str(path) for path in folders))
    return cfg


async def upgrade(db: Database, locations: Sequence[Path], target: str = "heads") -> list[str]:
    """Upgrade to ``target`` and return the revisions the database is at afterwards."""
    cfg = alembic_config(locations)

    def _upgrade(connection: Connection) -> list[str]:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, target)
        return sorted(MigrationContext.configure(connection).get_current_heads())

    async with db.engine.begin() as connection:
        return await connection.run_sync(_upgrade)


async def pending(db: Database, locations: Sequence[Path]) -> list[str]:
    """Head revisions the database has not reached yet."""
    script = ScriptDirectory.from_config(alembic_config(locations))

    def _current(connection: Connection) -> set[str]:
        return set(MigrationContext.configure(connection).get_current_heads())

    async with db.engine.connect() as connection:
        current = await connection.run_sync(_current)
    return sorted(set(script.get_heads()) - current)
