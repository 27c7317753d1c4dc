"""A three-way trade end to end on Discord and on Telegram, through the real discord.py and
python-telegram-bot against the local fake servers: listings typed as commands, proposals arriving
as DMs with Accept buttons, the trade opening, items marked sent and received by button, and reviews
by star button."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.economy import EconomyRuntime
from core.commands import Permission
from tests.fakes.telegram_api import SentMessage
from tests.testbot import DiscordTestBot, Heard, TelegramTestBot, heard_on_discord, heard_on_telegram
from tests.trades.helpers import FRESH_OK, PINE, ZEBRA, list_cycle, stock

pytestmark = pytest.mark.filterwarnings("ignore:.*attribute `retry_after`:DeprecationWarning")
NAMES = ("alice", "bob", "carol")


async def test_three_way_trade_on_discord(make_discord_bot: Any, tmp_path: Path) -> None:
    dc: DiscordTestBot = await make_discord_bot(**FRESH_OK)
    await stock(dc.engine, tmp_path)
    users = {name: dc.member(name) for name in NAMES}
    await list_cycle(dc)
    assert "Proposed 1 trade(s)" in (await dc.ok(dc.owner, "/trades match")).text

    proposals = {name: heard_on_discord(await dc.fake.wait_for_dm(users[name].native.user.id)) for name in NAMES}

    async def dm(name: str, title: str) -> Heard:
        """The next DM to ``name`` titled ``title`` (answers to button presses land in the DM too)."""
        channel = proposals[name].raw.channel_id
        found = await dc.fake.wait_for_message(
            channel, predicate=lambda m: bool(m.embeds) and m.embeds[0].get("title") == title
        )
        return heard_on_discord(found)

    assert proposals["alice"].title == "🔁 Trade proposal #1"
    gets = next(field.value for field in proposals["alice"].fields if field.name == "You get")
    assert f"**{ZEBRA}**" in gets and "from **bob**" in gets
    first = await dc.press("alice", proposals["alice"], "✅ Accept")
    assert first.title == "✅ Accepted" and first.ephemeral
    assert (await dc.press("alice", proposals["alice"], "✅ Accept")).title == "👍 Already accepted"
    await dc.press("bob", proposals["bob"], "✅ Accept")
    assert (await dc.press("carol", proposals["carol"], "✅ Accept")).title == "🤝 Accepted: the trade is on"

    opened = {name: await dm(name, "🤝 Trade #1 is on") for name in NAMES}
    gives = next(field.value for field in opened["carol"].fields if field.name == "You get")
    assert f"**{PINE}**" in gives and "**alice**" in gives
    for name in NAMES:
        assert (await dc.press(name, opened[name], "📦 Sent")).title == "📌 Marked sent"
    await dc.press("alice", opened["alice"], "📬 Received")
    await dc.press("bob", opened["bob"], "📬 Received")
    assert (await dc.press("carol", opened["carol"], "📬 Received")).title == "✅ Trade complete"

    done = {name: await dm(name, "✅ Trade #1 complete") for name in NAMES}
    reviewed = await dc.press("alice", done["alice"], "⭐⭐⭐⭐⭐")
    assert reviewed.title == "⭐ Review saved" and "**bob**" in reviewed.text
    assert "already reviewed" in (await dc.press("alice", done["alice"], "⭐⭐⭐⭐")).text
    rep = await dc.ok("carol", "/rep @bob")
    values = {field.name: field.value for field in rep.fields}
    assert values["Completed trades"] == "1" and values["Average review"].startswith("★5.00")
    bob = await dc.member_id("bob")
    assert await dc.engine.service(EconomyRuntime).economy.balance(bob) == 25


async def test_three_way_trade_on_telegram(make_telegram_bot: Any, tmp_path: Path) -> None:
    tg: TelegramTestBot = await make_telegram_bot(**FRESH_OK)
    await stock(tg.engine, tmp_path)
    users = {name: tg.member(name) for name in NAMES}
    admin = tg.member("admin", role=Permission.ADMIN)
    await list_cycle(tg)
    assert "Proposed 1 trade(s)" in (await tg.ok(admin, "/trades match")).plain_text()

    async def heard(name: str, contains: str) -> Heard:
        return heard_on_telegram(await tg.fake.wait_for_message(users[name].native.id, contains=contains))

    async def press(name: str, reply: Heard, label: str, answer: str) -> Heard:
        """Press a button and read the answer that says ``answer`` (a DM may arrive in between)."""
        sent: SentMessage = reply.raw
        action = next(b.action for b in reply.buttons if b.label == label)
        tg.fake.press_button(users[name].native, sent, action)
        return await heard(name, answer)

    proposals = {name: await heard(name, "Trade proposal #1") for name in NAMES}
    assert f"{ZEBRA} · size 10 · very near deadstock" in proposals["alice"].text
    await press("alice", proposals["alice"], "✅ Accept", "waiting for")
    await press("alice", proposals["alice"], "✅ Accept", "Already accepted")
    await press("bob", proposals["bob"], "✅ Accept", "waiting for")
    await press("carol", proposals["carol"], "✅ Accept", "the trade is on")

    opened = {name: await heard(name, "Trade #1 is on") for name in NAMES}
    for name in NAMES:
        await press(name, opened[name], "📦 Sent", "Marked sent")
    await press("alice", opened["alice"], "📬 Received", "still to arrive")
    await press("bob", opened["bob"], "📬 Received", "still to arrive")
    await press("carol", opened["carol"], "📬 Received", "Trade complete")

    done = {name: await heard(name, "Trade #1 complete") for name in NAMES}
    saved = await press("bob", done["bob"], "⭐⭐⭐⭐", "Review saved")
    assert "carol" in saved.text
    await press("bob", done["bob"], "⭐⭐⭐⭐⭐", "already reviewed")
    await tg.fails("bob", "/trades review 7 5", "You weren't in trade #7")
    rep = (await tg.ok("bob", "/rep @carol")).plain_text()
    assert "Completed trades: 1" in rep and "★4.00 from 1 review" in rep
