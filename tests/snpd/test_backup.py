"""``snpd backup`` and ``snpd restore`` as real processes: a backup taken while the economy keeps
posting transfers restores to a ledger that balances; a restore refuses a live bot and foreign files."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

from bot.economy.runtime import EconomyRuntime
from core.errors import UserError
from core.identity import Caller
from snpd.app import build_engine
from tests.fakes.harness import free_port
from tests.paths import REPO


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DISCORD_TOKEN", "TELEGRAM_TOKEN", "TWILIO_ACCOUNT_SID"}}
    env["PYTHONPATH"] = str(REPO)
    return env


def _snpd(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "snpd", *args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=120
    )


def _transfers(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM economy_transfers").fetchone()[0])
    finally:
        conn.close()


async def test_a_backup_under_write_load_restores_to_a_balanced_ledger(tmp_path: Path, make_config: Any) -> None:
    engine = build_engine(make_config(economy={"min_account_age_days": 0, "tip_pair_cooldown_seconds": 0}))
    await engine.start()
    economy = engine.service(EconomyRuntime).economy
    admin = await engine.identity.resolve(Caller("shell", "admin", "admin"))
    members = [await engine.identity.resolve(Caller("shell", f"m{n}", f"member{n}")) for n in range(6)]
    stop = asyncio.Event()
    written = 0

    async def write_load() -> None:
        nonlocal written
        while not stop.is_set():
            member = members[written % len(members)]
            await economy.adjust(admin, member, 1 + written % 9, "load test", f"load:grant:{written}", grant=True)
            with contextlib.suppress(UserError):  # not enough yet: a rejected transfer, still a write
                await economy.tip(member, members[(written + 1) % len(members)], 3, "thanks", f"load:tip:{written}")
            written += 1

    load = asyncio.create_task(write_load())
    try:
        while written < 20:
            await asyncio.sleep(0.02)
        backup = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "snpd", "backup", "backup.db", cwd=tmp_path, env=_env(),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(backup.communicate(), timeout=120)
        during = written
        await asyncio.sleep(0.2)
    finally:
        stop.set()
        await load
        await engine.stop()
    assert backup.returncode == 0, err.decode()
    assert out.decode().startswith(f"backed up data{os.sep}snpd.db to backup.db (7 members")
    copied = _transfers(tmp_path / "backup.db")
    assert 40 <= copied < _transfers(tmp_path / "data" / "snpd.db"), "the copy was taken while writes went on"
    assert during < written

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    restored = _snpd(fresh, "restore", str(tmp_path / "backup.db"))
    assert restored.returncode == 0, restored.stderr
    assert f"restored {tmp_path / 'backup.db'} to data{os.sep}snpd.db (7 members" in restored.stdout
    assert "previous database" not in restored.stdout
    verified = _snpd(fresh, "ledger", "verify", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = json.loads(verified.stdout)
    assert report["ok"] and report["transfers"] == copied and report["posted"] > 0

    again = _snpd(fresh, "restore", str(tmp_path / "data" / "snpd.db"))
    assert again.returncode == 0, again.stderr
    assert f"the previous database is kept at data{os.sep}snpd.db.bak" in again.stdout
    assert _transfers(fresh / "data" / "snpd.db.bak") == copied
    assert _transfers(fresh / "data" / "snpd.db") > copied


def test_restore_refuses_files_that_are_not_our_database(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a database")
    conn = sqlite3.connect(tmp_path / "other.db")
    conn.execute("CREATE TABLE songs (title TEXT)")
    conn.commit()
    conn.close()
    for name, problem in [
        ("notes.txt", "notes.txt is not an SQLite database"),
        ("other.db", "other.db is an SQLite database, but not one of SNPD's"),
        ("missing.db", "missing.db: no such file"),
    ]:
        done = _snpd(tmp_path, "restore", name)
        assert done.returncode == 2
        assert done.stderr.strip().startswith("restore refused: ") and problem in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "data" / "snpd.db").exists()


def test_backup_without_a_database_says_so(tmp_path: Path) -> None:
    done = _snpd(tmp_path, "backup", "backup.db")
    assert done.returncode == 2
    assert "no database at data/snpd.db: nothing to back up" in done.stderr
    assert not (tmp_path / "backup.db").exists()


def test_postgres_gets_the_pg_dump_recipe(tmp_path: Path) -> None:
    (tmp_path / "bot.toml").write_text('[bot]\ndatabase_url = "postgresql+asyncpg://snpd:secret@db.internal:5432/snpd"\n')
    dump = _snpd(tmp_path, "backup", "snpd.dump")
    assert dump.returncode == 2
    assert "pg_dump --format=custom --file=snpd.dump 'postgresql://snpd@db.internal:5432/snpd'" in dump.stdout
    load = _snpd(tmp_path, "restore", "snpd.dump")
    assert load.returncode == 2
    assert "pg_restore --clean --if-exists --no-owner --dbname='postgresql://snpd@db.internal:5432/snpd'" in load.stdout
    assert "secret" not in dump.stdout + load.stdout


async def test_restore_refuses_while_snpd_runs_and_ops_serves_health(tmp_path: Path) -> None:
    """``snpd run`` (the shell, no tokens) with ``[ops]`` on: /healthz answers, and a restore is refused."""
    port = free_port()
    (tmp_path / "bot.toml").write_text(f"[ops]\nenabled = true\nport = {port}\n")
    assert _snpd(tmp_path, "db", "upgrade").returncode == 0
    assert _snpd(tmp_path, "backup", "before.db").returncode == 0
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "snpd", "run", cwd=tmp_path, env=_env(),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        banner = await asyncio.wait_for(process.stdout.readline(), timeout=60)
        assert b"SNPD shell" in banner
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as response:
            assert response.status == 200
            assert await response.json() == {
                "healthy": True,
                "frontends": {"shell": "connected"},
                "database": "ok",
                "scheduler": "running",
            }
        refused = await asyncio.to_thread(_snpd, tmp_path, "restore", "before.db")
        assert refused.returncode == 2
        assert "restore refused: snpd is running on data/ (it holds data/snpd.lock): stop it first" in refused.stderr
        process.terminate()
        assert await asyncio.wait_for(process.wait(), timeout=20) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert _snpd(tmp_path, "restore", "before.db").returncode == 0
