"""Checking a URL before it becomes a monitor, and ``/monitor test``: one look, nothing stored.

Every failure here is the admin's to fix (a typo, a store that isn't Shopify, a page without offers),
so each one is a ``UserError`` that says what was found.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from bot.monitors.sources import FetchStats, observe_listing, product_from_page
from bot.monitors.sources.http_fetch import FetchError, PoliteFetcher
from bot.monitors.sources.page_watch import PageSnapshot, PageWatcher, PageWatchError, chromium_missing
from bot.monitors.sources.shopify import (
    Product,
    ShopifyError,
    ShopifyTarget,
    cart_link,
    classify,
    parse_product_js,
    parse_url,
)
from core.errors import BadArgument, UserError


@dataclass(frozen=True)
class Probe:
    kind: str
    url: str
    host: str
    currency: str | None
    #: ``ok``, ``password`` (store behind its password page) or ``not_live`` (product not published yet)
    status: str


def page_url(url: str) -> tuple[str, str]:
    """Validate a URL for a rendered-page monitor; returns (url, host)."""
    text = url.strip().strip("<>")
    parts = urlsplit(text if "://" in text else "https://" + text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadArgument("url", f"`{url}` is not a web address")
    host = parts.hostname.lower() + (f":{parts.port}" if parts.port else "")
    return parts.geturl(), host


def shopify_target(url: str) -> ShopifyTarget:
    try:
        return parse_url(url)
    except ValueError as exc:
        raise BadArgument("url", str(exc)) from None


def _unreachable(host: str, exc: FetchError) -> UserError:
    """Say what failed without saying how: the admin learns nothing about ports or internal hosts."""
    if exc.kind == "refused":
        return UserError(f"{host} is not a public internet address; monitors only watch public stores.")
    if exc.kind == "too_large":
        return UserError(f"{host} sent a response too large to be a store listing.")
    if exc.kind == "network":
        return UserError(f"Couldn't reach {host}.")
    if exc.kind in ("blocked", "rate_limited"):
        return UserError(f"{host} refused us ({exc}). Try again later.")
    return UserError(f"{host} answered HTTP {exc.status}: is it a Shopify store?")


async def probe_shopify(fetcher: PoliteFetcher, target: ShopifyTarget) -> Probe:
    status = "ok"
    if target.kind == "product":
        try:
            result = await fetcher.get(target.product_js_url(), accept="application/json, text/javascript")
        except FetchError as exc:
            if exc.status != 404:
                raise _unreachable(target.host, exc) from None
            await _probe_listing(fetcher, target)
            status = "not_live"
        else:
            try:
                if classify(result) == "password":
                    status = "password"
                else:
                    parse_product_js(result.body or b"", target.base_url)
            except ShopifyError:
                raise UserError(
                    f"{target.canonical} is not a Shopify product: its .js page isn't product data."
                ) from None
    else:
        status = await _probe_listing(fetcher, target)
    return Probe(target.kind, target.canonical, target.host, await _currency(fetcher, target), status)


async def _probe_listing(fetcher: PoliteFetcher, target: ShopifyTarget) -> str:
    where = f"collection `{target.collection}` on {target.host}" if target.collection else target.host
    try:
        result = await fetcher.get(target.listing_url(1, limit=1))
    except FetchError as exc:
        if exc.status == 404:
            raise UserError(f"{where} is not a Shopify store: it has no /products.json.") from None
        raise _unreachable(target.host, exc) from None
    try:
        if classify(result) == "password":
            return "password"
    except ShopifyError as exc:
        if exc.kind == "blocked":
            raise UserError(f"{target.host} shows a captcha instead of products. Try again later.") from None
        raise UserError(f"{where} is not a Shopify store: /products.json is a web page, not product data.") from None
    try:
        data = orjson.loads(result.body or b"")
    except orjson.JSONDecodeError:
        raise UserError(f"{where} is not a Shopify store: /products.json isn't valid JSON.") from None
    if not isinstance(data, dict) or not isinstance(data.get("products"), list):
        raise UserError(f"{where} is not a Shopify store: /products.json has no product list.")
    return "ok"


async def _currency(fetcher: PoliteFetcher, target: ShopifyTarget) -> str | None:
    """Shopify's ``/meta.json`` names the store currency; without it prices show as dollars."""
    try:
        result = await fetcher.get(f"{target.base_url}/meta.json")
        data = orjson.loads(result.body or b"{}")
    except (FetchError, orjson.JSONDecodeError):
        return None
    currency = data.get("currency") if isinstance(data, dict) else None
    return str(currency)[:8] if currency else None


