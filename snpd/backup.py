"""``snpd backup FILE`` and ``snpd restore FILE`` for the embedded SQLite database.

A backup uses SQLite's online backup API in one step: one read snapshot of the whole database, taken
while the bot keeps writing (in WAL mode readers never block the writer), so the copy is consistent
even mid-transfer. It is written beside ``FILE``, checked, and only then renamed over it.

A restore must not run under a live bot: ``snpd run`` and ``snpd shell`` hold a shared ``flock`` on
``<data_dir>/snpd.lock`` for their whole life and a restore needs it exclusively. The file to restore
must be an SQLite database of ours (our tables, schema revisions this version knows); the current
database is kept as ``snpd.db.bak`` and put back if the restored copy does not check out.

PostgreSQL has its own tools; for it both commands print the ``pg_dump`` / ``pg_restore`` recipe.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url

LOCK_NAME = "snpd.lock"
_HEADER = b"SQLite format 3\x00"
_OUR_TABLES = {"alembic_version", "members", "identities"}
_BUSY_TIMEOUT_S = 30.0


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


@dataclass(frozen=True)
class Snapshot:
    """What ``inspect`` found in a database file."""

    path: Path
    revisions: tuple[str, ...]
    members: int
    size: int


# ---------------------------------------------------------------------------- the running lock


@contextlib.contextmanager
def running_lock(data_dir: Path) -> Iterator[None]:
    """Held (shared) while the bot runs, so ``snpd restore`` can tell. Several bots may share it."""
    with _locked(data_dir, fcntl.LOCK_SH) as taken:
        if not taken:
            raise BackupError(f"a restore is in progress in {data_dir}/: wait for it to finish, then start again")
        yield


@contextlib.contextmanager
def _locked(data_dir: Path, mode: int) -> Iterator[bool]:
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / LOCK_NAME, "a+b") as handle:
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---------------------------------------------------------------------------- checks


def inspect(path: Path) -> Snapshot:
    """Check that ``path`` is an intact SNPD database whose schema this version knows."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    with open(path, "rb") as handle:
        if handle.read(len(_HEADER)) != _HEADER:
            raise BackupError(f"{path} is not an SQLite database")
    try:
        conn = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_S)
        try:
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"{path} is damaged: {check}")
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not tables >= _OUR_TABLES:
                raise BackupError(f"{path} is an SQLite database, but not one of SNPD's (it has no members table)")
            revisions = tuple(sorted(row[0] for row in conn.execute("SELECT version_num FROM alembic_version")))
            members = int(conn.execute("SELECT count(*) FROM members").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a readable SQLite database ({exc})") from None
    _known_revisions(path, revisions)
    return Snapshot(path, revisions, members, path.stat().st_size)


def _known_revisions(path: Path, revisions: tuple[str, ...]) -> None:
    """A copy from a newer SNPD has migrations this one cannot run or undo: refuse it."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from bot.slices import migration_locations
    from core.storage.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config(migration_locations()))
    for revision in revisions:
        try:
            script.get_revision(revision)
        except CommandError:
            raise BackupError(
                f"{path} comes from a newer SNPD (schema revision {revision} is unknown here): upgrade SNPD first"
            ) from None


# ---------------------------------------------------------------------------- backup and restore


def _copy(source: Path, target: Path) -> None:
    """Copy ``source`` into a fresh ``target`` in one backup step (one consistent snapshot), as a
    self-contained file (rollback journal, no ``-wal`` beside it)."""
    target.unlink(missing_ok=True)
    src = sqlite3.connect(source, timeout=_BUSY_TIMEOUT_S)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    except sqlite3.DatabaseError as exc:
        target.unlink(missing_ok=True)
        raise BackupError(f"could not copy {source}: {exc}") from None
    finally:
        src.close()


def backup(database: Path, target: Path) -> Snapshot:
    """Write a consistent copy of the live ``database`` to ``target``, replacing it only once checked."""
    if not database.is_file():
        raise BackupError(f"no database at {database}: nothing to back up (has the bot run here?)")
    if target.resolve() == database.resolve():
        raise BackupError(f"{target} is the live database itself: pick another file")
    if target.is_dir():
        raise BackupError(f"{target} is a folder: give a file name, e.g. {target / 'snpd-backup.db'}")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent}/ does not exist")
    partial = target.with_name(f".{target.name}.partial")
    _copy(database, partial)
    try:
        inspect(partial)
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)
    return inspect(target)


def restore(source: Path, database: Path, data_dir: Path) -> tuple[Snapshot, Path | None]:
    """Replace ``database`` with a checked copy of ``source``; returns it and where the old one went."""
    with _locked(data_dir, fcntl.LOCK_EX) as taken:
        if not taken:
            raise BackupError(
                f"snpd is running on {data_dir}/ (it holds {data_dir / LOCK_NAME}): stop it first, "
                "e.g. `systemctl stop snpd`"
            )
        inspect(source)
        database.parent.mkdir(parents=True, exist_ok=True)
        incoming = database.with_name(database.name + ".restoring")
        _copy(source, incoming)
        try:
            inspect(incoming)
        except BackupError:
            incoming.unlink(missing_ok=True)
            raise
        kept = _set_aside(database)
        os.replace(incoming, database)
        try:
            return inspect(database), kept
        except BackupError:
            database.unlink(missing_ok=True)
            if kept is not None:
                _move_db(kept, database)
            raise


def _set_aside(database: Path) -> Path | None:
    """Move the current database (with its write-ahead log, if a crash left one) to ``.bak``."""
    if not database.exists():
        return None
    with contextlib.suppress(sqlite3.DatabaseError):
        conn = sqlite3.connect(database, timeout=_BUSY_TIMEOUT_S)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
    kept = database.with_name(database.name + ".bak")
    _move_db(database, kept)
    return kept


def _move_db(source: Path, target: Path) -> None:
    """Rename a database with its ``-wal`` (SQLite pairs them by name); ``-shm`` is rebuilt on open."""
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(source, target)
    wal = Path(f"{source}-wal")
    if wal.exists():
        os.replace(wal, f"{target}-wal")
    Path(f"{source}-shm").unlink(missing_ok=True)


# ---------------------------------------------------------------------------- PostgreSQL


def postgres_recipe(url: str, file: str, *, restoring: bool) -> str:
    """How to do the same with PostgreSQL's own tools, for the database bot.toml points at."""
    given = make_url(url)
    target = URL.create(
        "postgresql", given.username, None, given.host, given.port, given.database, given.query
    ).render_as_string(hide_password=False)
    if not restoring:
        return "\n".join(
            [
                "snpd backup copies the embedded SQLite database; this bot uses PostgreSQL. Back it up with pg_dump",
                "(consistent while the bot runs; give the password in PGPASSWORD or ~/.pgpass):",
                "",
                f"  pg_dump --format=custom --file={file} '{target}'",
            ]
        )
    return "\n".join(
        [
            "snpd restore replaces the embedded SQLite database; this bot uses PostgreSQL. Restore with pg_restore:",
            "",
            "  systemctl stop snpd",
            f"  pg_restore --clean --if-exists --no-owner --dbname='{target}' {file}",
            "  snpd db upgrade && snpd ledger verify",
            "  systemctl start snpd",
        ]
    )


# ---------------------------------------------------------------------------- the commands


def add_cli(subparsers: Any) -> None:
    dump = subparsers.add_parser("backup", help="copy the SQLite database to FILE, consistent while the bot runs")
    dump.add_argument("file", type=Path)
    dump.set_defaults(func=cmd_backup)
    load = subparsers.add_parser("restore", help="replace the SQLite database with FILE (stop the bot first)")
    load.add_argument("file", type=Path)
    load.set_defaults(func=cmd_restore)


def _settings(args: argparse.Namespace) -> tuple[str, Path | None, Path]:
    """The database URL, the SQLite file (None on PostgreSQL) and the data folder."""
    from bot.slices import load_config

    config = load_config(args.config)
    url = config.bot.resolved_database_url()
    parsed = make_url(url)
    sqlite_file = Path(parsed.database or "") if parsed.get_backend_name() == "sqlite" else None
    if sqlite_file is not None and str(sqlite_file) in ("", ":memory:"):
        raise BackupError("the database is in memory: there is nothing on disk to back up or restore")
    return url, sqlite_file, config.bot.data_dir


def cmd_backup(args: argparse.Namespace) -> int:
    try:
        url, database, _data_dir = _settings(args)
        if database is None:
            print(postgres_recipe(url, str(args.file), restoring=False))
            return 2
        snapshot = backup(database, args.file)
    except BackupError as exc:
        print(f"backup failed: {exc}", file=sys.stderr)
        return 2
    print(f"backed up {database} to {snapshot.path} ({_describe(snapshot)})")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    try:
        url, database, data_dir = _settings(args)
        if database is None:
            print(postgres_recipe(url, str(args.file), restoring=True))
            return 2
        snapshot, kept = restore(args.file, database, data_dir)
    except BackupError as exc:
        print(f"restore refused: {exc}", file=sys.stderr)
        return 2
    print(f"restored {args.file} to {database} ({_describe(snapshot)})")
    if kept is not None:
        print(f"the previous database is kept at {kept}")
    print("start the bot as usual; it applies any newer migrations first")
    return 0


def _describe(snapshot: Snapshot) -> str:
    size = snapshot.size / 1_048_576
    return f"{snapshot.members} members, {size:.1f} MB, schema {', '.join(snapshot.revisions) or 'empty'}"
