"""Keyed feed items: posted once per target, edited in place on Discord and Telegram, posted anew in
the shell; a repeated publish posts nothing twice; a Discord timestamp span renders as ``<t:…>``."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from adapters.shell.frontend import ShellFrontend
from core.engine import Engine
from core.markup import timestamp, to_html, to_plain
from core.replies import Reply
from core.targets import DiscordChannel, TelegramChat

MOMENT = datetime(2026, 12, 5, 15, 0, tzinfo=UTC)


async def test_discord_post_is_edited_in_place(make_discord_bot: Any) -> None:
    bot = await make_discord_bot()
    channel = bot.fake.add_channel("drops")
    engine: Engine = bot.engine
    await engine.feeds.bind("drops", DiscordChannel(channel_id=channel.id), by=None)
    when = timestamp(MOMENT, "Sat 5 Dec 15:00 UTC", relative=True)
    await engine.feeds.publish("drops", Reply(title="Jordan 4", text=f"Release {when}"), key="drop:1")
    await engine.feeds.publish("drops", Reply(title="Jordan 4", text="again"), key="drop:1")  # repeated
    await engine.bus.drain()
    posted = await bot.fake.wait_for_message(channel.id)
    unix = int(MOMENT.timestamp())
    assert f"<t:{unix}:f> (<t:{unix}:R>)" in posted.embeds[0]["description"]
    assert "Sat 5 Dec" not in posted.embeds[0]["description"]
    await engine.feeds.update("drops", "drop:1", Reply(title="Jordan 4 (moved)", text="Now later"))
    await engine.bus.drain()
    assert [m.id for m in bot.fake.message_edits] == [posted.id]
    assert posted.embeds[0]["title"] == "Jordan 4 (moved)"
    assert len([m for m in bot.fake.messages if m.channel_id == channel.id]) == 1
    refs = await engine.feeds.posts("drops", "drop:1")
    assert refs == {DiscordChannel(channel_id=channel.id).key: str(posted.id)}


async def test_telegram_post_is_edited_in_place(make_telegram_bot: Any) -> None:
    bot = await make_telegram_bot()
    chat = bot.fake.group(-100555, "Drops")
    engine: Engine = bot.engine
    await engine.feeds.bind("drops", TelegramChat(chat_id=chat.id), by=None)
    when = timestamp(MOMENT, "Sat 5 Dec 15:00 UTC")
    await engine.feeds.publish("drops", Reply(title="Dunk Low", text=f"Release {when}"), key="drop:7")
    await engine.bus.drain()
    posted = await bot.fake.wait_for_message(chat.id)
    assert "Release Sat 5 Dec 15:00 UTC" in posted.text and "<t:" not in posted.raw
    await engine.feeds.update("drops", "drop:7", Reply(title="Dunk Low", text="**Cancelled**"))
    await engine.bus.drain()
    [edit] = bot.fake.edits
    assert edit.method == "editMessageText" and edit.params["message_id"] == posted.message_id
    assert "<b>Cancelled</b>" in edit.params["text"]


async def test_the_shell_shows_an_update_as_a_new_post(sqlite_engine: Engine) -> None:
    out = io.StringIO()
    sqlite_engine.attach(ShellFrontend(sqlite_engine, stdin=io.StringIO(), stdout=out))
    await sqlite_engine.feeds.publish("drops", Reply(title="First"), key="drop:3")
    await sqlite_engine.bus.drain()
    await sqlite_engine.feeds.update("drops", "drop:3", Reply(title="Second"))
    await sqlite_engine.bus.drain()
    shown = out.getvalue()
    assert shown.index("First") < shown.index("Second")


def test_timestamp_falls_back_to_text_and_member_text_cannot_forge_one() -> None:
    span = timestamp(MOMENT, "5 Dec 10:00 EST <b>|x")
    assert to_plain(f"at {span}") == "at 5 Dec 10:00 EST <b›¦x"
    assert to_html(span) == "5 Dec 10:00 EST &lt;b›¦x"
    from core.markup import escape

    forged = escape("<t:1:f|boo>")
    assert to_plain(forged) == "<t:1:f|boo>"
    from adapters.discord.render import to_discord

    assert "<t:1:f>" not in to_discord(forged)  # stays the member's literal text, not our span
