"""Every request the monitor's browser makes goes through the bot's own guarded HTTP client.

Chromium resolves names itself, so checking a URL and then letting the browser fetch it would leave
a gap (DNS rebinding between the check and the browser's own lookup). Instead the route handler
fetches each request with aiohttp behind ``GuardedResolver`` and fulfils the browser's request with
that answer: the address checked is the address dialled. Images, media and fonts are never fetched;
anything refused, failed or over the size limit is aborted with a generic reason.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import structlog
from aiohttp.abc import AbstractResolver
from yarl import URL

from bot.monitors.sources.netguard import AddressPolicy, BlockedAddress, GuardedResolver, blocked_cause

log = structlog.get_logger(__name__)

BLOCKED_RESOURCES = frozenset({"image", "media", "font"})
#: headers that describe the wire encoding aiohttp already undid, or that the browser sets itself
#: and ``location``, so the browser never follows anything on its own
_DROPPED_HEADERS = frozenset(
    {"content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive", "location"}
)
MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 << 10


class BrowserGate:
    """The route handler for a Playwright context, and the aiohttp session it fetches with."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        timeout_s: float,
        max_bytes: int = 16 << 20,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self.policy = policy
        self._resolver = resolver
        self.max_bytes = max_bytes
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self.refused = 0

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=16, resolver=GuardedResolver(self.policy, self._resolver))
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout, cookie_jar=None)
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def handle(self, route: Any) -> None:
        """Playwright route callback: fetch through the guard and fulfil, or abort."""
        request = route.request
        if request.resource_type in BLOCKED_RESOURCES:
            await route.abort()
            return
        try:
            headers = {k: v for k, v in (await request.all_headers()).items() if not k.startswith(":")}
            status, kept, body = await self._fetch(request.method, request.url, headers, request.post_data_buffer)
        except BlockedAddress:
            self.refused += 1
            await route.abort("blockedbyclient")
            return
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
            if blocked_cause(exc) is not None:
                self.refused += 1
                await route.abort("blockedbyclient")
                return
            log.info("page_watch.request_failed", error=repr(exc))
            await route.abort("failed")
            return
        await route.fulfill(status=status, headers=kept, body=body)

    async def _fetch(
        self, method: str, url: str, headers: dict[str, str], data: bytes | None
    ) -> tuple[int, dict[str, str], bytes]:
        """Follow redirects here, checking each hop: chromium would follow a fulfilled redirect by
        itself, outside the route, so the browser is only ever handed a final answer."""
        current = URL(url, encoded=True)
        for _hop in range(MAX_REDIRECTS + 1):
            self.policy.check_url(current)
            async with self._client().request(
                method, current, headers=headers, data=data, allow_redirects=False
            ) as response:
                location = response.headers.get("Location")
                if response.status in REDIRECTS and location:
                    current = response.url.join(URL(location))
                    if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                        method, data = "GET", None
                    continue
                body = await self._read(response)
                kept = {k: v for k, v in response.headers.items() if k.lower() not in _DROPPED_HEADERS}
                return response.status, kept, body
        raise aiohttp.ClientError(f"more than {MAX_REDIRECTS} redirects")

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        parts: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if size > self.max_bytes:
                raise aiohttp.ClientPayloadError("response over the size limit")
            parts.append(chunk)
        return b"".join(parts)
