"""/search and /price end to end: real discord.py and python-telegram-bot against the local fake
servers, on SQLite and PostgreSQL. Charts arrive as uploaded images (a Discord attachment shown in
the embed, a Telegram photo)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.market import Market
from bot.market.models import CatalogLink
from bot.monitors.prices import record
from bot.monitors.service import EVENT_TOPIC
from bot.monitors.sources.resale import PriceObservation
from core.storage.database import Database
from tests.market.data import PRODUCTS, ZEBRA, write, zebra_sales
from tests.testbot import DiscordTestBot, Heard, TelegramTestBot

PNG = b"\x89PNG\r\n\x1a\n"


async def _stock(bot: Any, tmp_path: Path) -> None:
    await bot.engine.service(Market).import_file(str(write(tmp_path, "products.csv", PRODUCTS)))
    await record(bot.engine.db, zebra_sales())


async def test_search_and_price_on_discord(make_discord_bot: Any, database: Database, tmp_path: Path) -> None:
    dc: DiscordTestBot = await make_discord_bot(db=database)
    await _stock(dc, tmp_path)
    ann = dc.member("ann")

    found = await dc.ok(ann, "/search jordn 4 pine gren")
    assert found.title == "👟 Jordan 4 Retro SB Pine Green"
    panda = await dc.ok(ann, "/search panda")
    assert panda.title is not None and panda.title.startswith("🔎 Did you mean")
    picked = await dc.press(ann, panda, "Nike Dunk Low Retro White Black Panda (2021) (Women's)")
    assert picked.title == "👟 Nike Dunk Low Retro White Black Panda (2021) (Women's)"
    retro = await dc.ok(ann, "/search dunk low retro panda")
    assert retro.title == "👟 Nike Dunk Low Retro White Black Panda (2021)"  # the men's pair unless asked

    interaction = await dc.fake.send_autocomplete("price", {"item": "yzy zebr"}, "item", user=ann.native)
    choices = (await dc.fake.wait_for_response(interaction))["data"]["choices"]
    assert choices[0]["value"] == ZEBRA

    priced = await dc.ok(ann, f"/price {ZEBRA} size:10")
    assert isinstance(priced, Heard) and priced.title == f"💲 {ZEBRA} · size 10"
    fields = {field.name: field.value for field in priced.fields}
    assert fields["Last sale"].startswith("$305 on 2018-10-30 (size 10)")
    assert "Premium over retail" in fields and "30-day median" in fields and "Trend" in fields
    attachment = priced.raw.payload["attachments"][0]
    assert attachment["filename"] == "price.png" and priced.image_url == attachment["url"]
    assert dc.fake.uploads[attachment["url"]].startswith(PNG)

    wrong_size = await dc.fails(ann, f"/price {ZEBRA} size:15")
    assert "Sizes with sales: 9, 10, 11" in wrong_size.text


async def test_search_and_price_on_telegram(make_telegram_bot: Any, database: Database, tmp_path: Path) -> None:
    tg: TelegramTestBot = await make_telegram_bot(db=database)
    await _stock(tg, tmp_path)
    ann = tg.member("ann")

    ambiguous = await tg.ok(ann, "/search dunk low")
    assert ambiguous.title is not None and ambiguous.title.startswith("🔎 Did you mean")
    labels = [button.label for button in ambiguous.buttons]
    assert len(labels) == 5 and all(label.startswith("Nike Dunk Low") for label in labels)
    assert (await tg.press(ann, ambiguous, labels[1])).title == f"👟 {labels[1]}"
    womens = await tg.ok(ann, "/search wmns dunk low next nature panda")
    assert womens.title == "👟 Nike Dunk Low Next Nature White Black Panda (Women's)"

    priced = await tg.ok(ann, "/price yeezy zebra size 10")
    assert isinstance(priced, Heard) and priced.raw.method == "sendPhoto"
    assert priced.title == f"💲 {ZEBRA} · size 10" and "7-day median" in priced.text
    upload = next(call for call in tg.fake.calls if call.method == "sendPhoto")
    assert upload.files["photo"].startswith(PNG)

    few = await tg.ok(ann, "/price jordan 4 pine green")
    assert "No sales recorded for this pair yet" in few.text
    missing = await tg.ok(ann, "/price qqqqzzzz")
    assert missing.title == "🔎 No match" and "Closest names:" in missing.text


async def test_too_few_sales_shows_what_there_is(make_telegram_bot: Any, database: Database, tmp_path: Path) -> None:
    tg: TelegramTestBot = await make_telegram_bot(db=database)
    await tg.engine.service(Market).import_file(str(write(tmp_path, "products.csv", PRODUCTS)))
    await record(tg.engine.db, zebra_sales(1))
    few = await tg.ok(tg.member("ann"), f"/price {ZEBRA}")
    assert "Only 3 sales recorded: too few for a market price" in few.text
    assert isinstance(few, Heard) and few.raw.method == "sendMessage"
    assert "2018-10-30: $300 (size 9)" in few.text


async def test_monitored_products_link_to_the_catalog(make_discord_bot: Any, tmp_path: Path) -> None:
    dc: DiscordTestBot = await make_discord_bot()
    await _stock(dc, tmp_path)
    title = "Air Jordan 4 Retro SB 'Pine Green'"
    event = {"event_id": "e1", "kind": "restock", "monitor_id": 7, "product": {"id": "4242", "title": title}}
    await dc.engine.bus.publish(EVENT_TOPIC, event)
    await dc.engine.bus.publish(EVENT_TOPIC, {**event, "product": {"id": "99", "title": "Gift card"}})
    await dc.engine.bus.drain()
    async with dc.engine.db.read() as session:
        links = list(await session.scalars(select(CatalogLink)))
    assert [(link.monitor_id, link.product_id) for link in links] == [(7, "4242")]
    linked = await dc.engine.service(Market).linked(7, "4242")
    assert linked is not None and linked.name == "Jordan 4 Retro SB Pine Green"

    seen = datetime(2023, 4, 1, tzinfo=UTC)
    await record(dc.engine.db, [
        PriceObservation(seen, "shopify:kicks.example", "retail", title, 225.0, "r1"),
        PriceObservation(seen, "ebay", "listing", "Nike Air Jordan 4 Retro SB Pine Green DR5415-103", 410.0, "l1",
                         size="10"),
        PriceObservation(seen, "ebay", "listing", "Jordan 4 Retro SB Pine Green men's", 395.0, "l2", size="9"),
        PriceObservation(seen, "ebay", "listing", "Jordan 4 Retro Military Black", 250.0, "l3", size="10"),
    ])  # fmt: skip
    priced = await dc.ok(dc.member("ann"), "/price jordan 4 pine green")
    fields = {field.name: field.value for field in priced.fields}
    assert "No sales recorded for this pair yet." in priced.text
    assert fields["Retail now"] == "$225 at kicks.example"
    assert fields["Lowest ask"] == "$395 (9) on ebay, 2 listed"
    in_ten = await dc.ok(dc.member("bo"), "/price jordan 4 pine green size:10")
    assert {field.name: field.value for field in in_ten.fields}["Lowest ask"] == "$410 (10) on ebay, 1 listed"


async def test_price_by_sms_is_text_only(make_sms_bot: Any, tmp_path: Path) -> None:
    sms = await make_sms_bot()
    await _stock(sms, tmp_path)
    texts = await sms.texts(sms.member("sam"), "/price yeezy zebra size 9")
    assert texts and texts[0].startswith(f"{ZEBRA} * size 9") and "30-day median" in "\n".join(texts)
    assert not any("PNG" in text or "price.png" in text for text in texts)


async def test_a_restock_report_autocompletes_the_pair_on_discord(
    make_discord_bot: Any, database: Database, tmp_path: Path
) -> None:
    dc: DiscordTestBot = await make_discord_bot(db=database)
    await _stock(dc, tmp_path)
    ann = dc.member("ann")
    interaction = await dc.fake.send_autocomplete(
        "report restock", {"store": "Kith", "item": "yzy zebr"}, "item", user=ann.native
    )
    choices = (await dc.fake.wait_for_response(interaction))["data"]["choices"]
    assert choices[0]["value"] == ZEBRA
