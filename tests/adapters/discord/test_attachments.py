"""Photos sent to slash commands: attachment options, resolved attachments read from the loopback CDN."""

from __future__ import annotations

from typing import Any

from adapters.discord.render import render
from core.attachments import Attachment
from core.commands import Command, Param, ParamType
from core.context import Context
from core.replies import Reply
from tests.testbot import DiscordTestBot, heard_on_discord

LIMIT = 64


async def _check(ctx: Context, pair: str, photos: list[Attachment], note: str | None = None) -> Reply:
    read = [await photo.read(LIMIT) for photo in photos]
    listed = ", ".join(
        f"{photo.filename} {len(data)}B {photo.content_type}" for photo, data in zip(photos, read, strict=True)
    )
    return Reply(text=f"{pair} ({note or 'no note'}): {listed}")


CHECK = Command(
    name="tcheck",
    description="test",
    handler=_check,
    params=(
        Param("pair", "the pair"),
        Param("note", "a note", required=False),
        Param("photos", "photos of the pair", type=ParamType.ATTACHMENTS, max_files=3),
    ),
)


async def _spot(ctx: Context, place: str, photo: list[Attachment]) -> Reply:
    return Reply(text=f"{place}: {len(photo)} photo")


SPOT = Command(
    name="tspot",
    description="test",
    handler=_spot,
    params=(
        Param("place", "where"),
        Param("photo", "a photo", type=ParamType.ATTACHMENTS, max_files=1, required=False),
    ),
)


async def _bot(make_discord_bot: Any) -> DiscordTestBot:
    bot: DiscordTestBot = await make_discord_bot(commands=[CHECK, SPOT])
    bot.member("sam")
    return bot


async def test_files_become_attachment_options_required_ones_first(make_discord_bot: Any) -> None:
    bot = await _bot(make_discord_bot)
    declared = bot.fake.find_command("tcheck")
    assert declared is not None
    options = [(o["name"], o["type"], o.get("required", False)) for o in declared["options"]]
    assert options == [
        ("pair", 3, True),
        ("photo1", 11, True),
        ("note", 3, False),
        ("photo2", 11, False),
        ("photo3", 11, False),
    ]
    assert declared["options"][3]["description"] == "photos of the pair (2 of 3)"
    spot = bot.fake.find_command("tspot")
    assert spot is not None and [(o["name"], o["type"]) for o in spot["options"]] == [("place", 3), ("photo", 11)]


async def test_a_slash_command_reads_its_files_from_discords_cdn(make_discord_bot: Any) -> None:
    bot = await _bot(make_discord_bot)
    files = [("left.jpg", b"\xff\xd8left"), ("right.png", b"\x89PNGright")]
    reply = await bot.ok("sam", "/tcheck jordan4 bred toe", attachments=files)
    assert (
        reply.text == "jordan4 (bred toe): left.jpg 6B application/octet-stream, right.png 9B application/octet-stream"
    )
    assert len(bot.fake.cdn_fetches) == 2
    assert (await bot.ok("sam", "/tspot kith")).text == "kith: 0 photo"
    assert (await bot.ok("sam", "/tspot kith", attachments=[("a.webp", b"w")])).text == "kith: 1 photo"


async def test_a_file_over_the_limit_is_refused_without_downloading_it(make_discord_bot: Any) -> None:
    bot = await _bot(make_discord_bot)
    reply = await bot.fails("sam", "/tcheck jordan4", attachments=[("huge.jpg", b"x" * (LIMIT + 1))])
    assert "`huge.jpg`: over the 64 bytes limit" in reply.text
    assert bot.fake.cdn_fetches == []


async def test_a_file_gone_from_the_cdn_is_a_clear_refusal(make_discord_bot: Any) -> None:
    bot = await _bot(make_discord_bot)
    sam = bot["sam"]
    bot.fake.cdn.clear()
    original = bot.fake.add_attachment

    def vanishing(filename: str, data: bytes, content_type: str | None = None) -> dict[str, Any]:
        item = original(filename, data, content_type)
        bot.fake.cdn.clear()  # deleted before the bot fetched it
        return item

    bot.fake.add_attachment = vanishing  # type: ignore[method-assign]
    interaction = await bot.fake.send_command("tcheck", {"pair": "j4", "photo1": ("gone.jpg", b"x")}, user=sam.native)
    heard = heard_on_discord(await bot.fake.wait_for_reply(interaction))
    assert "`gone.jpg`: could not be downloaded from Discord; send it again" in heard.text


def test_photos_past_discords_upload_limit_are_left_out_with_a_note() -> None:
    big = b"x" * 4_000_000
    rendered = render(Reply(title="Card", images=[("a.jpg", big), ("b.jpg", big), ("c.jpg", big)]))
    assert [file.filename for file in rendered.files] == ["a.jpg", "b.jpg"]
    assert rendered.embeds[0].footer.text == "1 more photo too large for one Discord message"
    assert rendered.embeds[0].image.url == "attachment://a.jpg"


def test_upload_names_are_ascii_distinct_and_keep_their_extension() -> None:
    sha = "ab" * 32
    reply = Reply(images=[(f"{sha}.jpg", b"1"), (f"{sha}.jpg", b"2"), ("фото 1.png", b"3")])
    names = [file.filename for file in render(reply).files]
    assert names[0] == sha[:60] + ".jpg" and names[1] == "2_" + sha[:58] + ".jpg"
    assert names[2] == "_____1.png"