async def probe_page(
    watcher: PageWatcher, url: str, selectors: Mapping[str, str], executable: str
) -> tuple[Probe, PageSnapshot]:
    missing = chromium_missing(executable)
    if missing:
        raise UserError(f"Rendered-page monitors need chromium: {missing}.")
    clean, host = page_url(url)
    try:
        snapshot = await watcher.snapshot(clean, selectors)
    except PageWatchError as exc:
        raise UserError(f"Couldn't read {clean}: {exc}.") from None
    return Probe("page", clean, host, snapshot.currency, "ok"), snapshot


def describe_product(product: Product, *, carts: bool, base_url: str) -> dict[str, Any]:
    in_stock = [v for v in product.variants if v.available]
    prices = [v.price for v in product.variants if v.price is not None]
    return {
        "id": product.id,
        "title": product.title,
        "handle": product.handle,
        "brand": product.vendor,
        "url": product.url,
        "image": product.image,
        "tags": list(product.tags),
        "price": min(prices) if prices else None,
        "variants": [
            {
                "id": v.id,
                "size": v.size,
                "available": v.available,
                "price": v.price,
                "cart_link": cart_link(base_url, v.id) if carts else None,
            }
            for v in product.variants
        ],
        "sizes_in_stock": [v.size for v in in_stock],
        "cart_links": {v.size: cart_link(base_url, v.id) for v in in_stock} if carts else {},
    }


async def inspect(
    url: str,
    *,
    fetcher: PoliteFetcher,
    watcher: Callable[[], PageWatcher],
    render: bool = False,
    selectors: Mapping[str, str] | None = None,
    max_pages: int = 40,
    chromium_path: str = "/usr/bin/chromium",
) -> dict[str, Any]:
    """What a monitor on ``url`` would see right now, as plain data (``/monitor test``)."""
    products: list[Product]
    if render or selectors:
        probe, snapshot = await probe_page(watcher(), url, selectors or {}, chromium_path)
        products = [product_from_page(snapshot)]
        base, carts, pages = probe.url, False, 1
    else:
        target = shopify_target(url)
        probe = await probe_shopify(fetcher, target)
        base, carts, pages = target.base_url, True, 0
        products = []
        if probe.status == "ok" and target.kind == "product":
            result = await fetcher.get(target.product_js_url(), accept="application/json, text/javascript")
            products = [parse_product_js(result.body or b"", target.base_url)]
            pages = 1
        elif probe.status == "ok":
            try:
                observation = await observe_listing(fetcher, target, {}, {}, max_pages=max_pages, stats=FetchStats())
            except (FetchError, ShopifyError) as exc:
                raise UserError(f"{target.host} failed mid-listing: {exc}.") from None
            products = observation.changed
            pages = len(observation.pages)
    described = [describe_product(p, carts=carts, base_url=base) for p in products]
    return {
        "url": probe.url,
        "kind": probe.kind,
        "store": probe.host,
        "status": probe.status,
        "currency": probe.currency,
        "pages": pages,
        "product_count": len(described),
        "variant_count": sum(len(p["variants"]) for p in described),
        "in_stock_count": sum(len(p["sizes_in_stock"]) for p in described),
        "products": described,
    }
