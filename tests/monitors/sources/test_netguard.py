"""Monitors reach only public addresses: literals, names, every redirect hop, every connection.

The fetcher talks to real local aiohttp servers. DNS is the one edge faked here (``StaticDns``, an
aiohttp resolver answering from a table), so names like ``shop.test`` can point at loopback without
leaving the machine. The conftest network guard fails any test that dials a non-loopback address,
so an address that reached ``connect()`` before being refused would fail these tests too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.monitors.probe import probe_shopify, shopify_target
from bot.monitors.sources.http_fetch import FetchError, PoliteFetcher
from bot.monitors.sources.netguard import AddressPolicy, BlockedAddress, ip_literal, is_public
from core.errors import UserError


class StaticDns(AbstractResolver):
    """DNS answers from a table; each lookup is counted so a test can see the guard ran per connection."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.lookups: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.lookups.append(host)
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": 0,
            }
            for address in self.table[host]
        ]

    async def close(self) -> None:
        return None


class Site:
    """A loopback web server: a product list, a secret page, redirects, and a port that isn't HTTP."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.redirect_to = ""
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/products.json", self._products)
        app.router.add_get("/secret", self._secret)
        app.router.add_get("/hop", self._hop)
        app.router.add_get("/loop", self._loop)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def _products(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        return web.json_response({"products": []})

    async def _secret(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        return web.json_response({"products": [], "secret": "db password"})

    async def _hop(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        raise web.HTTPFound(self.redirect_to)

    async def _loop(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        raise web.HTTPFound("/loop")


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    local = Site()
    await local.start()
    yield local
    await local.stop()


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "2002:7f00:1::",
        "2002:a9fe:a9fe::1",
        "64:ff9b::a00:1",
        "::7f00:1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        "ff02::1",
    ],
)
def test_non_public_addresses(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:1.1.1.1"])
def test_public_addresses(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("host", ["0x7f.1", "2130706433", "0177.0.0.1", "127.1", "0x7f000001", "10.1"])
def test_legacy_ipv4_spellings_are_refused(host: str) -> None:
    with pytest.raises(BlockedAddress):
        ip_literal(host)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.7/products.json",
        "http://127.0.0.1:5432/",
        "http://0x7f.1:5432/",
        "http://2130706433:5432/",
        "http://[::1]:5432/",
        "http://[::ffff:127.0.0.1]:5432/",
        "http://[::ffff:7f00:1]:5432/",
        "http://[2002:7f00:1::]:5432/",
        "ftp://kith.com/products.json",
    ],
)
async def test_literal_internal_addresses_are_refused_before_dialling(url: str) -> None:
    fetcher = PoliteFetcher(timeout_s=3)
    try:
        with pytest.raises(FetchError) as caught:
            await fetcher.get(url)
    finally:
        await fetcher.close()
    assert caught.value.kind == "refused" and str(caught.value) == "not a public internet address"


async def test_names_that_resolve_inside_are_refused_at_connect_time(site: Site) -> None:
    dns = StaticDns(
        {
            "metadata.google.internal": ["169.254.169.254"],
            "shop.test": ["127.0.0.1"],
            "mixed.test": ["10.0.0.1", "::1"],
        }
    )
    fetcher = PoliteFetcher(timeout_s=3, resolver=dns)
    try:
        for host in ("metadata.google.internal", "mixed.test", "shop.test"):
            with pytest.raises(FetchError) as caught:
                await fetcher.get(f"http://{host}:{site.port}/secret")
            assert caught.value.kind == "refused"
    finally:
        await fetcher.close()
    assert "shop.test" in dns.lookups and site.hits == []


async def test_the_resolver_is_what_the_connector_dials(site: Site) -> None:
    """Only with loopback allowed does the same name reach the server: the guard sits in the connector."""
    dns = StaticDns({"shop.test": ["127.0.0.1"]})
    fetcher = PoliteFetcher(timeout_s=3, resolver=dns, allow_private=True)
    try:
        result = await fetcher.get(f"http://shop.test:{site.port}/products.json")
    finally:
        await fetcher.close()
    assert result.status == 200 and site.hits == ["/products.json"] and dns.lookups == ["shop.test"]


async def test_a_name_that_rebinds_to_loopback_is_refused_on_the_next_connection(site: Site) -> None:
    """First answer allowed, second answer loopback: each new connection asks the guard again."""
    dns = StaticDns({"shop.test": ["127.0.0.1"]})
    fetcher = PoliteFetcher(timeout_s=3, resolver=dns, also_allow=("127.0.0.1/32",))
    try:
        first = await fetcher.get(f"http://shop.test:{site.port}/products.json")
        assert first.status == 200
        dns.table["shop.test"] = ["127.0.0.2"]
        fetcher._client().connector.clear_dns_cache()  # type: ignore[union-attr]
        await fetcher._client().connector.close()  # type: ignore[union-attr]
        with pytest.raises(FetchError) as caught:
            await fetcher.get(f"http://shop.test:{site.port}/secret")
    finally:
        await fetcher.close()
    assert caught.value.kind == "refused" and site.hits == ["/products.json"]


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.2]:{port}/secret",
        "http://127.0.0.2:{port}/secret",
        "http://0x7f.2:{port}/secret",
        "file:///etc/passwd",
    ],
)
async def test_every_redirect_hop_is_checked(site: Site, target: str) -> None:
    site.redirect_to = target.format(port=site.port)
    fetcher = PoliteFetcher(timeout_s=3, also_allow=("127.0.0.1/32",))
    try:
        with pytest.raises(FetchError) as caught:
            await fetcher.get(f"http://127.0.0.1:{site.port}/hop")
    finally:
        await fetcher.close()
    assert caught.value.kind == "refused" and site.hits == ["/hop"]


async def test_redirects_are_followed_a_few_hops_only(site: Site) -> None:
    fetcher = PoliteFetcher(timeout_s=3, also_allow=("127.0.0.1/32",))
    try:
        with pytest.raises(FetchError, match="more than 5 redirects"):
            await fetcher.get(f"http://127.0.0.1:{site.port}/loop")
        site.redirect_to = f"http://127.0.0.1:{site.port}/products.json"
        result = await fetcher.get(f"http://127.0.0.1:{site.port}/hop")
    finally:
        await fetcher.close()
    assert site.hits.count("/loop") == 6
    assert result.status == 200 and result.redirected_to == f"http://127.0.0.1:{site.port}/products.json"


async def _not_http_server() -> tuple[asyncio.Server, int]:
    async def speak(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(speak, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_closed_and_non_http_ports_look_the_same(site: Site) -> None:
    server, other = await _not_http_server()
    fetcher = PoliteFetcher(timeout_s=3, also_allow=("127.0.0.1/32",))
    seen: list[tuple[str, str]] = []
    try:
        for port in (_closed_port(), other):
            with pytest.raises(FetchError) as caught:
                await fetcher.get(f"http://127.0.0.1:{port}/products.json")
            seen.append((caught.value.kind, str(caught.value)))
    finally:
        await fetcher.close()
        server.close()
        await server.wait_closed()
    assert seen == [("network", "no answer"), ("network", "no answer")]


async def test_monitor_add_says_only_that_the_address_is_not_public() -> None:
    fetcher = PoliteFetcher(timeout_s=3)
    try:
        with pytest.raises(UserError) as caught:
            await probe_shopify(fetcher, shopify_target("http://127.0.0.1:5432/"))
    finally:
        await fetcher.close()
    assert str(caught.value) == "127.0.0.1:5432 is not a public internet address; monitors only watch public stores."


def test_policy_allows_private_only_when_told() -> None:
    assert not AddressPolicy.build().permits("127.0.0.1")
    assert AddressPolicy.build(allow_private=True).permits("127.0.0.1")
    narrow: Any = AddressPolicy.build(also_allow=("127.0.0.1/32",))
    assert narrow.permits("127.0.0.1") and not narrow.permits("127.0.0.2")
