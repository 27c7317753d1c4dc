"""One ``Database`` object wraps the async engine and hands out transactions.

SQLite is the embedded default. It allows one writer at a time, so writes start with
``BEGIN IMMEDIATE`` (the lock is taken up front, never upgraded mid-transaction, which is what
produces un-retryable ``database is locked`` errors), wait on ``busy_timeout``, are serialised by an
in-process lock to avoid busy-waiting, and are retried if another process still holds the lock.
PostgreSQL needs none of that and gets a plain pool.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import orjson
import structlog
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

log = structlog.get_logger(__name__)
T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_MMAP_BYTES = 256 * 1024 * 1024
_LOCK_RETRIES = 8


def json_text(value: Any) -> str:
    """JSON columns are written and read with orjson: the delivery worker reads every claimed
    message's payload, and the standard library's decoder was about 2% of a fan-out's CPU."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


#: the JSON codec both backends' engines use (``json_text``)
_JSON_CODEC: dict[str, Any] = {"json_serializer": json_text, "json_deserializer": orjson.loads}


def _is_locked(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "database is locked" in text or "database is busy" in text


class Database:
    def __init__(self, url: str, *, echo: bool = False, schema: str | None = None) -> None:
        """``schema`` (PostgreSQL only) sets the search path, so tests can share one database."""
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.schema = schema
        self.engine: AsyncEngine = self._create_engine(url, echo)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    def _create_engine(self, url: str, echo: bool) -> AsyncEngine:
        if not self.is_sqlite:
            connect_args: dict[str, Any] = {}
            if self.schema:
                connect_args["server_settings"] = {"search_path": self.schema}
            return create_async_engine(
                url,
                echo=echo,
                pool_pre_ping=True,
                pool_size=10,
                max_overflow=20,
                connect_args=connect_args,
                **_JSON_CODEC,
            )
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url,
            echo=echo,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **_JSON_CODEC,
        )
        sync_engine = engine.sync_engine

        @event.listens_for(sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, decide when transactions begin (so BEGIN IMMEDIATE works).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # Read pages through a memory map, not a read() call each: every write from another
            # connection empties this one's page cache, and the delivery worker reads after each.
            cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(sync_engine, "begin")
        def _on_begin(connection: Any) -> None:
            mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
            connection.exec_driver_sql(f"BEGIN {mode}")

        return engine

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on any error.

        On SQLite the write lock is taken up front and waits up to ``busy_timeout`` for another
        process. Do not open a second transaction inside one: in-process writers are serialised.
        """
        async with self._locked(), self._sessions() as session, session.begin():
            yield session

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``work`` in a transaction, retrying with jittered back-off while SQLite is locked by
        another process, so a user never sees ``database is locked``. ``work`` may run more than
        once: keep side effects (sending messages) outside it."""
        attempt = 0
        while True:
            try:
                async with self.transaction() as session:
                    return await work(session)
            except OperationalError as exc:
                attempt += 1
                if not (self.is_sqlite and _is_locked(exc)) or attempt > _LOCK_RETRIES:
                    raise
                delay = min(2.0, 0.02 * 2**attempt) * random.uniform(0.5, 1.0)
                log.warning("sqlite.locked_retry", attempt=attempt, delay_s=round(delay, 3))
                await asyncio.sleep(delay)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only session. On SQLite it uses a deferred BEGIN so readers never wait on writers."""
        async with self._sessions() as session:
            if self.is_sqlite:
                await session.connection(execution_options={"sqlite_begin": "DEFERRED"})
            yield session

    @asynccontextmanager
    async def _locked(self) -> AsyncIterator[None]:
        if self._write_lock is None:
            yield
            return
        async with self._write_lock:
            yield

    async def dispose(self) -> None:
        await self.engine.dispose()
