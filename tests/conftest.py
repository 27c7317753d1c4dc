"""Shared fixtures: the loopback-only network guard, databases on SQLite and PostgreSQL, and engines."""

from __future__ import annotations

import ipaddress
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from bot.slices import load_config
from core.config import Config
from core.engine import Engine
from core.storage.database import Database

POSTGRES_URL = os.environ.get("SNPD_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("SNPD_REQUIRE_POSTGRES") == "1"
TEST_FERNET_KEY = "x8M8nZ0y0mH3m6m2qZ8Q2bC0d7eF1gH2iJ3kL4mN5oQ="

# --------------------------------------------------------------------------- network guard

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
_violations: list[str] = []
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _is_loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return False
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _check(address: Any, family: int) -> None:
    if family == socket.AF_UNIX:
        return
    host = address[0] if isinstance(address, tuple) else address
    if not _is_loopback(host):
        message = f"test tried to reach {address!r}: only loopback is allowed"
        _violations.append(message)
        raise ConnectionRefusedError(message)


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check(address, self.family)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check(address, self.family)
    return _real_connect_ex(self, address)


def _is_ip_literal(host: Any) -> bool:
    try:
        ipaddress.ip_address(host.decode() if isinstance(host, bytes) else str(host))
        return True
    except ValueError:
        return False


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    """Names other than localhost would need DNS (outside traffic); IP literals are checked at connect."""
    if host is not None and not _is_loopback(host) and not _is_ip_literal(host):
        message = f"test tried to resolve {host!r}: only loopback is allowed"
        _violations.append(message)
        raise socket.gaierror(socket.EAI_NONAME, message)
    return _real_getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
socket.getaddrinfo = _guarded_getaddrinfo


@pytest.fixture(autouse=True)
def network_guard() -> Iterator[None]:
    """Fails any test that tried to open a non-loopback connection, even if the error was swallowed."""
    _violations.clear()
    yield
    if _violations:
        found = list(_violations)
        _violations.clear()
        pytest.fail("non-loopback network access: " + "; ".join(found))


# --------------------------------------------------------------------------- databases


def _postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    reachable = _postgres_reachable()
    if not reachable and REQUIRE_POSTGRES:
        pytest.fail("SNPD_REQUIRE_POSTGRES=1 but PostgreSQL is not reachable at 127.0.0.1:5432")
    return reachable


async def _create_schema(name: str) -> None:
    admin = Database(POSTGRES_URL)
    try:
        async with admin.engine.begin() as conn:
            await conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    finally:
        await admin.dispose()


async def _drop_schema(name: str) -> None:
    admin = Database(POSTGRES_URL)
    try:
        async with admin.engine.begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
async def database(request: pytest.FixtureRequest, tmp_path: Path, postgres_available: bool) -> AsyncIterator[Database]:
    """An empty, migrated database on each engine. PostgreSQL gets a private schema per test."""
    from bot.slices import load_models, migration_locations
    from core.storage.migrate import upgrade

    load_models()  # registers every slice's tables
    if request.param == "sqlite":
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
        await upgrade(db, migration_locations())
        yield db
        await db.dispose()
        return
    if not postgres_available:
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432; storage tests ran on SQLite only")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    await _create_schema(schema)
    db = Database(POSTGRES_URL, schema=schema)
    try:
        await upgrade(db, migration_locations())
        yield db
    finally:
        await db.dispose()
        await _drop_schema(schema)


def _config(tmp_path: Path, **overrides: dict[str, Any]) -> Config:
    from bot.slices import load_models

    load_models()  # slices register their config sections on import
    os.environ.setdefault("SNPD_ENCRYPTION_KEY", TEST_FERNET_KEY)
    base: dict[str, dict[str, Any]] = {
        "bot": {"data_dir": str(tmp_path / "data")},
        "monitors": {"allow_private_addresses": True},  # the fake stores listen on loopback
    }
    for section, values in overrides.items():
        base.setdefault(section, {}).update(values)
    return load_config(tmp_path / "bot.toml" if (tmp_path / "bot.toml").exists() else None, overrides=base)


@pytest.fixture
def make_config(tmp_path: Path) -> Any:
    """``make_config(discord={...})`` builds a Config on a temp data dir with section overrides."""

    def factory(**overrides: dict[str, Any]) -> Config:
        return _config(tmp_path, **overrides)

    return factory


@pytest.fixture
async def engine(make_config: Any, database: Database) -> AsyncIterator[Engine]:
    """A started engine with every slice registered, on each database engine."""
    from snpd.app import build_engine

    built = build_engine(make_config(), db=database)
    await built.start(migrate=False)
    yield built
    await built.scheduler.stop()
    await built.bus.drain()


@pytest.fixture
async def sqlite_engine(make_config: Any) -> AsyncIterator[Engine]:
    """A started engine on SQLite only, for frontend tests where the database engine doesn't matter."""
    from snpd.app import build_engine

    built = build_engine(make_config())
    await built.start()
    yield built
    await built.stop()


# --------------------------------------------------------------------------- test bots (tests/testbot.py)


@asynccontextmanager
async def _bot_factory(open_bot: Callable[..., AbstractAsyncContextManager[Any]]) -> AsyncIterator[Any]:
    """``await factory(**options)`` opens a bot with ``open_bot``; every bot opened closes with the test."""
    async with AsyncExitStack() as stack:

        async def factory(**options: Any) -> Any:
            return await stack.enter_async_context(open_bot(**options))

        yield factory


@pytest.fixture
async def make_bot(make_config: Any, database: Database) -> AsyncIterator[Any]:
    """``await make_bot(economy={...}, commands=[...])``: a started ``TestBot`` on each database."""
    from tests.testbot import neutral_bot

    async with _bot_factory(partial(neutral_bot, make_config, database)) as factory:
        yield factory


@pytest.fixture
async def bot(make_bot: Any) -> Any:
    """A ``TestBot`` with the default config: ``await bot.say(bot.member("alice"), "/ping")``."""
    return await make_bot()


@pytest.fixture
async def fake_discord() -> AsyncIterator[Any]:
    from tests.fakes.discord_api import FakeDiscord

    async with FakeDiscord() as server:
        yield server


@pytest.fixture
async def make_discord_bot(fake_discord: Any, make_config: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    """``await make_discord_bot(economy={...}, commands=[...], frontend={...})``: real discord.py on the fake."""
    from tests.testbot import discord_bot

    async with _bot_factory(partial(discord_bot, fake_discord, make_config, monkeypatch.setenv)) as factory:
        yield factory


@pytest.fixture
async def discord_bot(make_discord_bot: Any) -> Any:
    return await make_discord_bot()


@pytest.fixture
async def fake_telegram() -> AsyncIterator[Any]:
    from tests.fakes.telegram_api import FakeTelegramAPI

    async with FakeTelegramAPI() as server:
        yield server


@pytest.fixture
async def make_telegram_bot(
    fake_telegram: Any, make_config: Any, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Any]:
    """``await make_telegram_bot(economy={...})``: real python-telegram-bot polling the fake Bot API."""
    from tests.testbot import telegram_bot

    async with _bot_factory(partial(telegram_bot, fake_telegram, make_config, monkeypatch.setenv)) as factory:
        yield factory


@pytest.fixture
async def telegram_bot(make_telegram_bot: Any) -> Any:
    return await make_telegram_bot()


@pytest.fixture
def sqlite_bot(sqlite_engine: Engine) -> Any:
    """A ``TestBot`` on ``sqlite_engine``, for command tests where the database engine doesn't matter."""
    from tests.testbot import TestBot

    return TestBot(sqlite_engine)


@pytest.fixture
async def fake_twilio() -> AsyncIterator[Any]:
    from tests.fakes.twilio_api import FakeTwilioAPI

    async with FakeTwilioAPI() as server:
        yield server


@pytest.fixture
async def make_sms_bot(fake_twilio: Any, make_config: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    """``await make_sms_bot(db=database)``: the real SMS frontend's webhook, sending to the fake Twilio."""
    from tests.fakes.harness import free_port
    from tests.testbot import sms_bot

    def open_bot(**options: Any) -> AbstractAsyncContextManager[Any]:
        return sms_bot(fake_twilio, make_config, monkeypatch.setenv, free_port(), **options)  # a port per bot

    async with _bot_factory(open_bot) as factory:
        yield factory
