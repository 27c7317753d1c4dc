"""A store body with the wrong JSON types is a bad body (``ShopifyError``), never a crash in the parser.

Hypothesis builds product-shaped JSON whose every field may hold any JSON value, and whole pages
whose structure is random; whatever comes back must either parse into well-typed products or raise
``ShopifyError('bad_body')``, which the runner turns into health and back-off (checked last, through
the engine against the fake store on loopback).
"""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.monitors.models import Monitor
from bot.monitors.sources.shopify import Product, ShopifyError, parse_product_js, scan_page
from core.storage.database import Database
from tests.fakes.shopify_store import FakeShopifyStore
from tests.monitors.test_engine import Harness, start_engine, stop_engine

BASE = "https://kith.com"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
variant = st.fixed_dictionaries(
    {},
    optional={
        "id": json_values,
        "title": json_values,
        "option1": json_values,
        "option2": json_values,
        "available": json_values,
        "price": json_values,
    },
)
product = st.fixed_dictionaries(
    {"id": st.integers(min_value=1, max_value=10**12) | json_values},
    optional={
        "title": json_values,
        "handle": json_values,
        "vendor": json_values,
        "product_type": json_values,
        "tags": json_values,
        "options": st.lists(st.fixed_dictionaries({"name": json_values}) | json_values, max_size=3) | json_values,
        "variants": st.lists(variant | json_values, max_size=4) | json_values,
        "images": st.lists(st.fixed_dictionaries({"src": json_values}) | json_values, max_size=2) | json_values,
        "featured_image": json_values,
    },
)


def _well_typed(item: Product) -> None:
    assert isinstance(item.id, str) and isinstance(item.title, str) and isinstance(item.handle, str)
    assert all(isinstance(tag, str) for tag in item.tags)
    assert item.image is None or isinstance(item.image, str)
    for v in item.variants:
        assert isinstance(v.id, str) and isinstance(v.size, str) and isinstance(v.available, bool)
        assert v.price is None or (isinstance(v.price, float) and math.isfinite(v.price))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=product)
def test_any_product_js_shape_parses_or_is_a_bad_body(raw: dict[str, Any]) -> None:
    body = orjson.dumps(raw, option=orjson.OPT_PASSTHROUGH_DATACLASS) if _dumpable(raw) else b"{}"
    try:
        _well_typed(parse_product_js(body, BASE))
    except ShopifyError as exc:
        assert exc.kind == "bad_body"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(page=st.fixed_dictionaries({"products": st.lists(product | json_values, max_size=4) | json_values}))
def test_any_listing_page_shape_parses_or_is_a_bad_body(page: dict[str, Any]) -> None:
    if not _dumpable(page):
        return
    for body in (orjson.dumps(page), orjson.dumps(page, option=orjson.OPT_INDENT_2)):
        try:
            scan = scan_page(body, {}, BASE)
        except ShopifyError as exc:
            assert exc.kind == "bad_body"
            continue
        for item in scan.changed:
            _well_typed(item)


@pytest.mark.parametrize(
    "raw",
    [
        {"id": 1, "title": "A", "handle": "a", "variants": "S,M,L"},
        {"id": 1, "title": "A", "handle": "a", "variants": [{"id": 2, "price": {"amount": 1}}]},
        {"id": 1, "title": "A", "handle": "a", "variants": [{"price": "12.00"}]},
        {"id": 1, "title": "A", "handle": "a", "variants": [7]},
        {"id": 1, "title": "A", "handle": "a", "variants": [], "options": "Size"},
        {"id": 1, "title": "A", "handle": "a", "variants": [], "images": {"src": "x"}},
        {"id": {"n": 1}, "title": "A", "handle": "a", "variants": []},
        {"id": 1, "title": "A", "handle": "a", "variants": [{"id": 2, "price": "1e400"}]},
    ],
)
def test_wrong_types_from_the_issue_are_bad_bodies(raw: dict[str, Any]) -> None:
    with pytest.raises(ShopifyError) as caught:
        parse_product_js(orjson.dumps(raw), BASE)
    assert caught.value.kind == "bad_body"


def _dumpable(value: Any) -> bool:
    try:
        orjson.dumps(value)
    except TypeError:
        return False
    return True


async def test_a_store_serving_wrong_types_shows_in_health_and_backs_off(make_config: Any, database: Database) -> None:
    store = FakeShopifyStore()
    store.seed_catalogue(30)
    await store.start()
    engine = await start_engine(make_config, database, backoff_base_seconds=30.0, backoff_max_seconds=60.0)
    try:
        harness = Harness(engine, store)
        monitor_id = await harness.add()
        store.products[-1]["variants"] = "S,M,L"
        store._touch()  # the fake store caches its pages until a change
        failed = await harness.poll(monitor_id)
        again = await harness.poll(monitor_id)
        async with engine.db.read() as session:
            row = await session.get(Monitor, monitor_id)
    finally:
        await stop_engine(engine)
        await store.stop()
    assert (failed.status, failed.error) == ("error", "product data with a wrong type in `variants`")
    assert again.status == "backing_off"
    assert row is not None and (row.status, row.last_error) == ("error", failed.error)
