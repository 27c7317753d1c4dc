"""The monitor's browser reaches only what the address policy permits, for every request it makes.

Real Debian chromium through Playwright against local aiohttp servers: a "store" on 127.0.0.1 (let
in with ``also_allow``) and an "internal" service on 127.0.0.2 that must never be reached, neither by
the page's own scripts, nor by a redirect, nor by a name that re-resolves. DNS is the faked edge.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.monitors.sources.page_watch import PageWatcher, PageWatchError, chromium_missing
from tests.monitors.sources.test_netguard import StaticDns

MISSING = chromium_missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=f"chromium unavailable: {MISSING}")

STORE_ONLY = ("127.0.0.1/32",)

# The page pulls a script from the internal service; that script would name the product after the secret.
PAGE = """<!DOCTYPE html><html><head><title>Sneaker</title>
<script type="application/ld+json">{"@context":"https://schema.org","@type":"Product","name":"Sneaker",
"offers":{"@type":"Offer","price":"120.00","priceCurrency":"USD","availability":"https://schema.org/InStock"}}
</script><script src="INTERNAL/leak.js"></script></head><body>Sneaker</body></html>"""
LEAK_JS = """const s = document.querySelector('script[type="application/ld+json"]');
const d = JSON.parse(s.textContent); d.name = 'SECRET-FROM-INSIDE'; s.textContent = JSON.stringify(d);"""


class Servers:
    def __init__(self) -> None:
        self.store_hits: list[str] = []
        self.internal_hits: list[str] = []
        self.runners: list[web.AppRunner] = []
        self.store_port = 0
        self.internal_port = 0

    async def _serve(self, app: web.Application, host: str) -> int:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, 0)
        await site.start()
        self.runners.append(runner)
        port: int = runner.addresses[0][1]
        return port

    async def start(self) -> None:
        internal = web.Application()
        internal.router.add_get("/{tail:.*}", self._internal)
        self.internal_port = await self._serve(internal, "127.0.0.2")
        store = web.Application()
        store.router.add_get("/p", self._page)
        store.router.add_get("/away", self._away)
        store.router.add_get("/socket", self._socket)
        self.store_port = await self._serve(store, "127.0.0.1")

    async def stop(self) -> None:
        for runner in self.runners:
            await runner.cleanup()

    @property
    def internal(self) -> str:
        return f"http://127.0.0.2:{self.internal_port}"

    async def _page(self, request: web.Request) -> web.Response:
        self.store_hits.append(request.path)
        return web.Response(text=PAGE.replace("INTERNAL", self.internal), content_type="text/html")

    async def _away(self, request: web.Request) -> web.Response:
        self.store_hits.append(request.path)
        raise web.HTTPFound(f"{self.internal}/admin")

    async def _socket(self, request: web.Request) -> web.Response:
        self.store_hits.append(request.path)
        script = f"<script>new WebSocket('ws://127.0.0.2:{self.internal_port}/ws');</script>"
        return web.Response(
            text=PAGE.replace("INTERNAL", self.internal).replace("</body>", script + "</body>"),
            content_type="text/html",
        )

    async def _internal(self, request: web.Request) -> web.Response:
        self.internal_hits.append(request.path)
        return web.Response(text=LEAK_JS, content_type="application/javascript")


@pytest.fixture
async def servers() -> AsyncIterator[Servers]:
    both = Servers()
    await both.start()
    yield both
    await both.stop()


async def test_a_pages_own_requests_to_internal_addresses_are_aborted(servers: Servers) -> None:
    watcher = PageWatcher(timeout_s=15, settle_s=0.5, also_allow=STORE_ONLY)
    try:
        snapshot = await watcher.snapshot(f"http://127.0.0.1:{servers.store_port}/p")
    finally:
        await watcher.close()
    assert snapshot.title == "Sneaker" and [o.price for o in snapshot.offers] == [120.0]
    assert servers.internal_hits == [] and servers.store_hits == ["/p"]


@pytest.mark.parametrize("path", ["direct", "/away"])
async def test_internal_pages_and_redirects_to_them_are_refused(servers: Servers, path: str) -> None:
    url = f"{servers.internal}/admin" if path == "direct" else f"http://127.0.0.1:{servers.store_port}{path}"
    watcher = PageWatcher(timeout_s=15, settle_s=0.5, also_allow=STORE_ONLY)
    try:
        with pytest.raises(PageWatchError) as caught:
            await watcher.snapshot(url)
    finally:
        await watcher.close()
    assert (caught.value.kind, str(caught.value)) == ("network", "not a public internet address")
    assert servers.internal_hits == []


async def test_browser_lookups_go_through_the_guard_so_rebinding_fails(servers: Servers) -> None:
    """chromium can't resolve ``shop.test`` itself: the page loads only because the guard fetched it."""
    dns = StaticDns({"shop.test": ["127.0.0.1"]})
    watcher = PageWatcher(timeout_s=15, settle_s=0.5, also_allow=STORE_ONLY, resolver=dns)
    try:
        first = await watcher.snapshot(f"http://shop.test:{servers.store_port}/p")
        dns.table["shop.test"] = ["127.0.0.2"]
        await watcher.gate.close()  # a new connection, as after the DNS cache expires
        with pytest.raises(PageWatchError, match="not a public internet address"):
            await watcher.snapshot(f"http://shop.test:{servers.internal_port}/p")
    finally:
        await watcher.close()
    assert first.title == "Sneaker" and servers.internal_hits == [] and "shop.test" in dns.lookups


