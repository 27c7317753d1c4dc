"""Drop times as members read them, and practice drops whose DM the platform refused, through real
discord.py and python-telegram-bot against the local fakes.

Discord gets timestamp spans (``<t:UNIX:f>``: every viewer sees their own local time); Telegram gets
the fallback, in the reader's ``/settings timezone:`` zone for a reply and in UTC, saying so, for a
feed post. A practice drop whose DM is refused (Discord DMs closed to server members, the Telegram
bot blocked) is closed by the ``delivery.refused`` hook, and the member hears why from
``/cop status`` and from their next ``/cop practice``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.cop import render
from bot.cop.models import CopDrop
from bot.cop.undelivered import Undelivered
from core.commands import Permission
from core.delivery.models import DEAD, SENT
from core.targets import DiscordChannel, TelegramChat
from tests.cop.helpers import clocked, closed, latest_drop, open_now, sections, until
from tests.cop.test_e2e import _post_in, _post_on, _sent_row
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.testbot import DiscordTestBot, TelegramTestBot, heard_on_discord, heard_on_telegram

pytestmark = pytest.mark.filterwarnings("ignore:.*attribute `retry_after`:DeprecationWarning")


def _in(moment: datetime, zone: str) -> str:
    """``18:00:00 GMT``: the clock time and zone abbreviation a Telegram reader should see."""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%H:%M:%S} {local:%Z}"


def _in_three_days() -> datetime:
    return (datetime.now(UTC) + timedelta(days=3)).replace(hour=18, minute=0, second=0, microsecond=0)


async def test_discord_shows_every_drop_time_in_the_viewers_own_zone(
    make_discord_bot: Any, fake_discord: FakeDiscord
) -> None:
    dc: DiscordTestBot = await make_discord_bot(**sections())
    alice, boss = dc.member("alice"), dc.member("boss", role=Permission.ADMIN)
    channel = fake_discord.add_channel("cop-drops")
    await dc.engine.feeds.bind("cop", DiscordChannel(channel_id=channel.id), by=None)

    scheduled = await dc.ok(boss, "/cop schedule 2 2h")
    group = await latest_drop(dc.engine)
    opens = f"<t:{int(group.opens_at.timestamp())}:f>"
    closes = f"<t:{int(group.closes_at.timestamp())}:f>"
    assert opens in scheduled.text and closes in scheduled.text and "UTC" not in scheduled.text
    announced = await _post_on(fake_discord, channel.id, "⏰")
    assert f"Opens **{opens}**" in announced.text and "UTC" not in announced.text
    listed = await dc.ok(alice, "/cop drops")
    assert f"#{group.id}" in listed.text and opens in listed.text and "UTC" not in listed.text


async def test_telegram_shows_a_reply_in_the_readers_zone_and_a_feed_post_in_utc(
    make_telegram_bot: Any, fake_telegram: FakeTelegramAPI
) -> None:
    tg: TelegramTestBot = await make_telegram_bot(**sections())
    alice, boss = tg.member("alice"), tg.member("boss", role=Permission.ADMIN)
    await tg.ok(boss, "/settings timezone:Europe/London")
    await tg.ok(alice, "/settings timezone:America/New_York")
    group_chat = fake_telegram.group(-1001234567000, "Cook Group")
    await tg.engine.feeds.bind("cop", TelegramChat(chat_id=group_chat.id), by=None)
    moment = _in_three_days()

    scheduled = await tg.ok(boss, f"/cop schedule 1 {moment.isoformat(timespec='minutes')}")
    assert _in(moment, "Europe/London") in scheduled.text and "<t:" not in scheduled.text
    closing = moment + timedelta(seconds=600)  # the default group window
    assert _in(closing, "Europe/London") in scheduled.text
    drop = await latest_drop(tg.engine)
    announced = heard_on_telegram(await _post_in(fake_telegram, group_chat.id, f"⏰ Cop drop #{drop.id}"))
    assert f"{moment:%a %-d %b %Y %H:%M:%S} UTC" in announced.text  # a feed has no one reader: UTC, said
    listed = await tg.ok(alice, "/cop drops")
    assert _in(moment, "America/New_York") in listed.text and "UTC" not in listed.text


async def test_a_practice_dm_discord_refuses_closes_the_run_and_the_member_is_told_why(
    make_discord_bot: Any, fake_discord: FakeDiscord
) -> None:
    dc: DiscordTestBot = await make_discord_bot(**sections())
    _cop, clock = clocked(dc.engine)
    alice = dc.member("alice")
    fake_discord.refuse_dms(alice.native.user.id)  # DMs from server members closed

    armed = await dc.ok(alice, "/cop practice")
    assert "arrives in your DMs" in armed.text
    drop = await latest_drop(dc.engine)
    await open_now(dc.engine, clock, drop.id)
    await until(lambda: closed(dc.engine, drop.id))  # closed by the refusal, not by its window
    assert (await _sent_row(dc.engine, drop.id)).status == DEAD
    assert (await latest_drop(dc.engine)).closed_at is not None and clock() < drop.closes_at

    status = await dc.ok(alice, "/cop status")
    assert "I couldn't DM you practice drop" in status.text and "Open your DMs from server members" in status.text
    again = await dc.ok(alice, "/cop practice")
    assert again.text.startswith("⚠️ I couldn't DM you practice drop") and "Countdown started" in again.text
    second = await latest_drop(dc.engine)
    assert second.id != drop.id

    fake_discord._refused_dm_users.discard(alice.native.user.id)  # alice opened her DMs
    await open_now(dc.engine, clock, second.id)
    dm = heard_on_discord(await fake_discord.wait_for_dm(alice.native.user.id))
    assert (dm.title or "").startswith("🔥 LIVE")
    await until(lambda: _delivered(dc, second))
    live = await dc.ok(alice, "/cop status")
    assert "the drop message is in your DMs" in live.text and f"<t:{int(second.closes_at.timestamp())}:f>" in live.text
    third = await dc.fails(alice, "/cop practice", "is still running")
    assert "couldn't DM" not in third.text  # told once, with the run after the one that failed


async def _delivered(dc: DiscordTestBot, drop: CopDrop) -> bool:
    """Recorded as sent (``sent_at`` alone is set already while the request is on the wire)."""
    return (await _sent_row(dc.engine, drop.id)).status == SENT


async def test_a_practice_dm_to_a_member_who_blocked_the_telegram_bot_is_explained(
    make_telegram_bot: Any, fake_telegram: FakeTelegramAPI
) -> None:
    tg: TelegramTestBot = await make_telegram_bot(**sections())
    _cop, clock = clocked(tg.engine)
    alice = tg.member("alice")
    await tg.ok(alice, "/settings timezone:Asia/Tokyo")

    await tg.ok(alice, "/cop practice")
    drop = await latest_drop(tg.engine)
    fake_telegram.block_chat(alice.native.id)  # blocked the bot during the countdown
    await open_now(tg.engine, clock, drop.id)
    await until(lambda: closed(tg.engine, drop.id))
    fake_telegram.blocked_chats.discard(alice.native.id)  # writing to the bot again unblocks it

    status = await tg.ok(alice, "/cop status")
    assert "I couldn't message you practice drop" in status.text and "is the bot blocked?" in status.text
    again = await tg.ok(alice, "/cop practice")
    assert again.text.startswith(f"⚠️ I couldn't message you practice drop #{drop.id}")
    second = await latest_drop(tg.engine)
    await open_now(tg.engine, clock, second.id)
    assert (heard_on_telegram(await fake_telegram.wait_for_message(alice.native.id)).title or "").startswith("🔥 LIVE")
    await until(lambda: _closes_in_tokyo(tg, second))


async def _closes_in_tokyo(tg: TelegramTestBot, drop: CopDrop) -> bool:
    """``/cop status`` on a live run: its closing time in the member's zone (JST), once the DM went."""
    status = await tg.ok("alice", "/cop status")
    return "in our private chat" in status.text and _in(drop.closes_at, "Asia/Tokyo") in status.text


