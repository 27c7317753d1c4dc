"""/location, /spot, /plug and /heatmap end to end through real discord.py and python-telegram-bot
against the local fake servers, on SQLite and PostgreSQL: buttons pressed by other members, the plug
listing alert arriving as a DM, the heat map as an uploaded image."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import select

from bot.economy import EconomyRuntime
from bot.scene import Scene
from bot.scene.models import Sighting
from core.replies import Reply
from core.storage.database import Database
from core.targets import DiscordChannel, TelegramChat
from tests.scene.helpers import shop_restocks
from tests.testbot import DiscordTestBot, Heard, TelegramTestBot, heard_on_discord, heard_on_telegram
from tests.trades.helpers import FRESH_OK, PINE, ZEBRA, stock

PNG = b"\x89PNG\r\n\x1a\n"


def _photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


async def _press(bot: DiscordTestBot | TelegramTestBot, who: str, reply: Reply, label: str) -> str:
    """What ``who`` is shown on pressing a button: a reply on Discord; on Telegram a short private
    answer comes as the alert only the presser sees (Telegram's one ephemeral kind)."""
    if isinstance(bot, DiscordTestBot):
        return (await bot.press(who, reply, label)).plain_text()
    assert isinstance(reply, Heard)
    action = next(button.action for button in reply.buttons if button.label == label)
    answered = len(bot.fake.callback_answers)
    bot.fake.press_button(bot[who].native, reply.raw, action)
    await bot.fake.wait_for(lambda: len(bot.fake.callback_answers) > answered)
    shown: str = bot.fake.callback_answers[-1]["text"]
    assert bot.fake.callback_answers[-1]["show_alert"] is True
    return shown


async def _sighting_confirmed(bot: DiscordTestBot | TelegramTestBot, feed_post: Callable[[], Awaitable[Heard]]) -> None:
    """ann spots a pair with a photo; it is posted to the spotted feed's channel (``feed_post`` reads
    it there); bob confirms from that post's button, cat from /spotted's; ann is paid."""
    for name in ("ann", "bob", "cat"):
        await bot.ok(name, "/location set Brooklyn, NY")
    posted = await bot.ok("ann", '/spot Kith "Jordan 4 Bred" 10', attachments=[("shelf.png", _photo())])
    assert "sighting #1" in posted.text
    async with bot.engine.db.read() as session:
        sighting = await session.scalar(select(Sighting))
    assert sighting is not None and sighting.photo is not None
    assert bot.engine.service(Scene).photos.exists(sighting.photo)  # stored, metadata stripped
    card = await feed_post()
    assert "Jordan 4 Bred" in (card.title or "") and "Kith" in card.text
    first = await _press(bot, "bob", card, "✅ I see it too")
    assert "1/2 confirmations" in first, first
    listed = await bot.ok("cat", "/spotted")
    assert isinstance(listed, Heard) and "Jordan 4 Bred" in listed.text
    second = await _press(bot, "cat", listed, "✅ #1")
    assert "is confirmed (2/2)" in second, second
    await bot.engine.bus.drain()
    economy = bot.engine.service(EconomyRuntime).economy
    assert await economy.balance(await bot.member_id("ann")) == 10


async def _plugs_and_heat(
    bot: DiscordTestBot | TelegramTestBot, tmp_path: Path, alerted: Callable[[], Awaitable[None]]
) -> Heard:
    """bob lists near ann; ann finds and follows him; his next listing is a plug-listing alert
    (``alerted`` waits for it); the heat map comes back as an image. Returns the heat map as heard."""
    await stock(bot.engine, tmp_path)
    await bot.ok("bob", f'/have add "{PINE}" 10 ds price:300')
    found = await bot.ok("ann", "/plug 25")
    shown = found.plain_text().replace("**", "")
    assert "1. bob · < 10 km" in shown and "$300" in shown and "2." not in shown
    followed = await _press(bot, "ann", found, "Follow bob")
    assert followed.startswith("🔌 Following") and "(plug listing)" in followed
    await bot.fails("ann", "/plug 9000", "give 1 to 500 km")
    await bot.ok("bob", f'/have add "{ZEBRA}" 11 ds price:250')
    await alerted()
    await shop_restocks(bot.engine, 40.72, -73.99, [1, 2])
    heat = await bot.ok("ann", "/heatmap Brooklyn, NY 30")
    assert isinstance(heat, Heard) and "2 restocks, 1 sighting and 2 listings." in heat.text
    return heat


async def test_scene_on_discord(make_discord_bot: Any, database: Database, tmp_path: Path) -> None:
    dc: DiscordTestBot = await make_discord_bot(db=database, **FRESH_OK)
    ann = dc.member("ann")
    dc.member("bob"), dc.member("cat")
    channel = dc.fake.add_channel("spotted")
    await dc.engine.feeds.bind("spotted", DiscordChannel(channel_id=channel.id), by=None)

    async def feed_post() -> Heard:
        posted = await dc.fake.wait_for_message(channel.id)
        card = heard_on_discord(posted, dc.fake.uploads)
        attachment = posted.payload["attachments"][0]
        assert attachment["filename"] == "sighting-1.png" and card.image_url == attachment["url"]  # the photo
        return card

    await _sighting_confirmed(dc, feed_post)

    async def alerted() -> None:
        dm = await dc.fake.wait_for_dm(ann.native.user.id)
        assert dm.embeds[0]["title"] == f"🔌 bob listed {ZEBRA}"
        assert dm.embeds[0]["footer"]["text"].startswith("plug listing")

    heat = await _plugs_and_heat(dc, tmp_path, alerted)
    attachment = heat.raw.payload["attachments"][0]
    assert attachment["filename"] == "heatmap.png" and heat.image_url == attachment["url"]
    assert dc.fake.uploads[attachment["url"]].startswith(PNG)


async def test_scene_on_telegram(make_telegram_bot: Any, database: Database, tmp_path: Path) -> None:
    tg: TelegramTestBot = await make_telegram_bot(db=database, **FRESH_OK)
    ann = tg.member("ann")
    tg.member("bob"), tg.member("cat")
    group = tg.fake.group(-100555, "Spotted")
    await tg.engine.feeds.bind("spotted", TelegramChat(chat_id=group.id), by=None)

    async def feed_post() -> Heard:
        posted = await tg.fake.wait_for_message(group.id, contains="Spotted")
        assert posted.method == "sendPhoto" and posted.uploads  # the photo, with the post as its caption
        return heard_on_telegram(posted)

    await _sighting_confirmed(tg, feed_post)

    async def alerted() -> None:
        alert = await tg.fake.wait_for_message(ann.native.id)  # ann's private chat with the bot
        assert f"bob listed {ZEBRA}" in alert.text and "plug listing" in alert.text

    heat = await _plugs_and_heat(tg, tmp_path, alerted)
    assert heat.raw.method == "sendPhoto"
    upload = next(call for call in reversed(tg.fake.calls) if call.method == "sendPhoto")
    assert upload.files["photo"].startswith(PNG)
