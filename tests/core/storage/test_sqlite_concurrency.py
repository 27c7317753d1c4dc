"""Several processes writing one SQLite file at once never surface ``database is locked``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from sqlalchemy import func, select

from bot.slices import migration_locations
from core.storage.database import Database
from core.storage.migrate import upgrade
from core.storage.models import Member
from tests.paths import REPO

WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from core.storage.database import Database
    from core.storage.models import Member

    async def main(url: str, name: str) -> None:
        db = Database(url)
        async def add(session):
            session.add(Member(display_name=name, timezone="UTC", channel_order=[]))
        for _ in range(150):
            await db.run(add)
        await db.dispose()

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


async def test_parallel_writers_all_land(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    db = Database(url)
    await upgrade(db, migration_locations())
    repo = str(REPO)
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, f"w{n}"],
            cwd=repo,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    errors = [w.communicate(timeout=90)[1] for w in writers]
    assert [w.returncode for w in writers] == [0, 0, 0, 0], errors
    assert not any("locked" in e for e in errors)
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Member)) == 600
    await db.dispose()