async def test_a_drop_message_the_worker_gave_up_on_is_found_when_the_member_next_acts(
    make_discord_bot: Any, fake_discord: FakeDiscord
) -> None:
    """No refusal, so no ``delivery.refused`` event: Discord kept failing and the worker dead-lettered
    the DM after its last attempt. The run stays open until the member's next command reads the
    outbox row, closes the run and says what happened, without blaming their DMs."""
    dc: DiscordTestBot = await make_discord_bot(**sections(), delivery={"max_attempts": 1})
    _cop, clock = clocked(dc.engine)
    alice = dc.member("alice")
    await dc.ok(alice, "/cop practice")
    drop = await latest_drop(dc.engine)
    fake_discord.fail_next("POST /channels/{channel_id}/messages", status=503, count=1)
    await open_now(dc.engine, clock, drop.id)
    await until(lambda: _dead(dc, drop))
    assert not await closed(dc.engine, drop.id)

    again = await dc.ok(alice, "/cop practice")
    assert again.text.startswith("⚠️ I couldn't get practice drop") and "kept failing" in again.text
    assert "DMs from server members" not in again.text
    assert await closed(dc.engine, drop.id)


async def _dead(dc: DiscordTestBot, drop: CopDrop) -> bool:
    return (await _sent_row(dc.engine, drop.id)).status == DEAD


def test_a_message_the_worker_gave_up_on_for_another_reason_is_not_blamed_on_the_members_dms() -> None:
    drop = CopDrop(id=7, channel="discord")
    failed = render.undelivered(Undelivered(drop, refused=False))
    assert "practice drop #7" in failed and "kept failing" in failed and "DMs" not in failed
    refused = render.undelivered(Undelivered(drop, refused=True))
    assert "Open your DMs from server members" in refused
