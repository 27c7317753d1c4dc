"""The Playwright page adapter in real chromium, against local pages that only show stock after
their JavaScript has fetched it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web

from bot.monitors.sources.page_watch import (
    PageWatcher,
    PageWatchError,
    chromium_missing,
    offers_from_json_ld,
    parse_price,
    parse_selectors,
)
from core.storage.database import Database
from tests.monitors.test_engine import start_engine, stop_engine

MISSING = chromium_missing()
needs_chromium = pytest.mark.skipif(MISSING is not None, reason=f"chromium unavailable: {MISSING}")

# The product data arrives by XHR after load, then the script writes JSON-LD and the buy box.
PRODUCT_PAGE = """<!DOCTYPE html><html><head><title>Loading…</title>
<meta property="og:image" content="https://cdn.example.com/ja4.jpg"></head>
<body><div id="app">Loading…</div><script>
fetch('/api/stock').then(r => r.json()).then(state => setTimeout(() => {
  document.title = state.title;
  const ld = document.createElement('script');
  ld.type = 'application/ld+json';
  ld.textContent = JSON.stringify({
    '@context': 'https://schema.org', '@type': 'ProductGroup', name: state.title,
    brand: {'@type': 'Brand', name: 'Jordan'}, image: ['https://cdn.example.com/ja4.jpg'],
    hasVariant: state.sizes.map(s => ({'@type': 'Product', sku: 'JA4-' + s.size, size: s.size,
      offers: {'@type': 'Offer', price: state.price, priceCurrency: 'USD',
               availability: s.stock ? 'https://schema.org/InStock' : 'https://schema.org/OutOfStock'}}))});
  document.head.appendChild(ld);
  document.getElementById('app').innerHTML =
    '<h1 class="name">' + state.title + '</h1><span class="price">$' + state.price.toFixed(2) + '</span>' +
    state.sizes.map(s => '<button class="size' + (s.stock ? '' : ' sold-out') + '"' + (s.stock ? '' : ' disabled') +
      '>' + s.size + '</button>').join('') +
    '<button class="buy"' + (state.sizes.some(s => s.stock) ? '' : ' disabled') + '>Add to cart</button>';
}, 150));
</script></body></html>"""

CAPTCHA_PAGE = "<html><head><title>Just a moment...</title></head><body>Checking your browser</body></html>"


class LocalSite:
    def __init__(self) -> None:
        self.state: dict[str, Any] = {
            "title": "Jordan 4 Retro Military Blue",
            "price": 215.0,
            "sizes": [{"size": s, "stock": s in ("9", "10")} for s in ("8", "9", "10", "11")],
        }
        self.status = 200
        self.hits = 0
        self.image_hits = 0
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def set_stock(self, size: str, stock: bool) -> None:
        for entry in self.state["sizes"]:
            if entry["size"] == size:
                entry["stock"] = stock

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/p/jordan-4", self._page)
        app.router.add_get("/api/stock", self._stock)
        app.router.add_get("/challenge", self._captcha)
        app.router.add_get("/plain", self._plain)
        app.router.add_get("/img.jpg", self._image)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _page(self, _request: web.Request) -> web.Response:
        self.hits += 1
        body = PRODUCT_PAGE.replace("</body>", '<img src="/img.jpg"></body>')
        return web.Response(text=body, content_type="text/html", status=self.status)

    async def _stock(self, _request: web.Request) -> web.Response:
        return web.json_response(self.state)

    async def _captcha(self, _request: web.Request) -> web.Response:
        return web.Response(text=CAPTCHA_PAGE, content_type="text/html")

    async def _plain(self, _request: web.Request) -> web.Response:
        return web.Response(text="<html><body><p>No product here</p></body></html>", content_type="text/html")

    async def _image(self, _request: web.Request) -> web.Response:
        self.image_hits += 1
        return web.Response(body=b"\x89PNG", content_type="image/png")


@pytest.fixture
async def site() -> AsyncIterator[LocalSite]:
    local = LocalSite()
    await local.start()
    yield local
    await local.stop()


@pytest.fixture
async def watcher() -> AsyncIterator[PageWatcher]:
    browser = PageWatcher(timeout_s=15, settle_s=3, allow_private=True)
    yield browser
    await browser.close()


@needs_chromium
async def test_json_ld_offers_after_javascript_and_one_browser_reused(site: LocalSite, watcher: PageWatcher) -> None:
    first = await watcher.snapshot(f"{site.base_url}/p/jordan-4")
    assert first.source == "json-ld"
    assert first.title == "Jordan 4 Retro Military Blue" and first.brand == "Jordan"
    assert first.currency == "USD" and first.image == "https://cdn.example.com/ja4.jpg"
    assert [(o.size, o.available, o.price) for o in first.offers] == [
        ("8", False, 215.0),
        ("9", True, 215.0),
        ("10", True, 215.0),
        ("11", False, 215.0),
    ]
    site.set_stock("11", True)
    second = await watcher.snapshot(f"{site.base_url}/p/jordan-4")
    assert [o.size for o in second.offers if o.available] == ["9", "10", "11"]
    assert watcher.launches == 1
    assert site.image_hits == 0  # images are never downloaded


@needs_chromium
async def test_admin_css_selectors(site: LocalSite, watcher: PageWatcher) -> None:
    selectors = parse_selectors("sizes=button.size; price=.price; title=h1.name")
    snapshot = await watcher.snapshot(f"{site.base_url}/p/jordan-4", selectors)
    assert snapshot.source == "selectors"
    assert [(o.size, o.available, o.price) for o in snapshot.offers] == [
        ("8", False, 215.0),
        ("9", True, 215.0),
        ("10", True, 215.0),
        ("11", False, 215.0),
    ]
    for entry in site.state["sizes"]:
        entry["stock"] = False
    stock_only = await watcher.snapshot(f"{site.base_url}/p/jordan-4", parse_selectors("stock=button.buy"))
    assert [(o.size, o.available) for o in stock_only.offers] == [("One Size", False)]


@needs_chromium
async def test_captcha_status_and_missing_offers_are_typed_errors(site: LocalSite) -> None:
    watcher = PageWatcher(timeout_s=15, settle_s=0.5, allow_private=True)
    try:
        await _typed_errors(site, watcher)
    finally:
        await watcher.close()


async def _typed_errors(site: LocalSite, watcher: PageWatcher) -> None:
    with pytest.raises(PageWatchError) as captcha:
        await watcher.snapshot(f"{site.base_url}/challenge")
    assert captcha.value.kind == "blocked"
    site.status = 430
    with pytest.raises(PageWatchError) as blocked:
        await watcher.snapshot(f"{site.base_url}/p/jordan-4")
    assert blocked.value.kind == "blocked"
    with pytest.raises(PageWatchError) as plain:
        await watcher.snapshot(f"{site.base_url}/plain")
    assert plain.value.kind == "bad_body" and "give CSS selectors" in str(plain.value)
    with pytest.raises(PageWatchError) as bad_css:
        await watcher.snapshot(f"{site.base_url}/plain", {"stock": "button[[["})
    assert bad_css.value.kind == "bad_body"


@needs_chromium
async def test_page_monitor_alerts_a_restock_end_to_end(make_config: Any, database: Database, site: LocalSite) -> None:
    from tests.fakes.shopify_store import BusRecorder

    engine = await start_engine(make_config, database)
    try:
        from bot.monitors.service import MonitorService

        service = engine.service(MonitorService)
        recorder = BusRecorder(engine.bus)
        row, probe, outcome = await service.add(f"{site.base_url}/p/jordan-4", render=True, interval=3600)
        assert (row.kind, probe.status, outcome.status) == ("page", "ok", "baseline")
        site.set_stock("8", True)
        await service.poll(row.id)
        await engine.bus.drain()
        assert recorder.kinds() == ["restock"]
        event = recorder.events[0]
        assert event["sizes"] == ["8"] and event["sizes_in_stock"] == ["8", "9", "10"]
        assert event["cart_links"] == {} and event["price"] == 215.0 and event["currency"] == "USD"
        item = recorder.feed[0]["item"]
        assert item["buttons"] == [{"label": "Open", "url": f"{site.base_url}/p/jordan-4", "action": None}]
        assert service.page_watcher().launches == 1
    finally:
        await stop_engine(engine)


def test_json_ld_shapes() -> None:
    single = orjson.dumps(
        {
            "@context": "https://schema.org",
            "@graph": [
                {"@type": "WebPage", "name": "x"},
                {
                    "@type": ["Product"],
                    "name": "Samba OG",
                    "sku": "B75806",
                    "offers": {
                        "@type": "AggregateOffer",
                        "lowPrice": "100",
                        "priceCurrency": "EUR",
                        "offers": [
                            {
                                "@type": "Offer",
                                "name": "EU 42",
                                "price": "100.00",
                                "availability": "http://schema.org/InStock",
                            },
                            {"@type": "Offer", "name": "EU 43", "price": "100.00", "availability": "OutOfStock"},
                        ],
                    },
                },
            ],
        }
    ).decode()
    node, offers, currency = offers_from_json_ld(["not json", single]) or ({}, [], None)
    assert node["name"] == "Samba OG" and currency == "EUR"
    assert [(o.size, o.available, o.price) for o in offers] == [("EU 42", True, 100.0), ("EU 43", False, 100.0)]
    one = orjson.dumps({"@type": "Product", "name": "Tee", "offers": {"price": 30, "availability": "schema:InStock"}})
    _node, offers, _currency = offers_from_json_ld([one.decode()]) or ({}, [], None)
    assert [(o.size, o.available, o.price) for o in offers] == [("One Size", True, 30.0)]


@pytest.mark.parametrize(
    ("text", "price"),
    [("$1,299.00", 1299.0), ("1.299,00 €", 1299.0), ("189", 189.0), ("€ 89,95", 89.95), ("Sold out", None)],
)
def test_price_text(text: str, price: float | None) -> None:
    assert parse_price(text) == price


def test_selector_syntax_errors_are_for_users() -> None:
    assert parse_selectors("stock=.buy:not([disabled]); price = .price ") == {
        "stock": ".buy:not([disabled])",
        "price": ".price",
    }
    with pytest.raises(ValueError, match="unknown selector `colour`"):
        parse_selectors("colour=.x")
