"""The body size limit counts the bytes actually read, after decompression, while they stream in.

A local aiohttp server sends a 300 MB chunked body generated lazily (no Content-Length) and a
gzip bomb (about 300 KB on the wire, 300 MB inflated). Both must be refused as ``too_large`` soon
after the limit, without the fetcher ever holding much more than the limit in memory.
"""

from __future__ import annotations

import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bot.monitors.sources.http_fetch import FetchError, PoliteFetcher

MB = 1 << 20
HUGE = 300 * MB
_BLOCK = b"[" + b"0," * (MB // 2 - 1) + b"0]"


def _gzip_bomb(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(MB)
    return b"".join(packer.compress(zeros) for _ in range(size // MB)) + packer.flush()


class Flood:
    def __init__(self) -> None:
        self.sent = 0
        self.bomb = _gzip_bomb(HUGE)
        self.runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/chunked", self._chunked)
        app.router.add_get("/bomb", self._bomb)
        app.router.add_get("/small", self._small)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def _chunked(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            while self.sent < HUGE:
                await response.write(_BLOCK)
                self.sent += len(_BLOCK)
        except (ConnectionError, RuntimeError):
            return response
        await response.write_eof()
        return response

    async def _bomb(self, _request: web.Request) -> web.Response:
        return web.Response(body=self.bomb, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})

    async def _small(self, _request: web.Request) -> web.Response:
        body = zlib.compress(b'{"products":[]}' * 1000)
        return web.Response(body=body, headers={"Content-Encoding": "deflate", "Content-Type": "application/json"})


@pytest.fixture
async def flood() -> AsyncIterator[Flood]:
    server = Flood()
    await server.start()
    yield server
    await server.stop()


async def test_a_300_mb_chunked_body_is_cut_off_past_the_limit(flood: Flood) -> None:
    fetcher = PoliteFetcher(timeout_s=60, allow_private=True)
    started = time.monotonic()
    try:
        with pytest.raises(FetchError) as caught:
            await fetcher.get(f"{flood.base_url}/chunked")
    finally:
        await fetcher.close()
    assert caught.value.kind == "too_large" and str(caught.value) == "body over 32 MB"
    assert time.monotonic() - started < 20
    assert flood.sent < 80 * MB, f"the server got to send {flood.sent >> 20} MB"


async def test_a_gzip_bomb_is_refused_with_bounded_memory(flood: Flood) -> None:
    assert len(flood.bomb) < MB
    fetcher = PoliteFetcher(timeout_s=60, allow_private=True, max_bytes=8 * MB)
    tracemalloc.start()
    try:
        with pytest.raises(FetchError) as caught:
            await fetcher.get(f"{flood.base_url}/bomb")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await fetcher.close()
    assert caught.value.kind == "too_large" and str(caught.value) == "body over 8 MB"
    assert peak < 40 * MB, f"peak {peak >> 20} MB while reading an 8 MB-limited body"


async def test_compressed_bodies_under_the_limit_are_read_whole(flood: Flood) -> None:
    fetcher = PoliteFetcher(timeout_s=10, allow_private=True)
    try:
        result = await fetcher.get(f"{flood.base_url}/small")
    finally:
        await fetcher.close()
    assert result.body == b'{"products":[]}' * 1000
