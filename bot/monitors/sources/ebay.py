"""eBay's public Browse API as a resale source: current listings (asking prices) for a search.

Auth is the client-credentials grant ("application access token"): the app's id and secret buy a
token good for about two hours, which is cached and renewed a minute early, or at once when eBay
says it is no longer valid. Credentials come from ``EBAY_CLIENT_ID`` / ``EBAY_CLIENT_SECRET``.

Docs: https://developer.ebay.com/api-docs/buy/browse/resources/item_summary/methods/search and
https://developer.ebay.com/api-docs/static/oauth-client-credentials-grant.html
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp

from bot.monitors.sources.http_fetch import parse_retry_after
from bot.monitors.sources.resale import PriceObservation

DEFAULT_API = "https://api.ebay.com"
SCOPE = "https://api.ebay.com/oauth/api_scope"
PAGE_MAX = 200
_SIZE = re.compile(r"\b(?:size|sz|us|men'?s|mens|women'?s|wmns)\s*:?\s*(\d{1,2}(?:\.5)?)\b", re.IGNORECASE)


class EbayError(Exception):
    def __init__(self, kind: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


def size_from_title(title: str) -> str | None:
    match = _SIZE.search(title)
    return match.group(1) if match else None


class EbayBrowse:
    name = "ebay"

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        api_base: str = DEFAULT_API,
        marketplace: str = "EBAY_US",
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = 15.0,
    ) -> None:
        if not client_id or not client_secret:
            raise EbayError("config", "eBay needs EBAY_CLIENT_ID and EBAY_CLIENT_SECRET in the environment")
        self._basic = "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self.api_base = (api_base or DEFAULT_API).rstrip("/")
        self.marketplace = marketplace
        self._session = session
        self._owns_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._token: str | None = None
        self._token_expires = 0.0

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._owns_session = True
        return self._session

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()

    async def token(self, *, renew: bool = False) -> str:
        if self._token and not renew and time.monotonic() < self._token_expires:
            return self._token
        data = {"grant_type": "client_credentials", "scope": SCOPE}
        try:
            async with self._client().post(
                f"{self.api_base}/identity/v1/oauth2/token", data=data, headers={"Authorization": self._basic}
            ) as response:
                body = await response.json(content_type=None)
                if response.status != 200:
                    reason = body.get("error_description") or body.get("error") if isinstance(body, dict) else None
                    raise EbayError("auth", f"eBay refused the app credentials: {reason or response.status}")
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise EbayError("network", f"eBay token request failed: {type(exc).__name__}") from None
        self._token = str(body["access_token"])
        self._token_expires = time.monotonic() + max(60.0, float(body.get("expires_in", 7200)) - 60.0)
        return self._token

    async def observations(
        self, query: str | None = None, *, size: str | None = None, limit: int | None = None
    ) -> AsyncIterator[PriceObservation]:
        """Listings matching ``query`` (plus ``size`` when given), newest result pages first."""
        if not query or not query.strip():
            raise EbayError("query", "eBay needs something to search for")
        wanted = limit or 50
        search = f"{query.strip()} size {size}" if size else query.strip()
        offset = 0
        observed_at = datetime.now(UTC)
        while offset < wanted:
            page = await self._search(search, limit=min(PAGE_MAX, wanted - offset), offset=offset)
            items = page.get("itemSummaries") or []
            for item in items:
                observation = self._observation(item, query.strip(), observed_at)
                if observation is not None:
                    yield observation
            offset += len(items)
            if not items or not page.get("next") or offset >= int(page.get("total", 0)):
                return

    async def _search(self, q: str, *, limit: int, offset: int) -> dict[str, Any]:
        params = {"q": q, "limit": str(limit), "offset": str(offset)}
        for attempt in (1, 2):
            headers = {
                "Authorization": f"Bearer {await self.token(renew=attempt == 2)}",
                "X-EBAY-C-MARKETPLACE-ID": self.marketplace,
            }
            try:
                async with self._client().get(
                    f"{self.api_base}/buy/browse/v1/item_summary/search", params=params, headers=headers
                ) as response:
                    if response.status == 401 and attempt == 1:
                        continue
                    if response.status == 429:
                        raise EbayError(
                            "rate_limited",
                            "eBay rate limit reached",
                            retry_after=parse_retry_after(response.headers.get("Retry-After")),
                        )
                    body = await response.json(content_type=None)
                    if response.status != 200:
                        raise EbayError("http", f"eBay search failed: {_first_error(body) or response.status}")
                    return body if isinstance(body, dict) else {}
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                raise EbayError("network", f"eBay search failed: {type(exc).__name__}") from None
        raise EbayError("auth", "eBay keeps rejecting fresh tokens")

    def _observation(self, item: dict[str, Any], query: str, observed_at: datetime) -> PriceObservation | None:
        price = item.get("price") or {}
        try:
            value = float(str(price.get("value")))
        except ValueError:
            return None
        title = str(item.get("title") or "")
        item_id = str(item.get("itemId") or "")
        if not item_id or value <= 0:
            return None
        return PriceObservation(
            observed_at=observed_at,
            source=self.name,
            kind="listing",
            product=title[:300],
            price=value,
            # one row per listing and price: re-reading an unchanged listing adds nothing
            external_id=f"{item_id}@{value:.2f}"[:120],
            currency=str(price.get("currency") or "USD")[:3],
            size=size_from_title(title),
            url=item.get("itemWebUrl"),
            extra={"query": query, "condition": item.get("condition"), "item_id": item_id},
        )


def _first_error(body: Any) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
        return str(body["errors"][0].get("message"))
    return None
