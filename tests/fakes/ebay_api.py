"""A local fake of eBay's OAuth token endpoint and Browse API item search, on 127.0.0.1.

Strict where eBay is: the token request needs HTTP Basic client credentials, the
``client_credentials`` grant and the public ``api_scope``; searches need a valid, unexpired Bearer
token and a ``q``; ``limit`` is 1-200. Responses follow the documented shapes (``itemSummaries``
is absent when nothing matched; ``next`` only while more results remain).
"""

from __future__ import annotations

import base64
import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

CLIENT_ID = "SNPDTest-snpd-PRD-0123456789-abcdef01"
CLIENT_SECRET = "PRD-0123456789ab-cdef-0123-4567-89ab"
SCOPE = "https://api.ebay.com/oauth/api_scope"


@dataclass
class Listing:
    item_id: str
    title: str
    price: float
    currency: str = "USD"
    condition: str = "New"


@dataclass
class Calls:
    tokens: int = 0
    searches: int = 0
    rejected_tokens: int = 0
    queries: list[dict[str, str]] = field(default_factory=list)


class FakeEbayAPI:
    def __init__(self, *, token_ttl: int = 7200) -> None:
        self.listings: list[Listing] = []
        self.token_ttl = token_ttl
        self.calls = Calls()
        self.rate_limited = 0
        self._tokens: dict[str, float] = {}
        self._ids = itertools.count(110_000_000_001)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def add_listing(self, title: str, price: float, *, currency: str = "USD", condition: str = "New") -> Listing:
        listing = Listing(f"v1|{next(self._ids)}|0", title, price, currency, condition)
        self.listings.append(listing)
        return listing

    def expire_tokens(self) -> None:
        self._tokens = {token: 0.0 for token in self._tokens}

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/identity/v1/oauth2/token", self._token)
        app.router.add_get("/buy/browse/v1/item_summary/search", self._search)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _token(self, request: web.Request) -> web.Response:
        self.calls.tokens += 1
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.json_response(
                {"error": "invalid_client", "error_description": "client authentication failed"}, status=401
            )
        form = await request.post()
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        if SCOPE not in str(form.get("scope", "")).split():
            return web.json_response({"error": "invalid_scope"}, status=400)
        token = "v^1.1#i^1#p^1#r^0#I^3#f^0#t^" + secrets.token_urlsafe(24)
        self._tokens[token] = time.monotonic() + self.token_ttl
        return web.json_response(
            {"access_token": token, "expires_in": self.token_ttl, "token_type": "Application Access Token"}
        )

    async def _search(self, request: web.Request) -> web.Response:
        self.calls.searches += 1
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if self._tokens.get(token, 0.0) < time.monotonic():
            self.calls.rejected_tokens += 1
            return web.json_response(_error(1001, "Invalid access token"), status=401)
        if self.rate_limited > 0:
            self.rate_limited -= 1
            return web.json_response(_error(2001, "Too many requests"), status=429, headers={"Retry-After": "3"})
        if not request.headers.get("X-EBAY-C-MARKETPLACE-ID"):
            return web.json_response(_error(12001, "X-EBAY-C-MARKETPLACE-ID header is missing"), status=400)
        query = request.query.get("q", "").strip()
        if not query:
            return web.json_response(_error(12001, "The 'q' or 'category_ids' parameter is required"), status=400)
        try:
            limit = int(request.query.get("limit", "50"))
            offset = int(request.query.get("offset", "0"))
        except ValueError:
            return web.json_response(_error(12002, "Invalid limit or offset"), status=400)
        if not 1 <= limit <= 200 or offset < 0:
            return web.json_response(_error(12002, "limit must be 1-200"), status=400)
        self.calls.queries.append(dict(request.query))
        words = query.lower().split()
        found = [item for item in self.listings if all(word in item.title.lower() for word in words)]
        page = found[offset : offset + limit]
        body: dict[str, Any] = {"href": str(request.url), "total": len(found), "limit": limit, "offset": offset}
        if offset + limit < len(found):
            body["next"] = str(request.url.update_query(offset=str(offset + limit)))
        if page:
            body["itemSummaries"] = [
                {
                    "itemId": item.item_id,
                    "title": item.title,
                    "price": {"value": f"{item.price:.2f}", "currency": item.currency},
                    "condition": item.condition,
                    "itemWebUrl": f"https://www.ebay.com/itm/{item.item_id.split('|')[1]}",
                    "image": {"imageUrl": "https://i.ebayimg.com/images/g/x/s-l225.jpg"},
                    "buyingOptions": ["FIXED_PRICE"],
                }
                for item in page
            ]
        return web.json_response(body)


def _error(error_id: int, message: str) -> dict[str, Any]:
    return {"errors": [{"errorId": error_id, "domain": "API_BROWSE", "category": "REQUEST", "message": message}]}
