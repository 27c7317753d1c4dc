"""/closet end to end: pairs added in a size checked against the pair's audience, valued at the
30-day median of their size (or of every size, said so), profit and loss, a chart that arrives as an
image on Discord and Telegram, private to its owner, and moved to the survivor on a /link merge; on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.market import Market
from bot.market.closet_chart import value_series
from bot.market.models import ClosetItem
from bot.market.prices import Sale
from bot.monitors.prices import record
from core.engine import Engine
from core.storage.database import Database
from tests.account.links import confirm_link
from tests.market.data import PRODUCTS, ZEBRA, write, zebra_sales
from tests.testbot import DiscordTestBot, Heard, TelegramTestBot, TestBot

PNG = b"\x89PNG\r\n\x1a\n"


async def _stock(engine: Engine, tmp_path: Path) -> None:
    await engine.service(Market).import_file(str(write(tmp_path, "products.csv", PRODUCTS)))
    await record(engine.db, zebra_sales())


async def test_closet_on_discord(make_discord_bot: Any, database: Database, tmp_path: Path) -> None:
    dc: DiscordTestBot = await make_discord_bot(db=database)
    await _stock(dc.engine, tmp_path)
    ann, bo = dc.member("ann"), dc.member("bo")

    added = await dc.ok(ann, "/closet add yeezy zebra 10 250")
    assert added.ephemeral and added.title == "👟 Added to your closet"
    assert added.text.startswith(f"`#1` {ZEBRA}, size 10 (paid $250)")
    await dc.ok(ann, f"/closet add {ZEBRA} size:12")  # no sales in 12: valued over every size

    shown = await dc.ok(ann, "/closet show")
    assert isinstance(shown, Heard) and shown.ephemeral and shown.title == "👟 Your closet (2 pairs)"
    lines = shown.text.splitlines()
    assert lines[0] == f"`#1` **{ZEBRA}** · size 10 · $320 (size 10, 30-day median) · paid $250 · +$70 (+28%)"
    assert lines[1] == f"`#2` **{ZEBRA}** · size 12 · $318 (all sizes, 30-day median)"
    assert lines[2] == "**Total:** $638 at market for 2 of 2 pairs; +$70 (+28%) on what you paid for them"
    attachment = shown.raw.payload["attachments"][0]
    assert attachment["filename"] == "closet.png" and shown.image_url == attachment["url"]
    assert dc.fake.uploads[attachment["url"]].startswith(PNG)

    others = await dc.ok(bo, "/closet show")
    assert others.ephemeral and "Your closet is empty" in others.text
    stolen = await dc.fails(bo, "/closet remove 1")
    assert "No pair #1 in your closet" in stolen.text

    gone = await dc.ok(ann, "/closet remove 2")
    assert gone.ephemeral and gone.text == "Pair #2 left your closet."
    assert (await dc.ok(ann, "/closet show")).title == "👟 Your closet (1 pair)"


async def test_bad_input_gets_specific_messages(make_discord_bot: Any, database: Database, tmp_path: Path) -> None:
    dc: DiscordTestBot = await make_discord_bot(db=database)
    await _stock(dc.engine, tmp_path)
    ann = dc.member("ann")

    gs = await dc.fails(ann, "/closet add jordan 4 military black gs 10")
    assert "Size `10` doesn't exist for Jordan 4 Retro Military Black (GS): GS sizes run 3.5Y to 7Y." in gs.text
    youth = await dc.ok(ann, "/closet add jordan 4 military black gs 5.5y")
    assert "Jordan 4 Retro Military Black (GS), size 5.5Y" in youth.text
    too_much = await dc.fails(ann, f"/closet add {ZEBRA} size:10 paid:200000")
    assert "at most 100,000" in too_much.text
    no_size = await dc.fails(ann, "/closet add yeezy zebra")
    assert "Which size is yours?" in no_size.text
    vague = await dc.ok(ann, "/closet add panda 10 110")
    assert vague.title is not None and vague.title.startswith("🔎 Did you mean")
    picked = await dc.press(ann, vague, "Nike Dunk Low Retro White Black Panda (2021) (Women's)")
    assert "Panda (2021) (Women's), size 10 (paid $110)" in picked.text
    missing = await dc.ok(ann, "/closet add qqqqzzzz 10")
    assert missing.title == "🔎 No match" and "Closest names:" in missing.text
    async with dc.engine.db.read() as session:
        assert [row.size for row in await session.scalars(select(ClosetItem).order_by(ClosetItem.id))] == ["5.5Y", "10"]


async def test_closet_chart_on_telegram(make_telegram_bot: Any, database: Database, tmp_path: Path) -> None:
    tg: TelegramTestBot = await make_telegram_bot(db=database)
    await _stock(tg.engine, tmp_path)
    ann = tg.member("ann")
    await tg.ok(ann, "/closet add yeezy zebra size 9")
    shown = await tg.ok(ann, "/closet show")
    assert isinstance(shown, Heard) and shown.raw.method == "sendPhoto"
    assert shown.title == "👟 Your closet (1 pair)" and "size 9 · $314 (size 9, 30-day median)" in shown.text
    upload = next(call for call in tg.fake.calls if call.method == "sendPhoto")
    assert upload.files["photo"].startswith(PNG)


async def test_link_merge_moves_closet_pairs(bot: TestBot, tmp_path: Path) -> None:
    await _stock(bot.engine, tmp_path)
    bot.member("alice")
    bot.member("alice_tg", "telegram")
    await bot.ok("alice", "/closet add yeezy zebra 10 250")
    await bot.ok("alice_tg", "/closet add yeezy zebra 11 300")
    code = (await bot.ok("alice", "/link")).text.split("**")[1]
    await bot.ok("alice_tg", f"/link {code}")
    await confirm_link(bot.engine, bot["alice"].caller)

    survivor = await bot.member_id("alice")
    async with bot.engine.db.read() as session:
        owners = {row.size: row.member_id for row in await session.scalars(select(ClosetItem))}
    assert owners == {"10": survivor, "11": survivor}
    shown = await bot.ok("alice_tg", "/closet show")
    assert shown.title == "👟 Your closet (2 pairs)"


def test_the_value_line_carries_each_pairs_last_weekly_median_forward() -> None:
    monday = datetime(2018, 10, 1, 12, tzinfo=UTC)
    early = [Sale(monday + timedelta(weeks=week), price, "10", "10") for week, price in ((0, 100), (0, 120), (2, 150))]
    late = [Sale(monday + timedelta(weeks=1), 200, "9", "9")]
    points = value_series([early, late])
    assert [(week.isoformat(), value) for week, value in points] == [
        ("2018-10-01", 110.0),  # only the first pair has a price yet
        ("2018-10-08", 310.0),  # the first pair's week-0 median carried forward
        ("2018-10-15", 350.0),
    ]
