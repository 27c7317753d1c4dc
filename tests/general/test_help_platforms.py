"""/help and /help TOPIC through the real discord.py and python-telegram-bot, on the fake servers."""

from __future__ import annotations

from typing import Any

from adapters.telegram.render import TEXT_LIMIT, visible_length
from core.commands import Permission
from tests.testbot import DiscordTestBot, Heard, TelegramTestBot


async def test_discord_overview_topics_and_autocomplete(make_discord_bot: Any) -> None:
    dc: DiscordTestBot = await make_discord_bot()
    sam = dc.member("sam")
    overview = await dc.ok(sam, "/help")
    assert overview.title == "SNPD commands" and "`/ping`" in overview.text
    assert "**drops** — `/calendar`, `/drop show`, `/drops`" in overview.text and "`/drop add`" not in overview.text
    assert "`/drop add`" in (await dc.ok(dc.owner, "/help")).text

    drops = await dc.ok(sam, "/help drops")
    assert drops.title == "drops commands"
    assert "`/remind <item> [offsets] [priority]` — Reminders before a drop" in drops.text
    assert "/drop add" not in drops.text
    practice = await dc.ok(sam, "/help cop practice")
    assert practice.title == "/cop practice" and "Usage: `/cop practice [item]`" in practice.text
    assert "Part of cop: `/help cop`" in practice.text

    unknown = await dc.fails(sam, "/help trdes")
    assert unknown.ephemeral and "No help topic `trdes`. Did you mean `trades`?" in unknown.text
    above = await dc.fails(sam, "/help feeds")
    assert "The `feeds` commands are for mods." in above.text

    fake = dc.fake
    asked = await fake.send_autocomplete("help", {"topic": "dro"}, "topic", user=sam.native)
    choices = [c["value"] for c in (await fake.wait_for_response(asked))["data"]["choices"]]
    assert choices == ["drops", "drop show"]


async def test_telegram_overview_is_one_message_and_topics_answer(make_telegram_bot: Any) -> None:
    tg: TelegramTestBot = await make_telegram_bot()
    alice = tg.member("alice")
    overview = await tg.ok(alice, "/help")
    assert isinstance(overview, Heard)
    html: str = overview.raw.raw
    assert visible_length(html) <= TEXT_LIMIT
    assert "<b>trades</b>" in html and "/help COMMAND" in html  # the last feature and the footer: one message
    assert "/feed bind" not in html

    trades = await tg.ok(alice, "/help trades")
    assert trades.plain_text().startswith("trades commands")
    assert "/have add" in trades.plain_text() and "/trades resolve" not in trades.plain_text()
    group = await tg.ok(alice, "/help lc")
    assert isinstance(group, Heard)
    assert "/lc vote &lt;id&gt; &lt;choice&gt; [reasons] [note]" in group.raw.raw
    typo = await tg.fails(alice, "/help pnig")
    assert "Did you mean /ping?" in typo.plain_text()
    command = await tg.ok(tg.member("boss", role=Permission.ADMIN), "/help feed bind")
    assert command.plain_text().startswith("/feed bind") and "For: admins" in command.plain_text()
