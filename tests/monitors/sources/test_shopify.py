"""The Shopify adapter's pure parts: URLs, sizes, the two product formats, page scanning, and
telling product JSON from password, captcha and plain HTML pages."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.monitors.sources.http_fetch import FetchResult, Validators, parse_retry_after
from bot.monitors.sources.shopify import (
    ShopifyError,
    cart_link,
    classify,
    looks_like_size,
    parse_product,
    parse_product_js,
    parse_url,
    scan_page,
)
from tests.fakes.shopify_store import FakeShopifyStore, _as_js

BASE = "https://kith.com"


@pytest.mark.parametrize(
    ("url", "kind", "base", "extra"),
    [
        ("kith.com", "store", "https://kith.com", None),
        ("https://KITH.com/", "store", "https://kith.com", None),
        ("https://kith.com/products.json", "store", "https://kith.com", None),
        ("https://kith.com/collections/footwear", "collection", "https://kith.com", "footwear"),
        ("https://kith.com/collections/footwear/products.json?page=2", "collection", "https://kith.com", "footwear"),
        ("https://kith.com/products/jordan-4-bred", "product", "https://kith.com", "jordan-4-bred"),
        ("https://kith.com/products/jordan-4-bred.js", "product", "https://kith.com", "jordan-4-bred"),
        (
            "https://kith.com/collections/x/products/jordan-4-bred?variant=1",
            "product",
            "https://kith.com",
            "jordan-4-bred",
        ),
        ("http://127.0.0.1:8123/products/x", "product", "http://127.0.0.1:8123", "x"),
    ],
)
def test_urls(url: str, kind: str, base: str, extra: str | None) -> None:
    target = parse_url(url)
    assert (target.kind, target.base_url) == (kind, base)
    assert extra == (target.collection if kind == "collection" else target.handle)


def test_listing_and_cart_urls() -> None:
    assert (
        parse_url("kith.com/collections/new").listing_url(3)
        == "https://kith.com/collections/new/products.json?limit=250&page=3"
    )
    assert parse_url("kith.com/products/a").product_js_url() == "https://kith.com/products/a.js"
    assert cart_link(BASE, "40000000000001") == "https://kith.com/cart/40000000000001:1"


@pytest.mark.parametrize(
    "url", ["", "kith", "ftp://kith.com", "https://", "https://kith.com:99999/", "just some words"]
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(ValueError):
        parse_url(url)


def product(options: list[dict[str, Any]], variants: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "id": 1,
        "title": "Thing",
        "handle": "thing",
        "vendor": "Brand",
        "tags": ["a"],
        "options": options,
        "variants": variants,
        "images": [{"src": "//cdn.shopify.com/x.jpg"}],
        **extra,
    }


def variant(vid: int, *options: str | None, available: bool = True, price: str = "100.00") -> dict[str, Any]:
    padded = [*options, None, None, None][:3]
    return {
        "id": vid,
        "title": " / ".join(o for o in options if o),
        "option1": padded[0],
        "option2": padded[1],
        "option3": padded[2],
        "available": available,
        "price": price,
    }


def test_sizes_from_the_option_named_size_even_when_it_is_second() -> None:
    raw = product(
        [{"name": "Color", "values": ["Black", "White"]}, {"name": "Shoe Size", "values": ["9", "10"]}],
        [variant(1, "Black", "9"), variant(2, "Black", "10", available=False), variant(3, "White", "9")],
    )
    parsed = parse_product(raw, BASE)
    assert [(v.size, v.available) for v in parsed.variants] == [
        ("9 (Black)", True),
        ("10 (Black)", False),
        ("9 (White)", True),
    ]
    assert parsed.image == "https://cdn.shopify.com/x.jpg" and parsed.url == "https://kith.com/products/thing"


def test_sizes_from_values_that_look_like_sizes() -> None:
    raw = product(
        [{"name": "Material", "values": ["Suede"]}, {"name": "Option", "values": ["US 9", "US 9.5", "US 10"]}],
        [variant(1, "Suede", "US 9"), variant(2, "Suede", "US 9.5"), variant(3, "Suede", "US 10")],
    )
    assert [v.size for v in parse_product(raw, BASE).variants] == ["US 9", "US 9.5", "US 10"]


def test_products_without_sizes() -> None:
    raw = product([{"name": "Title", "values": ["Default Title"]}], [variant(1, "Default Title")])
    assert [v.size for v in parse_product(raw, BASE).variants] == ["One Size"]


@pytest.mark.parametrize("text", ["9", "10.5", "US 10", "M 9 / W 10.5", "EU 44", "UK 8", "XL", "7Y", "4.5 US"])
def test_size_like_values(text: str) -> None:
    assert looks_like_size(text)


@pytest.mark.parametrize("text", ["Black", "Suede", "Default Title", "2024", "Red/White"])
def test_not_size_like(text: str) -> None:
    assert not looks_like_size(text)


def test_js_format_prices_are_cents_and_images_protocol_relative() -> None:
    store = FakeShopifyStore()
    raw = store.add_product("Samba OG", available=["9"], price=100.0, vendor="Adidas")
    parsed = parse_product_js(orjson.dumps(_as_js(raw)), BASE)
    assert parsed.id == str(raw["id"]) and parsed.vendor == "Adidas"
    assert {v.price for v in parsed.variants} == {100.0}
    assert parsed.sizes_in_stock() == ["9"]
    assert parsed.image is not None and parsed.image.startswith("https://cdn.shopify.com/")
    assert parsed == parse_product(raw, BASE)  # the two formats read the same


def test_snapshot_json_round_trip() -> None:
    store = FakeShopifyStore()
    raw = store.add_product("Dunk", available=["9", "10"])
    parsed = parse_product(raw, BASE)
    again = type(parsed).from_json(parsed.id, json.loads(json.dumps(parsed.to_json())))
    assert again == parsed


def test_fast_scan_skips_unchanged_products_and_matches_a_full_parse() -> None:
    store = FakeShopifyStore()
    store.seed_catalogue(50)
    body = orjson.dumps({"products": store.products})
    first = scan_page(body, {}, BASE)
    assert first.fast_path and len(first.changed) == 50
    store.set_available(store.products[7]["id"], "9", True)
    second = scan_page(orjson.dumps({"products": store.products}), first.chunks, BASE)
    assert second.ids == first.ids and [p.id for p in second.changed] == [str(store.products[7]["id"])]
    pretty = json.dumps({"products": store.products}, indent=2).encode()
    full = scan_page(pretty, first.chunks, BASE)
    assert not full.fast_path and full.ids == first.ids
    assert {p.id: p for p in full.changed}[str(store.products[7]["id"])] == second.changed[0]


def test_titles_with_quotes_and_look_alike_text_do_not_confuse_the_scan() -> None:
    store = FakeShopifyStore()
    store.add_product('Nike "Dunk" {"id":1,"title":"x","handle":"y"} Low')
    store.add_product("Plain")
    store.products[0]["body_html"] = '<p>{"id":5,"title":"fake","handle":"fake"}</p>'
    scan = scan_page(orjson.dumps({"products": store.products}), {}, BASE)
    assert [p.title for p in scan.changed] == ["Plain", 'Nike "Dunk" {"id":1,"title":"x","handle":"y"} Low']


@given(st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=8))
@settings(max_examples=60, deadline=None)
def test_any_titles_scan_like_a_full_parse(titles: list[str]) -> None:
    store = FakeShopifyStore()
    for title in titles:
        store.add_product(title, sizes=["9"], available=True)
    body = orjson.dumps({"products": store.products})
    scanned = scan_page(body, {}, BASE)
    reference = [parse_product(raw, BASE) for raw in orjson.loads(body)["products"]]
    assert scanned.changed == reference


@pytest.mark.parametrize("cut", [1, 100, -2, -1])
def test_truncated_pages_are_errors_not_empty_catalogues(cut: int) -> None:
    store = FakeShopifyStore()
    store.seed_catalogue(5)
    body = orjson.dumps({"products": store.products})
    with pytest.raises(ShopifyError) as error:
        scan_page(body[:cut], {}, BASE)
    assert error.value.kind == "bad_body"


def fetched(body: bytes, content_type: str = "application/json", redirected: str | None = None) -> FetchResult:
    return FetchResult("u", 200, body, content_type, Validators(), False, False, len(body), redirected)


def test_classify() -> None:
    assert classify(fetched(b'{"products":[]}')) == "json"
    assert classify(fetched(b"<html>", "text/html", redirected="https://kith.com/password")) == "password"
    assert classify(fetched(b"<html><body class='template-password'>", "text/html")) == "password"
    with pytest.raises(ShopifyError) as captcha:
        classify(fetched(b"<html><div class='g-recaptcha'></div> please verify you are human", "text/html"))
    assert captcha.value.kind == "blocked"
    with pytest.raises(ShopifyError) as html:
        classify(fetched(b"  <!DOCTYPE html><html>Welcome</html>", "application/json"))
    assert html.value.kind == "bad_body"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("5", 5.0),
        ("0", 0.0),
        ("-3", 0.0),
        ("99999", 3600.0),
        ("soon", None),
        (None, None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds
