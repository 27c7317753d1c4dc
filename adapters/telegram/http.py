"""PTB's HTTP transport on aiohttp instead of httpx.

Why: a fan-out sends thousands of messages a minute, and httpx with httpcore costs about 2 ms of CPU
per request here (every request re-checks each pooled connection with a socket poll, and headers and
body go out in separate writes); aiohttp does the same request for a fraction of that. PTB keeps
everything above the wire: it builds the parameters, reads the answer and maps Telegram's errors
(``RetryAfter``, ``Forbidden``, ``BadRequest``, ``ChatMigrated``) exactly as before, since those
happen in ``BaseRequest`` around ``do_request``.

The wire format is PTB's own (``telegram/request/_requestdata.py``): parameters form-encoded with
every non-string value JSON-encoded, or ``multipart/form-data`` when a file is uploaded.
"""

from __future__ import annotations

from urllib.parse import urlencode

import aiohttp
import orjson
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import JSONDict, ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

#: PTB's HTTPXRequest defaults, kept so nothing about timing changes with the transport
READ_TIMEOUT_S = 5.0
WRITE_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 5.0
POOL_TIMEOUT_S = 1.0
MEDIA_WRITE_TIMEOUT_S = 20.0
_FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


class AiohttpRequest(BaseRequest):
    """``telegram.request.BaseRequest`` over one ``aiohttp.ClientSession`` (created on ``initialize``)."""

    def __init__(self, connection_pool_size: int = 256) -> None:
        self._pool_size = connection_pool_size
        self._session: aiohttp.ClientSession | None = None

    @staticmethod
    def parse_json_payload(payload: bytes) -> JSONDict:
        """Telegram's answer read with orjson (PTB's documented hook for another JSON library); an
        answer orjson refuses (not UTF-8, not JSON) goes to PTB's own reader, which says so."""
        try:
            parsed = orjson.loads(payload)
        except orjson.JSONDecodeError:
            parsed = None
        return parsed if isinstance(parsed, dict) else BaseRequest.parse_json_payload(payload)

    @property
    def read_timeout(self) -> float | None:
        return READ_TIMEOUT_S

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None:
            await self.initialize()
        assert self._session is not None
        uploads = request_data is not None and request_data.contains_files
        read = _seconds(read_timeout, READ_TIMEOUT_S)
        write = _seconds(write_timeout, MEDIA_WRITE_TIMEOUT_S if uploads else WRITE_TIMEOUT_S)
        connect = _seconds(connect_timeout, CONNECT_TIMEOUT_S)
        pool = _seconds(pool_timeout, POOL_TIMEOUT_S)
        # aiohttp has no separate write timeout: the request may take its write and read time in all.
        # Its ``connect`` covers the wait for a pooled connection *and* opening a new one, so it gets
        # both budgets: ``connect=pool`` alone would cut a new connection off after the pool's 1 s
        timeout = aiohttp.ClientTimeout(
            total=None if read is None or write is None else read + write,
            connect=None if pool is None or connect is None else pool + connect,
            sock_connect=connect,
            sock_read=read,
        )
        body = _body(request_data) if request_data is not None else None
        try:
            headers = _FORM_HEADERS if isinstance(body, bytes) else None
            async with self._session.request(method, url, data=body, headers=headers, timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc


def _seconds(value: ODVInput[float], default: float) -> float | None:
    return default if isinstance(value, DefaultValue) else value


def _body(request_data: RequestData) -> aiohttp.FormData | bytes:
    """Form fields as PTB encodes them, URL-encoded here (the same bytes aiohttp's ``FormData`` would
    write, without building one per request: that was a sixth of each send's CPU in a fan-out);
    files turn the body into multipart."""
    fields = request_data.json_parameters
    if not request_data.contains_files:
        return urlencode(fields).encode()
    form = aiohttp.FormData(fields)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