async def test_what_escapes_route_interception_meets_a_dead_proxy(servers: Servers) -> None:
    watcher = PageWatcher(timeout_s=15, settle_s=1.0, also_allow=STORE_ONLY)
    try:
        snapshot = await watcher.snapshot(f"http://127.0.0.1:{servers.store_port}/socket")
    finally:
        await watcher.close()
    assert snapshot.title == "Sneaker" and servers.internal_hits == []


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_closed_and_non_http_ports_give_the_same_error() -> None:
    import asyncio

    async def ssh(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(ssh, "127.0.0.1", 0)
    other = server.sockets[0].getsockname()[1]
    watcher = PageWatcher(timeout_s=5, settle_s=0.2, also_allow=STORE_ONLY)
    messages = []
    try:
        for port in (_closed_port(), other):
            with pytest.raises(PageWatchError) as caught:
                await watcher.snapshot(f"http://127.0.0.1:{port}/")
            messages.append(str(caught.value))
    finally:
        await watcher.close()
        server.close()
        await server.wait_closed()
    assert messages == ["the page did not load", "the page did not load"]


def _browser_uids() -> set[int]:
    uids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            status = (entry / "status").read_text()
        except OSError:
            continue
        if b"chromium" in command and b"--remote-debugging-pipe" in command:
            uids.add(int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1]))
    return uids


@pytest.mark.skipif(os.geteuid() != 0, reason="the unprivileged-user launcher is for a bot running as root")
async def test_as_root_chromium_runs_sandboxed_as_the_chromium_user(servers: Servers) -> None:
    watcher = PageWatcher(timeout_s=15, settle_s=0.5, also_allow=STORE_ONLY, chromium_user="nobody")
    try:
        snapshot = await watcher.snapshot(f"http://127.0.0.1:{servers.store_port}/p")
        uids = _browser_uids()
    finally:
        await watcher.close()
    assert snapshot.title == "Sneaker" and watcher.sandboxed
    assert uids == {65534}, uids


@pytest.mark.skipif(os.geteuid() == 0, reason="as root chromium only has a sandbox with chromium_user")
async def test_not_root_chromium_keeps_its_sandbox(servers: Servers) -> None:
    watcher = PageWatcher(timeout_s=15, settle_s=0.5, also_allow=STORE_ONLY)
    try:
        await watcher.snapshot(f"http://127.0.0.1:{servers.store_port}/p")
    finally:
        await watcher.close()
    assert watcher.sandboxed
