"""Replies carrying files (``Reply.files``): Discord attaches them after the photos, Telegram sends
each with ``sendDocument`` (a lone file with a short reply carries it as its caption and buttons),
SMS and the shell only name them; files survive the outbox's and the bus's JSON."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from adapters.discord.render import FILES_LIMIT, attachment_names
from adapters.shell.frontend import render_text
from adapters.sms.render import render_reply
from bot.delivery import Delivery
from core.commands import Command
from core.context import Context
from core.delivery.outbox import NewMessage, enqueue
from core.replies import MAX_REPLY_FILE_BYTES, Button, Reply, ReplyFile
from core.targets import DiscordChannel
from tests.testbot import DiscordTestBot, TelegramTestBot, heard_on_discord

pytestmark = pytest.mark.filterwarnings("ignore:.*attribute `retry_after`:DeprecationWarning")

ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"
NOTES = b"size 10, pay by card"


def with_files(*, text: str = "Your calendar", photos: bool = False, files: int = 1) -> Reply:
    documents = [ReplyFile(name="drops.ics", data=ICS, content_type="text/calendar")]
    documents += [ReplyFile(name=f"notes {n}.txt", data=NOTES) for n in range(files - 1)]
    return Reply(
        title="📆 Drop calendar",
        text=text,
        images=[("left.jpg", b"\xff\xd8left")] if photos else [],
        files=documents,
        buttons=[Button(label="Again", action="/ping")],
        ephemeral=True,
    )


async def _short(ctx: Context) -> Reply:
    return with_files()


async def _long(ctx: Context) -> Reply:
    return with_files(text="A long note. " * 120, photos=True, files=2)


COMMANDS = [Command("tfile", "test", _short), Command("tfiles", "test", _long)]


def test_files_are_limited_and_cross_json_as_base64() -> None:
    reply = with_files(files=3)
    again = Reply.model_validate_json(reply.model_dump_json())
    assert again.files == reply.files and again.files[0].content_type == "text/calendar"
    with pytest.raises(ValidationError):
        with_files(files=4)
    with pytest.raises(ValidationError):
        ReplyFile(name="big.bin", data=b"\0" * (MAX_REPLY_FILE_BYTES + 1))


def test_discord_files_take_their_room_from_the_photos() -> None:
    reply = Reply(images=[(f"p{n}.jpg", b"photo") for n in range(10)], files=[ReplyFile(name="p0.jpg", data=ICS)])
    names = attachment_names(reply)
    assert len(names) == FILES_LIMIT and names[-1] == "10_p0.jpg", "the file goes, under a distinct name"
    assert names[:9] == [f"p{n}.jpg" for n in range(9)]


def test_sms_and_the_shell_name_files_without_sending_them() -> None:
    assert "(file drops.ics not sent by SMS)" in render_reply(with_files())
    shown = render_text(with_files(files=2))
    assert f"[file] drops.ics ({len(ICS)} bytes)" in shown and "[file] notes 0.txt (20 bytes)" in shown


async def test_discord_attaches_files_to_an_ephemeral_answer(make_discord_bot: Any) -> None:
    bot: DiscordTestBot = await make_discord_bot(commands=COMMANDS)
    heard = await bot.ok(bot.member("sam"), "/tfile")
    assert heard.ephemeral and [(item.name, item.data) for item in heard.images] == [("drops.ics", ICS)]
    assert heard.image_url is None, "a file is not shown as the embed's image"
    both = await bot.ok("sam", "/tfiles")
    assert [item.name for item in both.images] == ["left.jpg", "drops.ics", "notes_0.txt"]
    assert both.image_url == both.raw.payload["attachments"][0]["url"], "the photo is the embed's image"


async def test_a_discord_dm_from_the_outbox_carries_its_files(make_discord_bot: Any) -> None:
    bot: DiscordTestBot = await make_discord_bot(commands=COMMANDS)
    sam = bot.member("sam")
    member_id = await bot.member_id(sam)
    async with bot.engine.db.transaction() as session:
        message = NewMessage(source="test", ref="1", member_id=member_id, channels=["discord"], reply=with_files())
        await enqueue(session, [message])
    bot.engine.service(Delivery).wake()
    dm = heard_on_discord(await bot.fake.wait_for_dm(sam.native.user.id), bot.fake.uploads)
    assert [(item.name, item.data) for item in dm.images] == [("drops.ics", ICS)]
    assert dm.title == "📆 Drop calendar"


async def test_a_feed_post_crosses_the_bus_with_its_files(make_discord_bot: Any) -> None:
    bot: DiscordTestBot = await make_discord_bot()
    channel = bot.fake.add_channel("reports")
    await bot.engine.feeds.bind("reports", DiscordChannel(channel_id=channel.id), by=None)
    await bot.engine.feeds.publish("reports", with_files())
    await bot.engine.bus.drain()
    posted = heard_on_discord(await bot.fake.wait_for_message(channel.id), bot.fake.uploads)
    assert [item.data for item in posted.images] == [ICS]


async def test_telegram_sends_a_lone_file_with_the_reply_as_its_caption(make_telegram_bot: Any) -> None:
    bot: TelegramTestBot = await make_telegram_bot(commands=COMMANDS)
    sam = bot.member("sam")
    heard = await bot.ok(sam, "/tfile")
    document = heard.raw
    assert document.method == "sendDocument" and document.chat_id == sam.native.id
    assert (document.filename, document.uploads) == ("drops.ics", [ICS])
    assert heard.title == "📆 Drop calendar" and heard.text == "Your calendar"
    assert [button.label for button in heard.buttons] == ["Again"]
    assert not bot.fake.calls_of("sendMessage"), "the caption said everything"


async def test_telegram_sends_photos_then_bare_files_then_a_long_text(make_telegram_bot: Any) -> None:
    bot: TelegramTestBot = await make_telegram_bot(commands=COMMANDS)
    sam = bot.member("sam")
    first = await bot.say(sam, "/tfiles")  # the photo is read as its album; the first file is next
    assert [item.data for item in first.images] == [b"\xff\xd8left"]
    assert first.raw.method == "sendDocument" and not first.raw.raw and first.raw.uploads == [ICS]
    second = await bot.fake.wait_for_message(sam.native.id)
    assert (second.method, second.filename, second.uploads) == ("sendDocument", "notes 0.txt", [NOTES])
    text = await bot.fake.wait_for_message(sam.native.id)
    assert text.method == "sendMessage" and "A long note." in text.text
    assert [button["text"] for button in text.buttons] == ["Again"], "the buttons go under the text"


async def test_a_telegram_dm_from_the_outbox_carries_its_file(make_telegram_bot: Any) -> None:
    bot: TelegramTestBot = await make_telegram_bot(commands=COMMANDS)
    sam = bot.member("sam")
    member_id = await bot.member_id(sam)
    async with bot.engine.db.transaction() as session:
        message = NewMessage(source="test", ref="1", member_id=member_id, channels=["telegram"], reply=with_files())
        await enqueue(session, [message])
    bot.engine.service(Delivery).wake()
    heard = await bot.read_reply(sam.native.id)
    assert (heard.raw.method, heard.raw.filename, heard.raw.uploads) == ("sendDocument", "drops.ics", [ICS])
    assert heard.title == "📆 Drop calendar"
