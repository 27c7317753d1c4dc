"""Feed bindings and publishing, on SQLite and PostgreSQL; delivery through the shell frontend."""

from __future__ import annotations

import io

import pytest

from adapters.shell.frontend import ShellFrontend
from core.commands import Permission
from core.engine import Engine
from core.replies import Button, Reply
from core.targets import DiscordChannel, TelegramChat
from tests.testbot import Member, TestBot


def admin_in_channel(bot: TestBot) -> Member:
    """A Discord admin speaking in thread 777 of channel 555."""
    origin = DiscordChannel(channel_id=555, thread_id=777).model_dump()
    return bot.member("boss", "discord", Permission.ADMIN, origin=origin)


async def test_bind_here_with_role_then_list_and_unbind(bot: TestBot) -> None:
    boss, engine = admin_in_channel(bot), bot.engine
    bound = await bot.say(boss, "/feed bind restocks role:<@&31337>")
    assert bound.title == "📡 Feed bound" and "<@&31337>" in bound.text
    [(_feed, target)] = await engine.feeds.bindings("restocks")
    assert target == DiscordChannel(channel_id=555, thread_id=777, role_id=31337)
    again = await bot.say(boss, "/feed bind restocks")
    assert again.ephemeral and "already posts" in again.text
    await bot.say(boss, "/feed bind drops telegram:-100200:12")
    listing = (await bot.say(boss, "/feed list")).text
    assert "**drops** → Telegram chat -100200 topic 12" in listing
    gone = await bot.say(boss, "/feed unbind drops telegram:-100200:12")
    assert gone.title == "📡 Feed unbound"
    assert [t for _, t in await engine.feeds.bindings("drops")] == []


async def test_bad_targets_get_specific_messages(bot: TestBot) -> None:
    boss, engine = admin_in_channel(bot), bot.engine
    unknown_feed = await bot.say(boss, "/feed bind nonsense")
    assert "No feed called `nonsense`" in unknown_feed.text
    bad_ids = await bot.say(boss, "/feed bind drops discord:general")
    assert bad_ids.text.startswith("`target`: ids must be numbers")
    role_on_telegram = await bot.say(boss, "/feed bind drops telegram:-1 role:123")
    assert "role mentions only exist on Discord" in role_on_telegram.text
    assert await engine.feeds.bindings() == []


async def test_targets_round_trip_as_plain_json(engine: Engine) -> None:
    await engine.feeds.bind("drops", TelegramChat(chat_id=-1001, topic_id=4), by=None)
    [(_, target)] = await engine.feeds.bindings("drops")
    assert target.model_dump() == {"platform": "telegram", "chat_id": -1001, "topic_id": 4}


async def test_published_items_appear_in_the_shell(sqlite_engine: Engine) -> None:
    out = io.StringIO()
    shell = ShellFrontend(sqlite_engine, stdin=io.StringIO(), stdout=out)
    sqlite_engine.attach(shell)
    item = Reply(
        title="RESTOCK: Jordan 4 Bred",
        text="$210 at kith.com",
        buttons=[Button(label="US 10", url="https://kith.com/cart/123:1")],
    )
    await sqlite_engine.feeds.publish("restocks", item)
    await sqlite_engine.bus.drain()
    shown = out.getvalue()
    assert "[feed:restocks] == RESTOCK: Jordan 4 Bred ==" in shown
    assert "[1] US 10 → https://kith.com/cart/123:1" in shown


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/feed bind nosuch discord:123456789012345678", "No feed called `nosuch`"),
        ("/feed bind drops discord:-5", "Discord channel and thread ids are 17-20 digit numbers"),
        ("/feed bind drops discord:12", "Discord channel and thread ids are 17-20 digit numbers"),
        ("/feed bind drops telegram:0", "a Telegram chat id is like -1001234567890"),
        ("/feed bind drops telegram:-100200:-3", "a Telegram chat id is like -1001234567890"),
    ],
)
async def test_feed_targets_are_checked_feed_first(bot: TestBot, line: str, expected: str) -> None:
    reply = await bot.say(admin_in_channel(bot), line)
    assert expected in reply.text, reply.text
    assert await bot.engine.feeds.bindings() == []
