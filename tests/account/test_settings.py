"""/settings takes a time zone in any case and warns when a zone keeps one offset all year."""

from __future__ import annotations

from tests.testbot import TestBot


async def test_timezones_in_any_case_and_a_warning_for_fixed_offsets(bot: TestBot) -> None:
    sam = bot.member("sam", "discord")
    saved = await bot.ok(sam, "/settings timezone:europe/london")
    assert "Europe/London" in saved.plain_text() and "⚠️" not in saved.plain_text()
    assert (await bot.resolve(sam)).timezone == "Europe/London"
    fixed = await bot.ok(sam, "/settings timezone:EST")
    assert "EST keeps the same offset all year" in fixed.plain_text() and "America/New_York" in fixed.plain_text()
    await bot.fails(sam, "/settings timezone:Mars/Base", match="unknown timezone `Mars/Base`")


async def test_sms_messages_only_name_what_this_server_has(bot: TestBot) -> None:
    sam = bot.member("sam", "discord")
    code = (await bot.ok(sam, "/link")).plain_text()
    assert "text `LINK" not in code and "SMS number" not in code  # no SMS here: no number to text
    await bot.fails(sam, "/settings sms:on", match="SMS isn't set up on this server")


async def test_sms_on_without_a_phone_points_at_sms_verify(make_sms_bot: object) -> None:
    sms_bot = await make_sms_bot()  # type: ignore[operator]
    sam = sms_bot.member("sam", "discord")
    code = (await sms_bot.ok(sam, "/link")).plain_text()
    assert f"to {sms_bot.number}" in code
    await sms_bot.fails(sam, "/settings sms:on", match="verify your phone first: `/sms verify")
