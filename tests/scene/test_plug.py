"""/plug: members with listings near you, best reputation first, and following them; their new
haves reach followers as "plug listing" alerts through the delivery outbox. SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.scene.service import LISTING_TOPIC
from bot.trades.models import TradeHave
from tests.scene.helpers import completed_trade, outbox
from tests.testbot import TestBot
from tests.trades.helpers import FOG, FRESH_OK, PINE, ZEBRA, stock

CITIES = {"dan": "Brooklyn, NY", "bob": "Newark, NJ", "erin": "Queens, NY", "carl": "Leeds, UK", "fay": "Paterson, NJ"}


async def _scene(make_bot: Any, tmp_path: Path) -> TestBot:
    bot: TestBot = await make_bot(**FRESH_OK)
    await stock(bot.engine, tmp_path)
    for name, city in CITIES.items():
        bot.member(name, "telegram")  # reachable by DM: plug alerts go to the outbox for Telegram
        await bot.ok(name, f"/location set {city}")
    await bot.ok("bob", f'/have add "{PINE}" 10 ds price:300')
    await bot.ok("erin", f'/have add "{ZEBRA}" 10.5 vnds')
    await bot.ok("carl", f'/have add "{PINE}" 9 ds')  # an ocean away
    await bot.ok("fay", f'/want add "{PINE}" sizes:10')  # wants only: no plug
    return bot


async def _have_id(bot: TestBot, name: str) -> int:
    async with bot.engine.db.read() as session:
        found = await session.scalar(select(TradeHave.id).where(TradeHave.member_id == await bot.member_id(name)))
    assert found is not None
    return found


async def test_plugs_near_you_best_reputation_first(make_bot: Any, tmp_path: Path) -> None:
    bot = await _scene(make_bot, tmp_path)
    found = await bot.ok("dan", "/plug")
    names = [field.name for field in found.fields]
    # equal reputation (none yet): the nearer band first; Leeds is out of range, fay only wants
    assert names == ["1. erin · < 10 km", "2. bob · 10–25 km"]
    assert "$300" in found.fields[1].value and "for trade" in found.fields[0].value
    assert [button.label for button in found.buttons] == ["Follow erin", "Follow bob"]

    await completed_trade(bot.engine, await bot.member_id("bob"), await bot.member_id("fay"),
                          await _have_id(bot, "bob"), stars=5)  # fmt: skip
    ranked = await bot.ok("dan", "/plug 30")
    assert [field.name for field in ranked.fields] == ["1. bob · 10–25 km", "2. erin · < 10 km"]
    assert "score 2.0 · 1 trades · 5.0/5 (1)" in ranked.fields[0].value

    pine = await bot.ok("dan", "/plug 25 jordan 4 pine green")
    assert [field.name for field in pine.fields] == ["1. bob · 10–25 km"] and "Pine Green" in (pine.title or "")
    far = await bot.ok("dan", f"/plug 500 {PINE}")
    assert len(far.fields) == 1  # Leeds is 5,500 km away: still out of any allowed radius
    none = await bot.ok("dan", f"/plug {FOG}")
    assert "No trusted sellers or traders" in none.text
    await bot.ok("dan", "/trades block @erin")
    assert [field.name for field in (await bot.ok("dan", "/plug")).fields] == ["1. bob · 10–25 km"]


async def test_absurd_radius_or_no_location_is_refused(make_bot: Any, tmp_path: Path) -> None:
    bot = await _scene(make_bot, tmp_path)
    bot.member("gus")
    await bot.fails("gus", "/plug", "Set your city first")
    await bot.fails("dan", "/plug 5000", "give 1 to 500 km")
    await bot.fails("dan", "/plug 0", "give 1 to 500 km")
    await bot.fails("dan", "/plug 400mi", "give 1 to 500 km")  # 644 km
    assert len((await bot.ok("dan", "/plug 300mi")).fields) == 2
    strict = await make_bot(**FRESH_OK, scene={"min_plug_score": 1})
    strict.member("dan")
    await strict.ok("dan", "/location set Brooklyn, NY")
    assert "No trusted sellers" in (await strict.ok("dan", "/plug")).text


async def test_following_a_plug_brings_their_new_listings_as_alerts(make_bot: Any, tmp_path: Path) -> None:
    bot = await _scene(make_bot, tmp_path)
    engine = bot.engine
    dan, fay = await bot.member_id("dan"), await bot.member_id("fay")
    listed = await bot.ok("dan", "/plug")
    followed = await bot.press("dan", listed, "Follow bob")
    assert followed.title == "🔌 Following" and "plug listing" in followed.text
    again = await bot.ok("dan", "/plug follow @bob")
    assert again.title == "🔌 Already following"
    await bot.ok("fay", "/plug follow @bob")
    await bot.ok("fay", "/quiet 00:00-23:59")  # fay is in quiet hours all day
    await bot.fails("dan", "/plug follow @dan", "can't follow yourself")
    await bot.fails("dan", "/plug follow @nobody", "No member called")
    following = await bot.ok("dan", "/plug following")
    assert "**bob** · 10–25 km" in following.text

    await bot.ok("bob", f'/have add "{ZEBRA}" 11 ds price:250')
    await bot.ok("bob", f'/want add "{FOG}" sizes:10')  # a want is no news for followers
    await engine.bus.drain()
    (row,) = await outbox(engine, dan, "plug")
    assert row.channel == "telegram"
    alert = row.payload
    assert alert["title"] == f"🔌 bob listed {ZEBRA}"
    assert {f["name"]: f["value"] for f in alert["fields"]} == {"Size": "11", "Price": "$250", "Distance": "10–25 km"}
    assert alert["footer"].startswith("plug listing")
    (quiet,) = await outbox(engine, fay, "plug")
    assert quiet.next_attempt_at > row.next_attempt_at  # waits for the end of fay's quiet hours

    listing_id = int(row.group_key.split(":")[1])
    replay = {"listing_id": listing_id, "member_id": await bot.member_id("bob"), "kind": "sale", "item": ZEBRA,
              "size": "11", "price": 250.0}  # fmt: skip
    await engine.bus.publish(LISTING_TOPIC, replay)
    await engine.bus.drain()
    assert len(await outbox(engine, dan, "plug")) == 1  # the same listing reaches a follower once

    unfollowed = await bot.ok("dan", "/plug unfollow @bob")
    assert unfollowed.title == "🔌 Unfollowed"
    await bot.fails("dan", "/plug unfollow @bob", "don't follow")
    await bot.ok("bob", f'/have add "{FOG}" 12 used')
    await engine.bus.drain()
    assert len(await outbox(engine, dan, "plug")) == 1
    assert len(await outbox(engine, fay, "plug")) == 2
