"""``/metrics`` and ``/healthz``: a started bot on the real Telegram frontend (against the fake Bot API),
its ops server on a free loopback port, read with aiohttp like Prometheus and a supervisor would."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.alerts import AlertsRuntime
from bot.delivery import Delivery
from bot.monitors.service import MonitorService
from core.commands import Permission
from core.engine import Engine
from core.ops.server import OpsServer, OpsStartError
from core.storage.database import Database
from snpd.app import build_engine
from tests.alerts.test_alerts import restock
from tests.conftest import POSTGRES_URL
from tests.fakes.shopify_store import FakeShopifyStore
from tests.monitors.test_engine import FAST
from tests.testbot import TelegramTestBot

pytestmark = pytest.mark.filterwarnings("ignore:.*attribute `retry_after`:DeprecationWarning")

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def _get(server: OpsServer, path: str) -> tuple[int, str, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{server.port}{path}") as response:
        body = await response.text()
        return response.status, response.headers["Content-Type"], await response.json() if path == "/healthz" else body


def _samples(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@contextlib.asynccontextmanager
async def _serving(server: OpsServer) -> AsyncIterator[OpsServer]:
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_metrics_count_what_the_bot_did_and_health_is_green(make_telegram_bot: Any) -> None:
    store = FakeShopifyStore()
    await store.start()
    try:
        bot: TelegramTestBot = await make_telegram_bot(
            ops={"enabled": True, "port": 0},
            monitors=FAST,
            economy={"min_account_age_days": 0, "tip_pair_cooldown_seconds": 0},
            delivery={"backoff_base_s": 0.05, "backoff_max_s": 0.1},
        )
        engine = bot.engine
        bot.member("alice")
        bot.member("bob")
        bot.member("owner", role=Permission.ADMIN)
        async with _serving(OpsServer(engine, expected_frontends=["telegram"])) as server:
            assert server.port > 0
            await bot.ok("alice", "/ping")
            await bot.ok("bob", "/ping")
            await bot.ok("owner", "/admin grant @alice 40 welcome to the group")
            await bot.fails("alice", "/laces tip @bob 500 too much", match="Not enough LACES")
            await bot.ok("alice", "/laces tip @bob 5 thanks")
            await bot.fails("alice", "/nosuchcommand")  # never ran: not counted

            monitors = engine.service(MonitorService)
            row, _probe, outcome = await monitors.add(store.base_url, interval=3600)
            assert outcome.status == "baseline"
            store.inject("403", path="/products.json")
            assert (await monitors.poll(row.id)).error is not None

            await bot.ok("alice", "/alerts add jordan 4")
            await engine.service(AlertsRuntime).start()
            bot.fake.fail_next_with("sendMessage", 502, "Bad Gateway")
            await engine.bus.publish("monitor.event", restock())
            await engine.bus.drain()
            alice_chat = bot["alice"].native.id
            dm = await bot.fake.wait_for_message(alice_chat, timeout=15, contains="Air Jordan 4")
            assert "Restock" in dm.text

            status, content_type, text = await _get(server, "/metrics")
            assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
            samples = _samples(text)
            assert _value(samples, "snpd_commands_total", command="ping", outcome="ok") == 2
            assert _value(samples, "snpd_commands_total", command="admin grant", outcome="ok") == 1
            assert _value(samples, "snpd_commands_total", command="laces tip", outcome="refused") == 1
            assert _value(samples, "snpd_commands_total", command="laces tip", outcome="ok") == 1
            assert not any("nosuchcommand" in str(key) for key in samples)
            assert _value(samples, "snpd_ledger_transfers_total", kind="grant", status="posted") == 1
            assert _value(samples, "snpd_ledger_transfers_total", kind="tip", status="posted") == 1
            assert _value(samples, "snpd_ledger_transfers_total", kind="tip", status="rejected") == 1
            host = row.host
            assert _value(samples, "snpd_monitor_polls_total", host=host) == 2
            assert _value(samples, "snpd_monitor_poll_errors_total", host=host) == 1
            stats = engine.service(Delivery).worker.stats
            assert _value(samples, "snpd_deliveries_total", outcome="sent") == stats.sent >= 1
            assert _value(samples, "snpd_deliveries_total", outcome="retried") == stats.retried >= 1
            for outcome_name in ("dead_lettered", "in_doubt"):
                assert ("snpd_deliveries_total", (("outcome", outcome_name),)) in samples

            status, content_type, health = await _get(server, "/healthz")
            assert status == 200 and content_type == "application/json"
            assert health == {
                "healthy": True,
                "frontends": {"telegram": "connected"},
                "database": "ok",
                "scheduler": "running",
            }

            await engine.scheduler.stop()
            status, _content_type, health = await _get(server, "/healthz")
            assert status == 503 and health["healthy"] is False and health["scheduler"] == "stopped"
    finally:
        await store.stop()


async def test_each_engine_counts_alone(make_config: Any) -> None:
    """Two engines in one process never share counters (no global registry)."""
    first, second = build_engine(make_config()), build_engine(make_config())
    first.metrics.command("ping", "ok")
    assert b'snpd_commands_total{command="ping",outcome="ok"} 1.0' in first.metrics.render()[0]
    assert b"snpd_commands_total{" not in second.metrics.render()[0]


@pytest.fixture
async def loopback_engine(make_config: Any) -> AsyncIterator[Engine]:
    """A started engine on SQLite whose ops server would take any free port."""
    engine = build_engine(make_config(ops={"enabled": True, "port": 0}))
    await engine.start()
    yield engine
    await engine.stop()


async def test_a_frontend_not_attached_yet_is_starting_and_unhealthy(loopback_engine: Engine) -> None:
    async with _serving(OpsServer(loopback_engine, expected_frontends=["discord"])) as server:
        status, _content_type, health = await _get(server, "/healthz")
    assert status == 503
    assert health["frontends"] == {"discord": "starting"} and health["database"] == "ok"


async def test_a_port_in_use_is_one_clear_error(loopback_engine: Engine, make_config: Any) -> None:
    async with _serving(OpsServer(loopback_engine)) as taken:
        second = build_engine(make_config(ops={"enabled": True, "port": taken.port}))
        with pytest.raises(OpsStartError, match=rf"\[ops\] cannot listen on 127.0.0.1:{taken.port}"):
            await OpsServer(second).start()


class _Proxy:
    """A TCP relay to PostgreSQL that can be pulled like a cable: the database 'dies' for its clients."""

    def __init__(self, port: int) -> None:
        self._upstream = port
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._upstream)
        self._writers += [writer, up_writer]

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def pull(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()


async def test_a_dead_database_makes_healthz_503(make_config: Any, postgres_available: bool) -> None:
    if not postgres_available:
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    proxy = _Proxy(5432)
    await proxy.start()
    url = POSTGRES_URL.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    engine = build_engine(make_config(ops={"port": 0}), db=Database(url))
    engine.scheduler.start()
    try:
        async with _serving(OpsServer(engine)) as server:
            status, _content_type, health = await _get(server, "/healthz")
            assert status == 200 and health["database"] == "ok"
            await proxy.pull()
            status, _content_type, health = await _get(server, "/healthz")
        assert status == 503 and health["healthy"] is False
        assert health["database"].startswith("unreachable: ")
        assert health["scheduler"] == "running"
    finally:
        await engine.scheduler.stop()
        await engine.db.dispose()
