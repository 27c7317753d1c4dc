"""The Cop Simulator end to end through real discord.py and python-telegram-bot against the local
fake Discord and Bot API servers: a practice run whose drop message arrives as a DM through the
delivery worker and is timed from the moment the platform took it, and a group drop posted to a
bound channel or group that members race for with its buttons."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from core.commands import Permission
from core.delivery.models import SENT, OutboxMessage
from core.engine import Engine
from core.replies import Reply
from core.targets import DiscordChannel, TelegramChat
from tests.cop.helpers import balance, clocked, drop_row, entries, latest_drop, open_now, sections
from tests.fakes.discord_api import FakeDiscord, RecordedMessage
from tests.fakes.telegram_api import FakeTelegramAPI, SentMessage
from tests.testbot import DiscordTestBot, TelegramTestBot, heard_on_discord, heard_on_telegram

pytestmark = pytest.mark.filterwarnings("ignore:.*attribute `retry_after`:DeprecationWarning")


def _code(shown: Reply) -> str:
    return shown.plain_text().rsplit("/cop confirm ", 1)[1].split()[0].strip("`")


async def _sent_row(engine: Engine, drop_id: int) -> OutboxMessage:
    async with engine.db.read() as session:
        query = select(OutboxMessage).where(OutboxMessage.group_key.startswith(f"cop:drop{drop_id}:"))
        row: OutboxMessage = (await session.scalars(query)).one()
    return row


async def _check_timing(engine: Engine, drop_id: int) -> None:
    """The time counts from the moment the platform accepted the drop message (the delivery
    worker's ``sent_at``), not from the opening: the opening plus the delivery latency."""
    drop = await drop_row(engine, drop_id)
    row = await _sent_row(engine, drop_id)
    assert row.status == SENT and row.sent_at is not None and drop.opened_at is not None
    (entry,) = await entries(engine, drop_id)
    assert entry.checkout_at is not None
    expected = entry.checkout_at - drop.opened_at - (row.sent_at - row.created_at)
    assert abs((entry.elapsed_ms or 0) - expected / timedelta(milliseconds=1)) <= 1
    assert entry.elapsed_ms is not None and entry.elapsed_ms >= 3000


async def _post_on(fake: FakeDiscord, channel_id: int, title: str) -> Reply:
    """The feed post in ``channel_id`` whose title starts with ``title`` (the channel also holds the
    members' private answers to the buttons they pressed)."""

    def posted(message: RecordedMessage) -> bool:
        return bool(message.embeds) and str(message.embeds[0].get("title", "")).startswith(title)

    return heard_on_discord(await fake.wait_for_message(channel_id, predicate=posted))


async def test_practice_and_a_group_drop_on_discord(make_discord_bot: Any, fake_discord: FakeDiscord) -> None:
    dc: DiscordTestBot = await make_discord_bot(**sections())
    cop, clock = clocked(dc.engine)
    alice, bob = dc.member("alice"), dc.member("bob")
    boss = dc.member("boss", role=Permission.ADMIN)

    armed = await dc.ok(alice, "/cop practice")
    assert armed.ephemeral and "Countdown started" in armed.text
    drop = await latest_drop(dc.engine)
    await open_now(dc.engine, clock, drop.id)
    dm = heard_on_discord(await fake_discord.wait_for_dm(alice.native.user.id))
    assert (dm.title or "").startswith("🔥 LIVE") and "US 10" in [b.label for b in dm.buttons]
    sized = await dc.press(alice, dm, "US 10")
    again = await dc.press(alice, dm, "US 10")  # a double tap
    assert "already done" in again.text
    carted = await dc.press(alice, sized, "Add to cart")
    shown = await dc.press(alice, carted, "Checkout")
    clock.advance(3)
    result = await dc.ok(alice, f"/cop confirm {_code(shown)}")
    assert (result.title or "").startswith("✅ Checked out in") and result.ephemeral
    await _check_timing(dc.engine, drop.id)

    channel = fake_discord.add_channel("cop-drops")
    await dc.engine.feeds.bind("cop", DiscordChannel(channel_id=channel.id), by=None)
    await dc.ok(boss, "/cop schedule 1 5m")
    group = await latest_drop(dc.engine)
    announced = await _post_on(fake_discord, channel.id, "⏰")
    assert announced.title == f"⏰ Cop drop #{group.id}: {group.pair}"
    await open_now(dc.engine, clock, group.id)
    live = await _post_on(fake_discord, channel.id, "🔥 LIVE")
    assert (live.title or "").startswith("🔥 LIVE")
    codes = {}
    for member in (bob, alice):
        sized = await dc.press(member, live, "US 9")
        carted = await dc.press(member, sized, "Add to cart")
        codes[member.name] = _code(await dc.press(member, carted, "Checkout"))
    won = await dc.ok(bob, f"/cop confirm {codes['bob']}")
    assert "#1 of 1" in (won.title or "")
    lost = await dc.ok(alice, f"/cop confirm {codes['alice']}")
    assert lost.title == "😞 Sold out"
    results = await _post_on(fake_discord, channel.id, "🏁")
    assert (results.title or "").startswith(f"🏁 Cop drop #{group.id} results")
    assert results.fields[0].value.startswith("1. bob · US 9 · ")
    assert await balance(dc.engine, await dc.member_id(bob)) == 20
    board = await dc.ok(alice, "/cop leaderboard all")
    assert "alice" in board.text and "bob" in board.text
    del cop


async def _telegram_dm(fake: FakeTelegramAPI, user_id: int) -> Reply:
    return heard_on_telegram(await fake.wait_for_message(user_id))


async def _post_in(fake: FakeTelegramAPI, chat_id: int, title: str) -> SentMessage:
    """The message in ``chat_id`` whose text starts with ``title`` (the group also holds the bot's
    "I sent you the answer in a private chat" notes)."""

    def find() -> SentMessage | None:
        return next((s for s in fake.sent if s.chat_id == chat_id and s.text.startswith(title)), None)

    found: SentMessage = await fake.wait_for(find)
    return found


async def test_practice_and_a_group_drop_on_telegram(make_telegram_bot: Any, fake_telegram: FakeTelegramAPI) -> None:
    tg: TelegramTestBot = await make_telegram_bot(**sections())
    _cop, clock = clocked(tg.engine)
    alice, bob = tg.member("alice"), tg.member("bob")
    boss = tg.member("boss", role=Permission.ADMIN)

    await tg.ok(alice, "/cop practice")
    drop = await latest_drop(tg.engine)
    await tg.fails(alice, f"/cop size {drop.id} 10", "hasn't opened yet")
    await open_now(tg.engine, clock, drop.id)
    dm = await _telegram_dm(fake_telegram, alice.native.id)
    assert (dm.title or "").startswith("🔥 LIVE")
    sized = await tg.press(alice, dm, "US 10")
    carted = await tg.press(alice, sized, "Add to cart")
    stale = await tg.press(alice, sized, "Add to cart")
    assert "already done" in stale.text
    shown = await tg.press(alice, carted, "Checkout")
    clock.advance(3)
    result = await tg.ok(alice, f"/cop confirm {_code(shown)}")
    assert (result.title or "").startswith("✅ Checked out in")
    await _check_timing(tg.engine, drop.id)

    group = fake_telegram.group(-1001234567000, "Cook Group")
    await tg.engine.feeds.bind("cop", TelegramChat(chat_id=group.id), by=None)
    await tg.ok(boss, "/cop schedule 1 5m")
    race = await latest_drop(tg.engine)
    await _post_in(fake_telegram, group.id, f"⏰ Cop drop #{race.id}")
    await open_now(tg.engine, clock, race.id)
    live = await _post_in(fake_telegram, group.id, "🔥 LIVE")
    codes = {}
    for member in (alice, bob):
        # pressed in the group, answered in private: each member's steps are theirs alone
        fake_telegram.press_button(member.native, live, f"/cop size {race.id} 9")
        sized = await _telegram_dm(fake_telegram, member.native.id)
        carted = await tg.press(member, sized, "Add to cart")
        codes[member.name] = _code(await tg.press(member, carted, "Checkout"))
    won = await tg.ok(alice, f"/cop confirm {codes['alice']}")
    assert "#1 of 1" in (won.title or "")
    lost = await tg.ok(bob, f"/cop confirm {codes['bob']}")
    assert "Sold out" in (lost.title or "")
    results = await _post_in(fake_telegram, group.id, f"🏁 Cop drop #{race.id} results")
    assert "1. alice · US 9 · " in results.text
    assert await balance(tg.engine, await tg.member_id(alice)) == 20
