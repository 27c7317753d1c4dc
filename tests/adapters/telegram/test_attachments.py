"""Photos sent to commands on Telegram: a captioned photo, an album, an image file, redelivery."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from core.attachments import Attachment
from core.commands import Command, Param, ParamType
from core.context import Context
from core.replies import Reply
from tests.testbot import TelegramTestBot

pytestmark = pytest.mark.filterwarnings("ignore:.*attribute `retry_after`:DeprecationWarning")

LIMIT = 1000


def check_command(runs: list[str | None]) -> Command:
    """``/tcheck <pair> [note]`` with up to 3 photos; each run appends its request id to ``runs``."""

    async def check(ctx: Context, pair: str, photos: list[Attachment], note: str | None = None) -> Reply:
        runs.append(ctx.request_id)
        read = [await photo.read(LIMIT) for photo in photos]
        shown = ", ".join(f"{p.filename}={data.decode()}" for p, data in zip(photos, read, strict=True))
        return Reply(text=f"{pair} {note or '-'}: {shown}")

    params = (
        Param("pair", "the pair"),
        Param("note", "a note", required=False),
        Param("photos", "photos", type=ParamType.ATTACHMENTS, max_files=3),
    )
    return Command("tcheck", "test", check, params=params)


async def _bot(make_telegram_bot: Any, runs: list[str | None]) -> TelegramTestBot:
    bot: TelegramTestBot = await make_telegram_bot(commands=[check_command(runs)])
    bot.member("sam")
    return bot


async def test_a_captioned_photo_runs_its_command_with_the_full_size_photo(make_telegram_bot: Any) -> None:
    runs: list[str | None] = []
    bot = await _bot(make_telegram_bot, runs)
    reply = await bot.ok("sam", "/tcheck jordan4 toe box", attachments=[("side.jpg", b"full-size")])
    sam_id = bot["sam"].native.id
    assert reply.text == "jordan4 toe box: photo_1.jpg=full-size"
    assert runs == [f"telegram:media:{sam_id}:1"]
    assert bot.fake.downloads == ["photos/file_2"], "only the largest size is downloaded, never the thumbnail"


async def test_an_album_runs_its_command_once_with_every_photo_in_order(make_telegram_bot: Any) -> None:
    runs: list[str | None] = []
    bot = await _bot(make_telegram_bot, runs)
    files = [("a.jpg", b"one"), ("b.jpg", b"two"), ("c.jpg", b"three")]
    reply = await bot.ok("sam", "/tcheck dunk", attachments=files)
    assert reply.text == "dunk -: photo_1.jpg=one, photo_2.jpg=two, photo_3.jpg=three"
    await asyncio.sleep(0.5)  # longer than the album wait: no second answer follows
    assert len(runs) == 1 and bot.fake.messages_to(bot["sam"].native.id)[1:] == []
    assert bot.frontend.albums.waiting == 0


async def test_image_files_sent_as_documents_keep_their_names(make_telegram_bot: Any) -> None:
    runs: list[str | None] = []
    bot = await _bot(make_telegram_bot, runs)
    files = [("IMG_7.PNG", b"png"), ("IMG_8.JPG", b"jpg")]
    reply = await bot.say("sam", "/tcheck yeezy", attachments=files, as_documents=True)
    assert reply.text == "yeezy -: IMG_7.PNG=png, IMG_8.JPG=jpg"


async def test_too_many_photos_and_too_big_files_are_refused_before_downloading(make_telegram_bot: Any) -> None:
    runs: list[str | None] = []
    bot = await _bot(make_telegram_bot, runs)
    four = [(f"{n}.jpg", b"x") for n in range(4)]
    await bot.fails("sam", "/tcheck dunk", "photos: at most 3 files, got 4", attachments=four)
    await bot.fails("sam", "/tcheck dunk", "over the 1 KB limit", attachments=[("big.jpg", b"x" * (LIMIT + 1))])
    assert bot.fake.calls_of("getFile") == [] and bot.fake.downloads == []


async def test_a_redelivered_album_does_nothing_twice(make_telegram_bot: Any) -> None:
    runs: list[str | None] = []
    bot = await _bot(make_telegram_bot, runs)
    sam = bot["sam"].native
    updates = bot.fake.user_photos(sam, [("a.jpg", b"1"), ("b.jpg", b"2")], "/tcheck dunk")
    first = await bot.fake.wait_for_message(sam.id)
    await bot.restart()
    for update in updates:
        bot.fake.redeliver(update)
    again = await bot.fake.wait_for_message(sam.id)
    assert again.text == first.text == "dunk -: photo_1.jpg=1, photo_2.jpg=2"
    bot.fake.redeliver(updates[-1])  # only the last part, as when a restart fell between two polls
    last = await bot.fake.wait_for_message(sam.id)
    assert last.text == first.text
    assert runs == [f"telegram:album:{sam.id}:{updates[0]['message']['media_group_id']}"], "ran once"


async def test_photos_without_a_command_are_not_ours(make_telegram_bot: Any) -> None:
    runs: list[str | None] = []
    bot = await _bot(make_telegram_bot, runs)
    sam = bot["sam"].native
    bot.fake.user_photos(sam, [("a.jpg", b"1")], "look at these")
    hint = await bot.fake.wait_for_message(sam.id)
    assert "write the command as the photo's caption" in hint.text
    group = bot.fake.group(-100777)
    bot.fake.user_photos(sam, [("a.jpg", b"1")], "/tcheck@some_other_bot dunk", chat=group)
    bot.fake.user_photos(sam, [("a.jpg", b"1")], "nice pair", chat=group)
    answer = await bot.say("sam", "/tcheck dunk", attachments=[("a.jpg", b"mine")], chat=group)
    assert answer.text == "dunk -: photo_3.jpg=mine"
    assert len(runs) == 1 and bot.fake.messages_to(group.id)[1:] == []


async def test_a_command_without_photos_ignores_a_photo_sent_with_it(make_telegram_bot: Any) -> None:
    bot = await _bot(make_telegram_bot, [])
    reply = await bot.ok("sam", "/ping", attachments=[("a.jpg", b"1")])
    assert reply.plain_text().startswith("🏓 Pong")
