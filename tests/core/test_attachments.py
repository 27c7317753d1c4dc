"""Files sent with a command: the byte limit, the declaration and how a handler receives them."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.attachments import Attachment, AttachmentTooLarge, carrying
from core.commands import Command, Param, ParamType
from core.context import Context
from core.errors import BadArgument
from core.replies import Reply, ReplyImage
from tests.testbot import TestBot


async def _submit(ctx: Context, brand: str, photos: list[Attachment], note: str | None = None) -> Reply:
    sizes = [len(await photo.read(1000)) for photo in photos]
    assert list(ctx.attachments) == photos
    return Reply(text=f"{brand}: {', '.join(p.filename for p in photos)} {sizes} {note or ''}".strip())


SUBMIT = Command(
    name="tcheck submit",
    description="test",
    handler=_submit,
    params=(
        Param("brand", "brand"),
        Param("photos", "photos of the pair", type=ParamType.ATTACHMENTS, max_files=3),
        Param("note", "a note", required=False),
    ),
)


async def _spot(ctx: Context, place: str, photo: list[Attachment]) -> Reply:
    return Reply(text=f"{place} with {len(photo)} photo(s)")


SPOT = Command(
    name="tspotted",
    description="test",
    handler=_spot,
    params=(
        Param("place", "where"),
        Param("photo", "a photo", type=ParamType.ATTACHMENTS, max_files=1, required=False),
    ),
)


@pytest.fixture
def bot(sqlite_bot: TestBot) -> TestBot:
    sqlite_bot.engine.registry.add(SUBMIT, SPOT)
    sqlite_bot.member("sam", "telegram")
    return sqlite_bot


async def test_read_refuses_a_claimed_or_real_size_over_the_limit() -> None:
    fetched: list[int] = []

    async def fetch(limit: int) -> bytes:
        fetched.append(limit)
        return b"x" * 5000  # a sender that lied about its size: the reader still cuts at the limit

    with pytest.raises(AttachmentTooLarge, match="over the 2 KB limit"):
        await Attachment("big.jpg", fetch, size=3_000_000).read(2000)
    assert fetched == [], "a reported size over the limit is refused before fetching"
    with pytest.raises(AttachmentTooLarge, match="over the 1 KB limit"):
        await Attachment("liar.jpg", fetch, size=10).read(1000)
    assert fetched == [1000]
    assert await Attachment.from_bytes("ok.png", b"12345").read(5) == b"12345"


async def test_from_path_reads_no_more_than_the_limit_plus_one(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"a" * 100)
    attachment = Attachment.from_path(path)
    assert attachment.filename == "photo.jpg" and attachment.size == 100
    with pytest.raises(AttachmentTooLarge):
        await attachment.read(99)
    assert await attachment.read(100) == b"a" * 100


def test_sender_given_names_are_cleaned() -> None:
    assert Attachment.from_bytes("../../etc/\x00passwd", b"").filename == "passwd"
    assert Attachment.from_bytes("C:\\Users\\me\\IMG_1.JPG", b"").filename == "IMG_1.JPG"
    assert Attachment.from_bytes("", b"").filename == "file"


def test_declaration_keeps_attachments_out_of_typed_words() -> None:
    assert SUBMIT.usage == "/tcheck submit <brand> [note] + up to 3 attached files"
    assert SUBMIT.attachments is SUBMIT.params[1]
    assert [p.name for p in SUBMIT.typed_params] == ["brand", "note"]
    assert SUBMIT.raw_from_words(["nike", "left", "toe"], {}) == {"brand": "nike", "note": "left toe"}
    with pytest.raises(ValueError, match="at most one attachments parameter"):
        Command("x", "x", _spot, params=(SPOT.params[1], Param("more", "x", type=ParamType.ATTACHMENTS)))
    with pytest.raises(ValueError, match="max_files"):
        Param("photos", "x", type=ParamType.ATTACHMENTS, max_files=11)


def test_bind_counts_files_and_refuses_text_for_them() -> None:
    files = [Attachment.from_bytes(f"{n}.jpg", b"x") for n in range(4)]
    with pytest.raises(BadArgument, match="at most 3 files, got 4"):
        SUBMIT.bind({"brand": "nike", "photos": files})
    with pytest.raises(BadArgument, match="not as text"):
        SUBMIT.bind({"brand": "nike", "photos": "a.jpg"})
    with carrying(files[:2]):
        assert SUBMIT.bind({"brand": "nike"})["photos"] == files[:2]
    with pytest.raises(BadArgument, match="`photos`: attach the files"):
        SUBMIT.bind({"brand": "nike"})
    assert SPOT.bind({"place": "kith"}) == {"place": "kith", "photo": []}


async def test_a_handler_gets_the_files_sent_with_the_line(bot: TestBot) -> None:
    reply = await bot.ok("sam", "/tcheck submit nike left toe", attachments=[("a.jpg", b"abc"), ("b.png", b"de")])
    assert reply.text == "nike: a.jpg, b.png [3, 2] left toe"
    await bot.fails("sam", "/tcheck submit nike", "`photos`: attach the files to the command")
    await bot.fails(
        "sam", "/tspotted kith", attachments=[("a.jpg", b"1"), ("b.jpg", b"2")], match="at most 1 file, got 2"
    )
    assert (await bot.ok("sam", "/tspotted kith")).text == "kith with 0 photo(s)"
    await bot.fails("sam", "/tcheck submit nike photos:a.jpg", "not as text")


def test_reply_images_survive_the_outbox_and_bus_json() -> None:
    reply = Reply(text="3 photos", image=b"chart", images=[("a.jpg", b"\x00\xff"), ReplyImage(name="b.png", data=b"p")])
    stored = reply.model_dump(mode="json", exclude_defaults=True)  # as core.delivery.outbox writes it
    assert stored["images"] == [{"name": "a.jpg", "data": "AP8="}, {"name": "b.png", "data": "cA=="}]
    assert Reply.model_validate(stored) == reply
    assert Reply.model_validate_json(reply.model_dump_json()) == reply
    assert [(p.name, p.data) for p in reply.photos] == [
        ("image.png", b"chart"),
        ("a.jpg", b"\x00\xff"),
        ("b.png", b"p"),
    ]
    with pytest.raises(ValueError, match="at most 10"):
        Reply(images=[("x.jpg", b"x")] * 11)
