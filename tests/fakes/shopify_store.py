"""A local Shopify-like storefront on 127.0.0.1, for tests, the demo and the benchmark.

It speaks the parts of the storefront protocol monitors use, the way Shopify does:

- ``/products.json?limit=N&page=P`` (limit capped at 250, an empty ``products`` list past the end),
  also under ``/collections/HANDLE/products.json`` (``all``, or products tagged HANDLE);
- ``/products/HANDLE.js`` (prices in cents, images as protocol-relative URLs) and 404 for unknown handles;
- ``/meta.json`` (store name and currency), ``/cart/VARIANT:1`` (so cart links resolve in the demo);
- a password page: while on, every storefront path redirects (302) to ``/password``;
- ``ETag`` (a hash of the body) and ``Last-Modified`` validators, each switchable, answering 304;
- fault injection: 429 (with ``Retry-After``), 430, 403, 5xx, a captcha page, HTML instead of JSON,
  truncated JSON, a connection reset before or during the body, and slow answers;
- scripted drops (products appear, sizes restock and sell out, prices move, the password goes up).

It can run in-process (tests) or as its own process (``python -m tests.fakes.shopify_store``), where
``/_admin/*`` endpoints drive the same changes over HTTP (the benchmark measures detection that way).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import random
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from typing import Any

import orjson
from aiohttp import web

JSON = dict[str, Any]

MAX_LIMIT = 250
DEFAULT_LIMIT = 30
SHOE_SIZES = ("7", "7.5", "8", "8.5", "9", "9.5", "10", "10.5", "11", "11.5", "12", "13")
FAULT_KINDS = (
    "429",
    "430",
    "403",
    "500",
    "502",
    "503",
    "captcha",
    "html",
    "truncated",
    "reset",
    "reset_body",
    "slow",
)

_CAPTCHA_PAGE = (
    b"<!DOCTYPE html><html><head><title>Challenge</title></head><body class='challenge'>"
    b"<h1>Verify you are human</h1><div class='g-recaptcha' data-sitekey='x'></div>"
    b"<form action='/challenge' method='post'></form></body></html>"
)
_HOME_PAGE = (
    b"<!DOCTYPE html><html><head><title>Fake Kicks</title>"
    b"<script>window.Shopify = {shop: 'fake-kicks.myshopify.com'};</script></head>"
    b"<body class='template-index'><h1>Fake Kicks</h1></body></html>"
)
_PASSWORD_PAGE = (
    b"<!DOCTYPE html><html><head><title>Opening soon</title></head><body class='template-password'>"
    b"<h1>Opening soon</h1><form method='post' action='/password'><input type='password' name='password'>"
    b"</form></body></html>"
)


@dataclass
class Fault:
    kind: str
    times: int = 1
    #: the fault hits requests whose path starts with this
    path: str = "/"
    retry_after: str | None = None
    delay: float = 0.0
    #: matching requests to let through before the fault starts (``after=1``: page 2 of a listing)
    after: int = 0


@dataclass
class Stats:
    requests: int = 0
    not_modified: int = 0
    body_bytes: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    paths: dict[str, int] = field(default_factory=dict)


class FakeShopifyStore:
    """In-memory catalogue plus an aiohttp server. Every mutator bumps ``version`` and ``changed_at``."""

    def __init__(
        self,
        *,
        name: str = "Fake Kicks",
        currency: str = "USD",
        etag: bool = True,
        last_modified: bool = True,
        body_html_chars: int = 300,
        seed: int = 7,
    ) -> None:
        self.name = name
        self.currency = currency
        self.etag = etag
        self.last_modified = last_modified
        self.password = False
        self.products: list[JSON] = []
        self.version = 0
        self.changed_at = time.time()
        self.faults: list[Fault] = []
        self.stats = Stats()
        self._body_html_chars = body_html_chars
        self._rng = random.Random(seed)
        self._product_ids = itertools.count(7_000_000_000_001)
        self._variant_ids = itertools.count(40_000_000_000_001)
        self._image_ids = itertools.count(30_000_000_001)
        self._pages: dict[tuple[int, str, int, int], tuple[bytes, str]] = {}
        self._runner: web.AppRunner | None = None
        self._script: asyncio.Task[None] | None = None
        self.port = 0

    # ------------------------------------------------------------------ catalogue

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_product(
        self,
        title: str,
        *,
        sizes: Iterable[str] = SHOE_SIZES,
        available: bool | Iterable[str] = False,
        price: float = 120.0,
        vendor: str = "Nike",
        tags: Iterable[str] = ("sneakers",),
        handle: str | None = None,
        option_name: str = "Size",
        colors: Iterable[str] = (),
        first: bool = True,
    ) -> JSON:
        """Add a product; ``available`` is a bool for every size or the sizes in stock.
        ``colors`` adds a Color option before Size (variants for each colour and size)."""
        pid = next(self._product_ids)
        size_list = list(sizes)
        in_stock = set(size_list) if available is True else set() if available is False else set(available)
        stamp = _iso(time.time())
        color_list = list(colors)
        combos: list[tuple[str | None, str]] = [(c, s) for c in color_list for s in size_list] or [
            (None, s) for s in size_list
        ]
        variants = []
        for position, (color, size) in enumerate(combos, start=1):
            values = [color, size] if color else [size]
            variants.append(
                {
                    "id": next(self._variant_ids),
                    "title": " / ".join(values),
                    "option1": values[0],
                    "option2": values[1] if len(values) > 1 else None,
                    "option3": None,
                    "sku": f"{pid % 100000}-{size}",
                    "requires_shipping": True,
                    "taxable": True,
                    "featured_image": None,
                    "available": size in in_stock,
                    "price": f"{price:.2f}",
                    "grams": 1300,
                    "compare_at_price": None,
                    "position": position,
                    "product_id": pid,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            )
        options: list[JSON] = [{"name": "Color", "position": 1, "values": color_list}] if color_list else []
        options.append({"name": option_name, "position": len(options) + 1, "values": size_list})
        slug = handle or "-".join(title.lower().replace("'", "").split())
        product = {
            "id": pid,
            "title": title,
            "handle": slug,
            "body_html": _lorem(self._rng, self._body_html_chars),
            "published_at": stamp,
            "created_at": stamp,
            "updated_at": stamp,
            "vendor": vendor,
            "product_type": "Footwear",
            "tags": list(tags),
            "variants": variants,
            "images": [
                {
                    "id": next(self._image_ids),
                    "created_at": stamp,
                    "position": n,
                    "updated_at": stamp,
                    "product_id": pid,
                    "variant_ids": [],
                    "src": f"https://cdn.shopify.com/s/files/1/0000/0001/products/{slug}-{n}.jpg?v=1700000000",
                    "width": 1600,
                    "height": 1200,
                }
                for n in (1, 2)
            ],
            "options": options,
        }
        if first:
            self.products.insert(0, product)
        else:
            self.products.append(product)
        self._touch()
        return product

    def seed_catalogue(self, count: int, *, in_stock_ratio: float = 0.5) -> None:
        """``count`` plausible products (appended, oldest last), some sizes in stock."""
        brands = ("Nike", "Jordan", "Adidas", "New Balance", "Asics", "Salomon")
        models = ("Dunk Low", "Air Max 1", "Samba OG", "990v6", "Gel-Kayano 14", "XT-6", "Air Force 1", "Retro 4")
        for n in range(count):
            brand = brands[n % len(brands)]
            title = f"{brand} {models[n % len(models)]} {n:04d}"
            sizes = [s for s in SHOE_SIZES if self._rng.random() < in_stock_ratio]
            self.add_product(
                title, available=sizes, vendor=brand, price=float(90 + n % 12 * 10), tags=[brand.lower()], first=False
            )

    def product(self, key: str | int) -> JSON:
        for product in self.products:
            if product["id"] == key or product["handle"] == key:
                return product
        raise KeyError(key)

    def variant(self, key: str | int, size: str) -> JSON:
        for variant in self.product(key)["variants"]:
            if size in (variant["option1"], variant["option2"]):
                found: JSON = variant
                return found
        raise KeyError(size)

    def set_available(self, key: str | int, sizes: str | Iterable[str], available: bool) -> None:
        product = self.product(key)
        wanted = {sizes} if isinstance(sizes, str) else set(sizes)
        stamp = _iso(time.time())
        for variant in product["variants"]:
            if variant["option1"] in wanted or variant["option2"] in wanted:
                variant["available"] = available
                variant["updated_at"] = stamp
        product["updated_at"] = stamp
        self._touch()

    def set_price(self, key: str | int, price: float, sizes: Iterable[str] | None = None) -> None:
        product = self.product(key)
        wanted = set(sizes) if sizes is not None else None
        for variant in product["variants"]:
            if wanted is None or variant["option1"] in wanted or variant["option2"] in wanted:
                variant["price"] = f"{price:.2f}"
        product["updated_at"] = _iso(time.time())
        self._touch()

    def remove_product(self, key: str | int) -> None:
        self.products.remove(self.product(key))
        self._touch()

    def set_password(self, on: bool) -> None:
        self.password = on
        self._touch()

    def inject(
        self,
        kind: str,
        *,
        times: int = 1,
        path: str = "/",
        retry_after: str | None = None,
        delay: float = 0.0,
        after: int = 0,
    ) -> None:
        """Make ``times`` requests under ``path`` fail with ``kind`` (see ``FAULT_KINDS``), once ``after``
        matching requests have gone through."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}")
        self.faults.append(Fault(kind, times, path, retry_after, delay, after))

    def _touch(self) -> None:
        self.version += 1
        self.changed_at = time.time()
        self._pages.clear()

    # ------------------------------------------------------------------ scripted drops

    def play(self, steps: list[tuple[float, Callable[[FakeShopifyStore], Any]]], *, loop: bool = False) -> None:
        """Run ``(delay_s, change)`` steps in the background: each change runs ``delay_s`` after the last."""

        async def run() -> None:
            while True:
                for delay, change in steps:
                    await asyncio.sleep(delay)
                    outcome = change(self)
                    if asyncio.iscoroutine(outcome):
                        await outcome
                if not loop:
                    return

        self._script = asyncio.create_task(run())

    # ------------------------------------------------------------------ server

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/products.json", self._products_json)
        app.router.add_get("/collections/{collection}/products.json", self._products_json)
        app.router.add_get("/products/{handle}.js", self._product_js)
        app.router.add_get("/collections/{collection}/products/{handle}.js", self._product_js)
        app.router.add_get("/meta.json", self._meta)
        app.router.add_get("/password", self._password_page)
        app.router.add_get("/cart/{items}", self._cart)
        app.router.add_get("/", self._home)
        app.router.add_get("/_admin/stats", self._admin_stats)
        app.router.add_post("/_admin/op", self._admin_op)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self.base_url

    async def stop(self) -> None:
        if self._script is not None:
            self._script.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._script
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        admin = request.path.startswith("/_admin/")
        if not admin:
            self.stats.requests += 1
            self.stats.paths[request.path] = self.stats.paths.get(request.path, 0) + 1
            fault = self._take_fault(request.path)
            if fault is not None:
                response = await self._fault_response(request, fault)
                self._count(response)
                return response
            if self.password and request.path not in ("/password",) and not request.path.startswith("/cart/"):
                response = web.Response(status=302, headers={"Location": "/password"})
                self._shopify_headers(response)
                self._count(response)
                return response
        response = await handler(request)
        if not admin:
            self._shopify_headers(response)
            self._count(response)
        return response

    def _take_fault(self, path: str) -> Fault | None:
        for fault in self.faults:
            if path.startswith(fault.path) and fault.times > 0:
                if fault.after > 0:
                    fault.after -= 1
                    return None
                fault.times -= 1
                if fault.times == 0:
                    self.faults.remove(fault)
                return fault
        return None

    async def _fault_response(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        kind = fault.kind
        if kind.isdigit():
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return web.Response(status=int(kind), text=f"error {kind}", headers=headers)
        if kind == "captcha":
            return web.Response(body=_CAPTCHA_PAGE, content_type="text/html")
        if kind == "html":
            return web.Response(body=_HOME_PAGE, content_type="text/html")
        if kind == "slow":
            await asyncio.sleep(fault.delay or 5.0)
            return await self._products_json(request)
        body = self._page_body(request)[0]
        if kind == "truncated":
            return web.Response(body=body[: max(1, len(body) // 2)], content_type="application/json")
        transport = request.transport
        if kind == "reset" or transport is None:
            if transport is not None:
                transport.abort()
            raise ConnectionResetError("fault: connection reset")
        # reset_body: promise the whole body, send part of it, then cut the connection
        response = web.StreamResponse(headers={"Content-Type": "application/json", "Content-Length": str(len(body))})
        await response.prepare(request)
        await response.write(body[: len(body) // 3])
        await asyncio.sleep(0.01)
        transport.abort()
        return response

    def _count(self, response: web.StreamResponse) -> None:
        status = response.status
        self.stats.statuses[status] = self.stats.statuses.get(status, 0) + 1
        if status == 304:
            self.stats.not_modified += 1
        body = getattr(response, "body", None)
        if isinstance(body, bytes | bytearray):
            self.stats.body_bytes += len(body)

    @staticmethod
    def _shopify_headers(response: web.StreamResponse) -> None:
        if response.prepared:
            return
        response.headers.setdefault("X-ShopId", "1234567")
        response.headers.setdefault("X-Shopify-Stage", "production")
        response.headers.setdefault("Powered-By", "Shopify")

    def _page_body(self, request: web.Request) -> tuple[bytes, str]:
        try:
            limit = min(MAX_LIMIT, max(1, int(request.query.get("limit", DEFAULT_LIMIT))))
            page = max(1, int(request.query.get("page", 1)))
        except ValueError:
            limit, page = DEFAULT_LIMIT, 1
        collection = request.match_info.get("collection", "all")
        key = (self.version, collection, limit, page)
        cached = self._pages.get(key)
        if cached is None:
            chosen = [p for p in self.products if collection == "all" or collection in p["tags"]]
            body = orjson.dumps({"products": chosen[(page - 1) * limit : page * limit]})
            cached = (body, '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"')
            self._pages[key] = cached
        return cached

    async def _products_json(self, request: web.Request) -> web.Response:
        body, etag = self._page_body(request)
        return self._conditional(request, body, etag, "application/json")

    def _conditional(self, request: web.Request, body: bytes, etag: str, content_type: str) -> web.Response:
        headers: dict[str, str] = {}
        if self.etag:
            headers["ETag"] = etag
        modified = int(self.changed_at)
        if self.last_modified:
            headers["Last-Modified"] = formatdate(modified, usegmt=True)
        if_none_match = request.headers.get("If-None-Match")
        if_modified_since = request.headers.get("If-Modified-Since")
        if self.etag and if_none_match is not None:
            tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
            if etag in tags or "*" in tags:
                return web.Response(status=304, headers=headers)
        elif self.last_modified and if_modified_since is not None:
            with contextlib.suppress(TypeError, ValueError):
                if modified <= parsedate_to_datetime(if_modified_since).timestamp():
                    return web.Response(status=304, headers=headers)
        return web.Response(body=body, content_type=content_type, headers=headers)

    async def _product_js(self, request: web.Request) -> web.Response:
        try:
            product = self.product(request.match_info["handle"])
        except KeyError:
            return web.Response(status=404, text="Not Found")
        body = orjson.dumps(_as_js(product))
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        return self._conditional(request, body, etag, "application/javascript")

    async def _meta(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {
                "id": 1234567,
                "name": self.name,
                "currency": self.currency,
                "domain": f"127.0.0.1:{self.port}",
                "myshopify_domain": "fake-kicks.myshopify.com",
                "money_format": "${{amount}}",
                "published_products_count": len(self.products),
            }
        )

    async def _password_page(self, _request: web.Request) -> web.Response:
        if not self.password:
            raise web.HTTPFound("/")
        return web.Response(body=_PASSWORD_PAGE, content_type="text/html", status=200)

    async def _home(self, _request: web.Request) -> web.Response:
        return web.Response(body=_HOME_PAGE, content_type="text/html")

    async def _cart(self, request: web.Request) -> web.Response:
        return web.Response(
            text=f"<html><body>Cart: {request.match_info['items']}</body></html>", content_type="text/html"
        )

    async def _admin_stats(self, _request: web.Request) -> web.Response:
        s = self.stats
        return web.json_response(
            {
                "requests": s.requests,
                "not_modified": s.not_modified,
                "body_bytes": s.body_bytes,
                "statuses": s.statuses,
                "version": self.version,
            }
        )

    async def _admin_op(self, request: web.Request) -> web.Response:
        """``{"op": "set_available"|"set_price"|"add_product"|"set_password"|"inject"|"seed", ...}``."""
        data = await request.json()
        op = data.pop("op")
        result: JSON = {}
        if op == "set_available":
            self.set_available(data["product"], data["sizes"], data["available"])
        elif op == "set_price":
            self.set_price(data["product"], data["price"], data.get("sizes"))
        elif op == "add_product":
            result = {"id": self.add_product(**data)["id"]}
        elif op == "set_password":
            self.set_password(data["on"])
        elif op == "inject":
            self.inject(**data)
        elif op == "seed":
            self.seed_catalogue(data["count"])
        else:
            return web.json_response({"error": f"unknown op {op}"}, status=400)
        return web.json_response({"at": self.changed_at, "version": self.version, **result})


def _as_js(product: JSON) -> JSON:
    """The ``/products/HANDLE.js`` shape: prices in cents, images as protocol-relative URLs."""
    cents = [round(float(v["price"]) * 100) for v in product["variants"]]
    images = ["//" + image["src"].split("://", 1)[1] for image in product["images"]]
    return {
        "id": product["id"],
        "title": product["title"],
        "handle": product["handle"],
        "description": product["body_html"],
        "published_at": product["published_at"],
        "created_at": product["created_at"],
        "vendor": product["vendor"],
        "type": product["product_type"],
        "tags": product["tags"],
        "price": min(cents),
        "price_min": min(cents),
        "price_max": max(cents),
        "available": any(v["available"] for v in product["variants"]),
        "price_varies": min(cents) != max(cents),
        "variants": [
            {
                "id": v["id"],
                "title": v["title"],
                "option1": v["option1"],
                "option2": v["option2"],
                "option3": v["option3"],
                "sku": v["sku"],
                "available": v["available"],
                "name": f"{product['title']} - {v['title']}",
                "public_title": v["title"],
                "options": [o for o in (v["option1"], v["option2"], v["option3"]) if o is not None],
                "price": cent,
                "compare_at_price": None,
            }
            for v, cent in zip(product["variants"], cents, strict=True)
        ],
        "images": images,
        "featured_image": images[0] if images else None,
        "options": product["options"],
        "url": f"/products/{product['handle']}",
    }


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S-00:00", time.gmtime(epoch))


def _lorem(rng: random.Random, chars: int) -> str:
    words = ("premium", "leather", "upper", "cushioned", "midsole", "classic", "retro", "rubber", "outsole", "suede")
    text = ""
    while len(text) < chars:
        text += rng.choice(words) + " "
    return f"<p>{text.strip()}</p>"


def demo_script() -> list[tuple[float, Callable[[FakeShopifyStore], Any]]]:
    """A drop in under 30 seconds: a new pair appears sold out, sizes restock, some sell out,
    the price drops, the store goes behind a password and comes back with a surprise release."""
    handle = "jordan-4-retro-military-blue"

    def appear(store: FakeShopifyStore) -> None:
        if not any(p["handle"] == handle for p in store.products):
            store.add_product(
                "Jordan 4 Retro Military Blue", vendor="Jordan", price=215.0, tags=["jordan"], handle=handle
            )

    def reset(store: FakeShopifyStore) -> None:
        store.set_available(handle, SHOE_SIZES, False)
        store.set_price(handle, 215.0)

    return [
        (4.0, appear),
        (5.0, lambda s: s.set_available(handle, ["8", "9", "9.5", "10", "11"], True)),
        (6.0, lambda s: s.set_available(handle, ["9", "9.5"], False)),
        (5.0, lambda s: s.set_price(handle, 189.0)),
        (6.0, lambda s: s.set_password(True)),
        (8.0, lambda s: s.set_password(False)),
        (5.0, lambda s: s.set_available(handle, ["9", "9.5", "12"], True)),
        (10.0, reset),
    ]


async def _serve(port: int, products: int, etag: bool, last_modified: bool) -> None:
    store = FakeShopifyStore(etag=etag, last_modified=last_modified)
    store.seed_catalogue(products)
    await store.start(port=port)
    sys.stdout.write(f"{store.base_url}\n")
    sys.stdout.flush()
    try:
        await asyncio.Event().wait()
    finally:
        await store.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the fake Shopify store on 127.0.0.1; prints its base URL.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument("--no-etag", action="store_true")
    parser.add_argument("--no-last-modified", action="store_true")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port, args.products, not args.no_etag, not args.no_last_modified))


if __name__ == "__main__":
    main()


class BusRecorder:
    """Collects ``monitor.event`` payloads and feed posts from an engine's bus, for assertions."""

    def __init__(self, bus: Any) -> None:
        self.events: list[JSON] = []
        self.feed: list[JSON] = []
        self.earned: list[JSON] = []
        bus.subscribe("monitor.event", self._on_event)
        bus.subscribe("feed.post", self._on_feed)
        bus.subscribe("laces.earn", self._on_earn)

    async def _on_event(self, _topic: str, payload: JSON) -> None:
        self.events.append(payload)

    async def _on_feed(self, _topic: str, payload: JSON) -> None:
        self.feed.append(payload)

    async def _on_earn(self, _topic: str, payload: JSON) -> None:
        self.earned.append(payload)

    def kinds(self) -> list[str]:
        return [event["kind"] for event in self.events]

    def clear(self) -> None:
        self.events.clear()
        self.feed.clear()
        self.earned.clear()
