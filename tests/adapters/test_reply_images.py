"""Replies with several photos on each platform: Discord attaches them (the embed shows the first),
Telegram sends an album before the text and its buttons, SMS and the shell count them; the photos
survive the outbox's JSON on the way to a DM."""

from __future__ import annotations

from typing import Any

import pytest

from bot.delivery import Delivery
from core.commands import Command
from core.context import Context
from core.delivery.outbox import NewMessage, enqueue
from core.replies import Button, Reply
from core.targets import DiscordChannel, TelegramChat
from tests.testbot import DiscordTestBot, TelegramTestBot, heard_on_discord

pytestmark = pytest.mark.filterwarnings("ignore:.*attribute `retry_after`:DeprecationWarning")

PHOTOS = [("left.jpg", b"\xff\xd8left"), ("right.jpg", b"\xff\xd8right"), ("box label.jpg", b"\xff\xd8box")]


def card(*, chart: bool = False, count: int = 3) -> Reply:
    photos = [(f"p{n}.jpg", f"photo {n}".encode()) for n in range(count)] if count != 3 else PHOTOS
    return Reply(
        title="Legit check #4",
        text="Jordan 4 Bred, size 10",
        images=photos,
        image=b"\x89PNGchart" if chart else None,
        image_name="votes.png",
        buttons=[Button(label="Vote legit", action="/ping")],
    )


async def _card(ctx: Context) -> Reply:
    return card()


async def _charted(ctx: Context) -> Reply:
    return card(chart=True, count=10)


COMMANDS = [Command("tcard", "test", _card), Command("tcharted", "test", _charted)]


async def test_discord_attaches_every_photo_and_the_embed_shows_the_first(make_discord_bot: Any) -> None:
    bot: DiscordTestBot = await make_discord_bot(commands=COMMANDS)
    heard = await bot.ok(bot.member("sam"), "/tcard")
    assert [(image.name, image.data) for image in heard.images] == [
        ("left.jpg", b"\xff\xd8left"),
        ("right.jpg", b"\xff\xd8right"),
        ("box_label.jpg", b"\xff\xd8box"),
    ]
    attachments = heard.raw.payload["attachments"]
    assert heard.image_url == attachments[0]["url"], "the embed's image is the first photo"
    assert heard.title == "Legit check #4" and [b.label for b in heard.buttons] == ["Vote legit"]
    charted = await bot.ok("sam", "/tcharted")
    names = [image.name for image in charted.images]
    assert len(names) == 10 and names[0] == "votes.png", "ten files at most, the chart first"


async def test_a_discord_dm_from_the_outbox_carries_its_photos(make_discord_bot: Any) -> None:
    bot: DiscordTestBot = await make_discord_bot(commands=COMMANDS)
    sam = bot.member("sam")
    member_id = await bot.member_id(sam)
    async with bot.engine.db.transaction() as session:
        message = NewMessage(source="test", ref="1", member_id=member_id, channels=["discord"], reply=card())
        await enqueue(session, [message])
    bot.engine.service(Delivery).wake()
    dm = heard_on_discord(await bot.fake.wait_for_dm(sam.native.user.id), bot.fake.uploads)
    assert [image.data for image in dm.images] == [data for _, data in PHOTOS]
    assert dm.image_url == dm.raw.payload["attachments"][0]["url"]


async def test_telegram_sends_an_album_then_the_text_with_its_buttons(make_telegram_bot: Any) -> None:
    bot: TelegramTestBot = await make_telegram_bot(commands=COMMANDS)
    heard = await bot.ok(bot.member("sam"), "/tcard")
    assert [image.data for image in heard.images] == [data for _, data in PHOTOS]
    assert heard.title == "Legit check #4" and [b.label for b in heard.buttons] == ["Vote legit"]
    [album] = bot.fake.calls_of("sendMediaGroup")
    assert len(album.params["media"]) == 3 and all(item["type"] == "photo" for item in album.params["media"])


async def test_telegram_splits_more_than_ten_photos_into_albums(make_telegram_bot: Any) -> None:
    bot: TelegramTestBot = await make_telegram_bot(commands=COMMANDS)
    heard = await bot.ok(bot.member("sam"), "/tcharted")
    assert len(heard.images) == 11 and heard.images[0].data == b"\x89PNGchart"
    assert [len(call.params["media"]) for call in bot.fake.calls_of("sendMediaGroup")] == [10]
    assert len(bot.fake.calls_of("sendPhoto")) == 1, "the eleventh goes as a photo of its own"


async def test_a_telegram_dm_from_the_outbox_carries_its_photos(make_telegram_bot: Any) -> None:
    bot: TelegramTestBot = await make_telegram_bot(commands=COMMANDS)
    sam = bot.member("sam")
    member_id = await bot.member_id(sam)
    async with bot.engine.db.transaction() as session:
        message = NewMessage(source="test", ref="1", member_id=member_id, channels=["telegram"], reply=card())
        await enqueue(session, [message])
    bot.engine.service(Delivery).wake()
    heard = await bot.read_reply(sam.native.id)
    assert [image.data for image in heard.images] == [data for _, data in PHOTOS]
    assert heard.text == "Jordan 4 Bred, size 10"


async def test_a_feed_post_crosses_the_bus_with_its_photos(make_discord_bot: Any) -> None:
    bot: DiscordTestBot = await make_discord_bot()
    channel = bot.fake.add_channel("reports")
    await bot.engine.feeds.bind("reports", DiscordChannel(channel_id=channel.id), by=None)
    await bot.engine.feeds.publish("reports", card())
    await bot.engine.bus.drain()
    posted = heard_on_discord(await bot.fake.wait_for_message(channel.id), bot.fake.uploads)
    assert [image.data for image in posted.images] == [data for _, data in PHOTOS]


async def test_a_keyed_telegram_post_with_an_album_edits_only_its_text(make_telegram_bot: Any) -> None:
    bot: TelegramTestBot = await make_telegram_bot()
    chat = bot.fake.group(-100556, "Checks")
    await bot.engine.feeds.bind("reports", TelegramChat(chat_id=chat.id), by=None)
    await bot.engine.feeds.publish("reports", card(), key="lc:4")
    await bot.engine.bus.drain()
    posted = await bot.read_reply(chat.id)
    assert len(posted.images) == 3 and posted.title == "Legit check #4"
    await bot.engine.feeds.update("reports", "lc:4", card().model_copy(update={"text": "Voted legit"}))
    await bot.engine.bus.drain()
    [edit] = bot.fake.edits
    assert edit.method == "editMessageText" and edit.params["message_id"] == posted.raw.message_id
    assert "Voted legit" in edit.params["text"]
