"""SMS and photos: a command that needs them says they can't come by SMS; photos in a reply are counted."""

from __future__ import annotations

from typing import Any

from adapters.sms.render import render_reply
from core.attachments import Attachment
from core.commands import Command, Param, ParamType
from core.context import Context
from core.replies import Reply
from tests.testbot import SmsTestBot


async def _check(ctx: Context, pair: str, photos: list[Attachment]) -> Reply:
    return Reply(text=f"{pair} with {len(photos)} photos")


CHECK = Command(
    "tcheck",
    "test",
    _check,
    params=(Param("pair", "pair"), Param("photos", "x", type=ParamType.ATTACHMENTS)),
    sms_keyword="TCHECK",
)
SPOT = Command(
    "tspot",
    "test",
    _check,
    params=(Param("pair", "pair"), Param("photos", "x", type=ParamType.ATTACHMENTS, required=False)),
)


async def test_a_command_that_needs_photos_says_sms_cannot_carry_them(make_sms_bot: Any) -> None:
    bot: SmsTestBot = await make_sms_bot(commands=[CHECK, SPOT])
    sam = bot.member("sam")
    for line in ("/tcheck jordan 4", "TCHECK jordan 4"):
        [answer] = await bot.texts(sam, line)
        assert answer == "/tcheck needs photos, and photos can't be sent by SMS. Use it on Discord or Telegram."
    [optional] = await bot.texts(sam, "/tspot kith")
    assert optional == "kith with 0 photos"


def test_photos_in_a_reply_are_counted() -> None:
    text = render_reply(Reply(title="Trade #7", text="Bred 4s for Union 1s", images=[("a.jpg", b"1")] * 3))
    assert text == "Trade #7\nBred 4s for Union 1s\n(3 photos, not sent by SMS)"
