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
