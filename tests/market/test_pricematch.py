"""/pricematch end to end: a real monitor polls the local Shopify store, its product is linked to the
catalog, and the store's live prices meet eBay asks, cheapest first, with link buttons; on Discord
and Telegram, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.market import Market
from bot.monitors.prices import record
from bot.monitors.service import MonitorService
from bot.monitors.sources.resale import PriceObservation
from core.storage.database import Database
from core.storage.types import utcnow
from tests.fakes.shopify_store import FakeShopifyStore
from tests.market.data import PRODUCTS, write
from tests.testbot import DiscordTestBot, TelegramTestBot

FAST = {"host_min_interval": {"127.0.0.1": 0.0}, "backoff_base_seconds": 0.2, "backoff_max_seconds": 1.0}
PINE = "Jordan 4 Retro SB Pine Green"


@pytest.fixture
async def store() -> AsyncIterator[FakeShopifyStore]:
    shop = FakeShopifyStore()
    await shop.start()
    try:
        yield shop
    finally:
        await shop.stop()


async def _stock(bot: DiscordTestBot | TelegramTestBot, store: FakeShopifyStore, tmp_path: Path) -> None:
    """The catalog, a monitored store that lists the pair in sizes 9 and 10 (11 sold out), and asks."""
    engine = bot.engine
    await engine.service(Market).import_file(str(write(tmp_path, "products.csv", PRODUCTS)))
    monitors = engine.service(MonitorService)
    row, _probe, outcome = await monitors.add(store.base_url, interval=3600)
    assert outcome.status == "baseline"
    store.add_product("Air Jordan 4 Retro SB 'Pine Green'", sizes=["9", "10", "11"], available=["9", "10"],
                      price=225.0, vendor="Jordan")  # fmt: skip
    polled = await monitors.poll(row.id)
    assert polled.error is None
    await engine.bus.drain()
    now = utcnow()
    await record(engine.db, [
        PriceObservation(now - timedelta(days=1), "ebay", "listing", "Nike Air Jordan 4 Retro SB Pine Green", 210.0,
                         "a1", size="10", url="https://www.ebay.com/itm/1"),
        PriceObservation(now - timedelta(days=2), "ebay", "listing", "Air Jordan 4 Retro SB Pine Green DR5415-103",
                         260.0, "a2", size="11", url="https://www.ebay.com/itm/2"),
        PriceObservation(now - timedelta(days=40), "ebay", "listing", "Jordan 4 Retro SB Pine Green", 150.0,
                         "old", size="10", url="https://www.ebay.com/itm/3"),
    ])  # fmt: skip


async def test_cheapest_first_with_links_on_discord(
    make_discord_bot: Any, database: Database, store: FakeShopifyStore, tmp_path: Path
) -> None:
    dc: DiscordTestBot = await make_discord_bot(db=database, monitors=FAST)
    await _stock(dc, store, tmp_path)
    ann = dc.member("ann")

    interaction = await dc.fake.send_autocomplete("pricematch", {"item": "jordn 4 pine"}, "item", user=ann.native)
    choices = (await dc.fake.wait_for_response(interaction))["data"]["choices"]
    assert choices[0]["value"] == PINE

    every = await dc.ok(ann, "/pricematch jordan 4 pine green")
    assert every.title == f"🏷️ Price match: {PINE}"
    host = store.base_url.removeprefix("http://")
    lines = every.text.splitlines()
    assert lines[0] == "1. **$210** at ebay (resale ask, size 10)"
    assert lines[1] == f"2. **$225** at {host} (in stock, size 9, 10)"
    assert lines[2] == "3. **$260** at ebay (resale ask, size 11)"
    assert len(lines) == 3  # the 40-day-old ask is not current
    urls = [button.url for button in every.buttons]
    assert urls[0] == "https://www.ebay.com/itm/1" and urls[2] == "https://www.ebay.com/itm/2"
    assert urls[1] is not None and urls[1].startswith(store.base_url + "/products/")

    nine = await dc.ok(ann, "/pricematch jordan 4 pine green size:9")
    assert nine.title == f"🏷️ Price match: {PINE} · size 9"
    assert nine.text == f"1. **$225** at {host} (in stock, size 9)"

    eleven = await dc.ok(ann, "/pricematch jordan 4 pine green size:11")  # sold out at the store
    assert eleven.text == "1. **$260** at ebay (resale ask, size 11)"

    none = await dc.ok(ann, "/pricematch jordan 4 pine green size:12")
    assert none.text.startswith("Nothing current in size 12") and "/price" in none.text
    history = await dc.press(ann, none, "💲 Price history")
    assert history.title == f"💲 {PINE}"


async def test_nothing_current_and_no_match_on_telegram(
    make_telegram_bot: Any, database: Database, store: FakeShopifyStore, tmp_path: Path
) -> None:
    tg: TelegramTestBot = await make_telegram_bot(db=database, monitors=FAST)
    await _stock(tg, store, tmp_path)
    ann = tg.member("ann")

    host = store.base_url.removeprefix("http://")
    priced = await tg.ok(ann, "/pricematch jordan 4 pine green size 10")
    assert priced.title == f"🏷️ Price match: {PINE} · size 10"
    lines = priced.text.splitlines()
    assert lines[:3] == ["1. $210 at ebay (resale ask, size 10)", f"2. $225 at {host} (in stock, size 10)", ""]
    assert [button.label for button in priced.buttons] == ["$210 · ebay", f"$225 · {host}"]

    quiet = await tg.ok(ann, "/pricematch dunk low grey fog")
    assert quiet.text.startswith("Nothing current: no monitored store has it in stock")
    vague = await tg.ok(ann, "/pricematch dunk low size 10")
    assert vague.title is not None and vague.title.startswith("🔎 Did you mean")
    grey = await tg.press(ann, vague, "Nike Dunk Low Grey Fog")
    assert grey.title == "🏷️ Price match: Nike Dunk Low Grey Fog · size 10"
    missing = await tg.ok(ann, "/pricematch qqqqzzzz")
    assert missing.title == "🔎 No match" and "Closest names:" in missing.text
    bad = await tg.fails(ann, "/pricematch jordan 4 pine green size:huge")
    assert "is not a shoe size" in bad.text
