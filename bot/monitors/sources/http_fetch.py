"""Polite HTTP GETs for monitors: conditional requests, a content hash, and typed failures.

The fetcher holds no per-URL state. The caller passes the ``Validators`` it kept from the last good
fetch and gets new ones back, and only stores them once it has processed the body. So a body that
failed to parse (a truncated page) never becomes the baseline a later 304 or hash match points to.

Failures are raised as ``FetchError`` with a ``kind`` the monitor engine maps to health and back-off:
``rate_limited`` (429), ``blocked`` (403, 430), ``server`` (5xx), ``network`` (reset, timeout, DNS),
``http`` (any other unexpected status).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp
from multidict import CIMultiDictProxy

USER_AGENT = "SNPD-monitor/0.1 (+polite; conditional requests)"
RETRY_AFTER_CAP_S = 3600.0


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

    def __init__(self, *, timeout_s: float = 15.0, user_agent: str = USER_AGENT, max_bytes: int = 32 << 20) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=min(timeout_s, 10.0))
        self._user_agent = user_agent
        self._max_bytes = max_bytes
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=64, limit_per_host=4, ttl_dns_cache=300)
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
        try:
            async with self._client().get(url, headers=headers, allow_redirects=True) as response:
                wire = _header_bytes(response.reason, response.headers)
                status = response.status
                redirected = str(response.url) if response.history else None
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
                if (response.content_length or 0) > self._max_bytes:
                    raise FetchError("http", f"body over {self._max_bytes >> 20} MB", status=status)
                body = await response.read()
        except FetchError:
            raise
        except (TimeoutError, aiohttp.ClientError, ConnectionError, OSError) as exc:
            raise FetchError("network", _describe_network(exc)) from None
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


def _status_error(status: int, retry_after: str | None) -> FetchError:
    wait = parse_retry_after(retry_after)
    if status == 429:
        return FetchError("rate_limited", "rate limited (HTTP 429)", status=status, retry_after=wait)
    if status in (430, 403):
        return FetchError("blocked", f"blocked by the store (HTTP {status})", status=status, retry_after=wait)
    return FetchError("server", f"store error (HTTP {status})", status=status, retry_after=wait)


def _describe_network(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "connection cut mid-body"
    if isinstance(exc, aiohttp.ServerDisconnectedError | ConnectionResetError):
        return "connection reset"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect ({exc.os_error.strerror or exc.os_error})"
    return type(exc).__name__
