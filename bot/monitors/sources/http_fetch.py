"""Polite HTTP GETs for monitors: conditional requests, a content hash, and typed failures.

The fetcher holds no per-URL state. The caller passes the ``Validators`` it kept from the last good
fetch and gets new ones back, and only stores them once it has processed the body. So a body that
failed to parse (a truncated page) never becomes the baseline a later 304 or hash match points to.

Failures are raised as ``FetchError`` with a ``kind`` the monitor engine maps to health and back-off:
``rate_limited`` (429), ``blocked`` (403, 430), ``server`` (5xx), ``network`` (reset, timeout, DNS),
``http`` (any other unexpected status), ``too_large`` (a body past the size limit, counted after
decompression while it streams in), ``refused`` (the host is not a public address; see ``netguard``).

Redirects are followed here, not by aiohttp, so every hop's host is checked before it is dialled.
Network failures read "no answer" (or "timed out", which the caller can time anyway): a caller must
not learn whether a port was closed or spoke something other than HTTP.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp
import structlog
from aiohttp.abc import AbstractResolver
from multidict import CIMultiDictProxy
from yarl import URL

from bot.monitors.sources.netguard import REFUSED, AddressPolicy, BlockedAddress, GuardedResolver, blocked_cause

log = structlog.get_logger(__name__)

USER_AGENT = "SNPD-monitor/0.1 (+polite; conditional requests)"
RETRY_AFTER_CAP_S = 3600.0
MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)
_CHUNK = 64 << 10


@dataclass(frozen=True)
class Validators:
    """What we remember of the last good body at a URL."""

    etag: str | None = None
    last_modified: str | None = None
    body_hash: bytes | None = None
    body_size: int = 0


@dataclass(frozen=True)
class FetchResult:
    url: str
    status: int
    #: ``None`` when nothing new came: a 304, or a body whose hash matches the last good one
    body: bytes | None
    content_type: str
    validators: Validators
    not_modified: bool
    unchanged: bool
    #: bytes that crossed the wire for this response (body plus an estimate of the headers)
    wire_bytes: int
    redirected_to: str | None = None

    @property
    def fresh(self) -> bool:
        return self.body is not None


class FetchError(Exception):
    def __init__(self, kind: str, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after


def body_hash(body: bytes) -> bytes:
    return hashlib.blake2b(body, digest_size=16).digest()


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date. Capped at an hour."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, min(seconds, RETRY_AFTER_CAP_S))


def _strong_last_modified(headers: CIMultiDictProxy[str]) -> str | None:
    """RFC 9110 8.8.2.2: a Last-Modified within a second of Date may hide a later change in the
    same second, so it is not safe to revalidate with; only use it when it is clearly older."""
    modified = headers.get("Last-Modified")
    if not modified:
        return None
    date = headers.get("Date")
    try:
        modified_at = parsedate_to_datetime(modified)
        date_at = parsedate_to_datetime(date) if date else datetime.now(UTC)
    except (TypeError, ValueError):
        return None
    if modified_at.tzinfo is None:
        modified_at = modified_at.replace(tzinfo=UTC)
    if date_at.tzinfo is None:
        date_at = date_at.replace(tzinfo=UTC)
    return modified if (date_at - modified_at).total_seconds() >= 1.0 else None


def _header_bytes(status_reason: str | None, headers: CIMultiDictProxy[str]) -> int:
    return 17 + len(status_reason or "") + sum(len(k) + len(v) + 4 for k, v in headers.items())


class PoliteFetcher:
    """One aiohttp session, created lazily, shared by every monitor of the process."""

    def __init__(
        self,
        *,
        timeout_s: float = 15.0,
        user_agent: str = USER_AGENT,
        max_bytes: int = 32 << 20,
        allow_private: bool = False,
        also_allow: tuple[str, ...] = (),
        max_redirects: int = MAX_REDIRECTS,
        resolver: AbstractResolver | None = None,
    ) -> None:
        """``allow_private`` lets monitors reach loopback and private networks (demo, tests);
        ``also_allow`` names extra networks; ``resolver`` is the DNS lookup the guard wraps."""
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=min(timeout_s, 10.0))
        self._user_agent = user_agent
        self._max_bytes = max_bytes
        self.policy = AddressPolicy.build(allow_private, also_allow)
        self._resolver = resolver
        self._max_redirects = max_redirects
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=64,
                limit_per_host=4,
                ttl_dns_cache=300,
                resolver=GuardedResolver(self.policy, self._resolver),
            )
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, headers={"User-Agent": self._user_agent}
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def get(
        self, url: str, previous: Validators | None = None, *, accept: str = "application/json"
    ) -> FetchResult:
        headers = {"Accept": accept}
        if previous is not None:
            if previous.etag:
                headers["If-None-Match"] = previous.etag
            if previous.last_modified:
                headers["If-Modified-Since"] = previous.last_modified
        current = URL(url)
        wire = 0
        for _hop in range(self._max_redirects + 1):
            try:
                self.policy.check_url(current)
                async with self._client().get(current, headers=headers, allow_redirects=False) as response:
                    wire += _header_bytes(response.reason, response.headers)
                    location = response.headers.get("Location")
                    if response.status in _REDIRECTS and location:
                        current = response.url.join(URL(location))
                        continue
                    return await self._finish(
                        url, response, previous, wire, str(current) if current != URL(url) else None
                    )
            except FetchError:
                raise
            except BlockedAddress:
                raise FetchError("refused", REFUSED) from None
            except (TimeoutError, aiohttp.ClientError, ConnectionError, OSError, ValueError) as exc:
                if blocked_cause(exc) is not None:
                    raise FetchError("refused", REFUSED) from None
                log.info("fetch.network_error", host=current.host, error=repr(exc))
                raise FetchError("network", "timed out" if isinstance(exc, TimeoutError) else "no answer") from None
        raise FetchError("http", f"more than {self._max_redirects} redirects")

    async def _finish(
        self,
        url: str,
        response: aiohttp.ClientResponse,
        previous: Validators | None,
        wire: int,
        redirected: str | None,
    ) -> FetchResult:
        status = response.status
        if status == 304 and previous is not None:
            return FetchResult(
                url,
                status,
                None,
                "",
                previous,
                not_modified=True,
                unchanged=True,
                wire_bytes=wire,
                redirected_to=redirected,
            )
        if status in (429, 430, 403) or status >= 500:
            raise _status_error(status, response.headers.get("Retry-After"))
        if status != 200:
            raise FetchError("http", f"HTTP {status} from {response.url.host}", status=status)
        body = await self._read_capped(response)
        digest = body_hash(body)
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        fresh = Validators(
            etag=response.headers.get("ETag"),
            last_modified=_strong_last_modified(response.headers),
            body_hash=digest,
            body_size=len(body),
        )
        unchanged = previous is not None and previous.body_hash == digest
        return FetchResult(
            url,
            status,
            None if unchanged else body,
            content_type,
            fresh,
            not_modified=False,
            unchanged=unchanged,
            wire_bytes=wire + len(body),
            redirected_to=redirected,
        )

    async def _read_capped(self, response: aiohttp.ClientResponse) -> bytes:
        """The body as decoded (decompressed) bytes, refused as soon as it passes ``max_bytes``: a
        chunked or compressed body has no trustworthy length up front."""
        too_large = FetchError("too_large", f"body over {self._max_bytes >> 20} MB", status=response.status)
        if (response.content_length or 0) > self._max_bytes:
            raise too_large
        parts: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if size > self._max_bytes:
                response.close()
                raise too_large
            parts.append(chunk)
        return b"".join(parts)


def _status_error(status: int, retry_after: str | None) -> FetchError:
    wait = parse_retry_after(retry_after)
    if status == 429:
        return FetchError("rate_limited", "rate limited (HTTP 429)", status=status, retry_after=wait)
    if status in (430, 403):
        return FetchError("blocked", f"blocked by the store (HTTP {status})", status=status, retry_after=wait)
    return FetchError("server", f"store error (HTTP {status})", status=status, retry_after=wait)
