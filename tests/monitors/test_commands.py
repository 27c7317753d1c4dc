"""/monitor add, list, pause, resume, remove, test and /report restock, typed as a member would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web

from bot.monitors.service import MonitorService
from core.commands import Permission
from core.engine import Engine
from core.identity import Caller
from core.storage.database import Database
from tests.fakes.harness import free_port
from tests.fakes.shopify_store import BusRecorder, FakeShopifyStore
from tests.monitors.test_engine import start_engine, stop_engine

ADMIN = Caller(platform="discord", external_id="100", display_name="boss", platform_role=Permission.ADMIN)
MEMBER = Caller(platform="discord", external_id="200", display_name="sneakerhead")
OTHER = Caller(platform="telegram", external_id="300", display_name="lurker")


@pytest.fixture
async def store() -> AsyncIterator[FakeShopifyStore]:
    shop = FakeShopifyStore()
    shop.seed_catalogue(30)
    await shop.start()
    yield shop
    await shop.stop()


@pytest.fixture
async def engine(make_config: Any, database: Database) -> AsyncIterator[Engine]:
    built = await start_engine(make_config, database, host_min_interval={"127.0.0.1": 5.0})
    yield built
    await stop_engine(built)


@pytest.fixture
async def not_shopify() -> AsyncIterator[str]:
    """A plain website: HTML at / and at /products.json, 404 for the collection listing."""

    async def page(_request: web.Request) -> web.Response:
        return web.Response(text="<html><body>Just a blog</body></html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/products.json", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_add_list_pause_resume_remove(engine: Engine, store: FakeShopifyStore) -> None:
    line = f"/monitor add {store.base_url} +nike|jordan 9,10 restocks 30 <@&777000000000000001>"
    reply = await engine.dispatch_line(ADMIN, line)
    assert reply.title == "👀 Monitor #1 added", reply.text
    assert "every 30 s" in reply.text and "Baseline: 30 product(s)" in reply.text
    assert "`nike|jordan`" in reply.text and "sizes 9, 10" in reply.text
    listing = await engine.dispatch_line(ADMIN, "/monitor list")
    assert "**#1**" in listing.text and "🟢 ok" in listing.text and "last good poll" in listing.text
    assert "⏸️" in (await engine.dispatch_line(ADMIN, "/monitor pause 1")).title
    assert "⏸️ paused" in (await engine.dispatch_line(ADMIN, "/monitor list")).text
    again = await engine.dispatch_line(ADMIN, "/monitor pause 1")
    assert again.ephemeral and "already paused" in again.text
    assert "▶️" in (await engine.dispatch_line(ADMIN, "/monitor resume 1")).title
    assert "🗑️" in (await engine.dispatch_line(ADMIN, "/monitor remove 1")).title
    assert "None yet" in (await engine.dispatch_line(ADMIN, "/monitor list")).text
    missing = await engine.dispatch_line(ADMIN, "/monitor remove 1")
    assert missing.ephemeral and "No monitor #1" in missing.text


async def test_the_same_monitor_twice_is_refused(engine: Engine, store: FakeShopifyStore) -> None:
    await engine.dispatch_line(ADMIN, f"/monitor add {store.base_url}")
    twice = await engine.dispatch_line(ADMIN, f"/monitor add {store.base_url}/")
    assert twice.ephemeral and "Monitor #1 already watches" in twice.text
    # other keywords on the same page and feed would still post every shared product twice
    narrower = await engine.dispatch_line(ADMIN, f"/monitor add {store.base_url} keywords:jordan")
    assert "Monitor #1 already watches" in narrower.text and "/monitor remove 1" in narrower.text


@pytest.mark.parametrize("role", ["@everyone", "@here", "Drops"])
async def test_a_role_that_can_never_ping_is_refused(engine: Engine, store: FakeShopifyStore, role: str) -> None:
    reply = await engine.dispatch_line(ADMIN, f"/monitor add {store.base_url} role:{role}")
    assert "`role`: give a role mention" in reply.text
    assert "None yet" in (await engine.dispatch_line(ADMIN, "/monitor list")).text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/monitor add not-a-url", "is not a full host name"),
        ("/monitor add ftp://example.com", "is not a web address"),
        ("/monitor add {store} interval:2", "`interval`: at least 5 s for 127.0.0.1:"),
        ("/monitor add {store} keywords:+", "`keywords`: a lone `+` requires nothing"),
        ("/monitor add {store} sizes:huge", "`sizes`: `huge` is not a size"),
        ("/monitor add {store} feed:nowhere", "No feed called `nowhere`"),
        ("/monitor add {store} css:stock", "`css`: `stock`: write selectors as"),
        ("/monitor add {blog}", "is not a Shopify store: /products.json is a web page"),
        ("/monitor add {blog}/collections/shoes", "collection `shoes` on 127.0.0.1:"),
        ("/monitor add http://127.0.0.1:{dead}", "Couldn't reach 127.0.0.1:"),
    ],
)
async def test_bad_input_gets_a_clear_error(
    engine: Engine, store: FakeShopifyStore, not_shopify: str, line: str, expected: str
) -> None:
    text = line.format(store=store.base_url, blog=not_shopify, dead=free_port())
    reply = await engine.dispatch_line(ADMIN, text)
    assert reply.ephemeral and reply.title == "⚠️ Not done", reply.text
    assert expected in reply.text
    assert "None yet" in (await engine.dispatch_line(ADMIN, "/monitor list")).text


async def test_members_cannot_manage_monitors(engine: Engine, store: FakeShopifyStore) -> None:
    reply = await engine.dispatch_line(MEMBER, f"/monitor add {store.base_url}")
    assert reply.ephemeral and "mods only" in reply.text


async def test_monitor_test_shows_products_sizes_and_cart_links(engine: Engine, store: FakeShopifyStore) -> None:
    product = store.add_product("Jordan 4 Military Blue", available=["9", "10"], price=215.0)
    reply = await engine.dispatch_line(ADMIN, f"/monitor test {store.base_url}")
    assert "31 product(s) on 2 page(s)" in reply.text
    assert "**Jordan 4 Military Blue**: $215.00; 2/12 sizes: 9, 10" in reply.text
    nine = store.variant(product["id"], "9")["id"]
    assert reply.buttons[0].url == f"{store.base_url}/cart/{nine}:1"
    raw = await engine.dispatch_line(ADMIN, f"/monitor test {store.base_url}/products/{product['handle']} json:yes")
    seen = orjson.loads(raw.text.strip("`"))
    assert seen["kind"] == "product" and seen["product_count"] == 1
    assert seen["products"][0]["cart_links"] == {
        "9": f"{store.base_url}/cart/{nine}:1",
        "10": f"{store.base_url}/cart/{store.variant(product['id'], '10')['id']}:1",
    }
    assert "None yet" in (await engine.dispatch_line(ADMIN, "/monitor list")).text


async def test_monitor_test_on_a_password_page(engine: Engine, store: FakeShopifyStore) -> None:
    store.set_password(True)
    reply = await engine.dispatch_line(ADMIN, f"/monitor test {store.base_url}")
    assert reply.title.startswith("🔒")


async def test_report_restock_posts_to_reports_and_earns(engine: Engine) -> None:
    recorder = BusRecorder(engine.bus)
    reply = await engine.dispatch_line(MEMBER, '/report restock Kith "Jordan 4 Bred" 10')
    assert reply.ephemeral and "report #1" in reply.text
    await engine.bus.drain()
    assert [post["feed"] for post in recorder.feed] == ["reports"]
    item = recorder.feed[0]["item"]
    assert item["title"] == "📣 Restock reported: Jordan 4 Bred"
    assert "**sneakerhead** saw **Jordan 4 Bred** restock at **Kith** in size **10**" in item["text"]
    member = await engine.identity.resolve(MEMBER)
    assert recorder.earned == [{"kind": "restock_report", "member_id": member.id, "source_id": "1"}]
    too_soon = await engine.dispatch_line(MEMBER, "/report restock Kith Dunk")
    assert too_soon.ephemeral and "You can report another in" in too_soon.text
    other = await engine.dispatch_line(OTHER, "/report restock undefeated.com Samba")
    assert "report #2" in other.text


async def test_report_with_an_unquoted_item_explains_quotes(engine: Engine) -> None:
    reply = await engine.dispatch_line(MEMBER, "/report restock Kith Jordan 4 Bred")
    assert reply.ephemeral and "`size`:" in reply.text and "quotes" in reply.text


async def test_service_is_registered_per_engine(engine: Engine) -> None:
    assert engine.service(MonitorService).engine is engine
