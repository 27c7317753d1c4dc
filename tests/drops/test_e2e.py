"""A drop end to end on Discord and Telegram (real discord.py and python-telegram-bot against the
local fake servers), on SQLite and PostgreSQL: proposed from the catalog, confirmed by a mod with the
button, posted to the drops feed, a member's reminder, an edit that moves the release (the post is
edited in place and the reminder follows the new time), and the member's .ics feed."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import icalendar

from bot.drops.commands import CALENDAR_FILE
from bot.drops.models import DropReminder
from core.commands import Permission
from core.ops.server import OpsServer
from core.storage.database import Database
from core.storage.types import utcnow
from core.targets import DiscordChannel, TelegramChat
from tests.drops.helpers import drops, release_text, soon, stock_catalog
from tests.testbot import DiscordTestBot, TelegramTestBot, heard_on_discord, heard_on_telegram

SECTIONS: dict[str, Any] = {"drops": {"proposals_feed": "reports"}, "ops": {"enabled": True, "port": 0}}


async def _calendar(engine: Any, text: str) -> icalendar.Calendar:
    found = re.search(r"127\.0\.0\.1:0(/calendar/\S+\.ics)", text)
    assert found is not None, text
    server = OpsServer(engine)
    await server.start()
    try:
        url = f"http://127.0.0.1:{server.port}{found.group(1)}"
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            assert response.status == 200
            return icalendar.Calendar.from_ical(await response.read())
    finally:
        await server.stop()


def _attached(name: str, data: bytes, drop_id: int) -> icalendar.Calendar:
    """The .ics /calendar sent: named as such, parsed back, holding the drop with the member's alarm."""
    assert name == CALENDAR_FILE
    sent = icalendar.Calendar.from_ical(data)
    [event] = sent.walk("VEVENT")
    assert event["UID"].startswith(f"drop-{drop_id}@") and event.walk("VALARM"), "the reminded drop, alarmed"
    return sent


async def _propose(engine: Any, tmp_path: Path) -> None:
    await stock_catalog(engine, tmp_path, future_release=(utcnow() + timedelta(days=10)).date().isoformat())
    assert await drops(engine).propose_from_catalog() == 1


async def test_drop_end_to_end_on_discord(make_discord_bot: Any, database: Database, tmp_path: Path) -> None:
    dc: DiscordTestBot = await make_discord_bot(db=database, **SECTIONS)
    engine = dc.engine
    mods_room, drops_room = dc.fake.add_channel("mods"), dc.fake.add_channel("drops")
    await engine.feeds.bind("reports", DiscordChannel(channel_id=mods_room.id), by=None)
    await engine.feeds.bind("drops", DiscordChannel(channel_id=drops_room.id), by=None)
    mod, ann = dc.member("mia", role=Permission.MOD), dc.member("ann")

    await _propose(engine, tmp_path)
    proposal = heard_on_discord(await dc.fake.wait_for_message(mods_room.id))
    assert proposal.title == "🗓️ Proposed drop: Nike Dunk Low Future Panda"
    confirmed = await dc.press(mod, proposal, "Confirm")
    assert confirmed.title is not None and confirmed.title.endswith("confirmed")
    posted = await dc.fake.wait_for_message(drops_room.id)
    assert posted.embeds[0]["title"] == "📅 Nike Dunk Low Future Panda"
    [drop] = await drops(engine).upcoming()
    assert f"<t:{int(drop.release_at.timestamp())}:f>" in posted.embeds[0]["description"]

    await dc.ok(mod, f'/drop edit {drop.id} retailers:"Nike SNKRS:app"')
    set_up = await dc.ok(ann, f"/remind {drop.id} 10m")
    assert set_up.title == "⏰ Reminders set"
    moved_to = soon(9)  # the 10-minute reminder for the new time is due now
    edited = await dc.ok(mod, f'/drop edit {drop.id} when:"{release_text(moved_to)}"')
    assert "earlier" in edited.text
    reminder = heard_on_discord(await dc.fake.wait_for_dm(ann.native.user.id, timeout=15))
    assert reminder.title is not None and reminder.title.startswith("⏰ Nike Dunk Low Future Panda drops in")
    assert f"<t:{int(moved_to.timestamp())}:f>" in reminder.text and "Still to do" in reminder.text
    await engine.bus.drain()
    assert posted in dc.fake.message_edits and "Nike SNKRS" in posted.embeds[0]["description"]
    assert f"<t:{int(moved_to.timestamp())}:f>" in posted.embeds[0]["description"]
    assert len([m for m in dc.fake.messages if m.channel_id == drops_room.id]) == 1  # edited, not reposted

    ticked = await dc.press(ann, reminder, "✅ Size chosen")
    assert "✅ Size chosen" in ticked.text
    feed = await dc.ok(ann, "/calendar")
    [event] = (await _calendar(engine, feed.text)).walk("VEVENT")
    assert event["SEQUENCE"] == 2 and event["SUMMARY"] == "Drop: Nike Dunk Low Future Panda"
    assert feed.ephemeral and "is attached" in feed.text
    [ics_file] = feed.images  # the uploaded attachment, read back from the fake's CDN
    [sent] = _attached(ics_file.name, ics_file.data, drop.id).walk("VEVENT")
    assert sent["UID"] == event["UID"] and sent["SEQUENCE"] == 2
    async with engine.db.read() as session:
        assert (await session.get(DropReminder, 1)) is not None


async def test_drop_end_to_end_on_telegram(make_telegram_bot: Any, database: Database, tmp_path: Path) -> None:
    tg: TelegramTestBot = await make_telegram_bot(db=database, **SECTIONS)
    engine = tg.engine
    mods_room, drops_room = tg.fake.group(-100111, "Mods"), tg.fake.group(-100222, "Drops")
    await engine.feeds.bind("reports", TelegramChat(chat_id=mods_room.id), by=None)
    await engine.feeds.bind("drops", TelegramChat(chat_id=drops_room.id), by=None)
    mod, ann = tg.member("mia", role=Permission.MOD), tg.member("ann")

    await _propose(engine, tmp_path)
    proposal = heard_on_telegram(await tg.fake.wait_for_message(mods_room.id))
    assert proposal.title == "🗓️ Proposed drop: Nike Dunk Low Future Panda"
    confirmed = await tg.press(mod, proposal, "Confirm")
    assert confirmed.title is not None and confirmed.title.endswith("confirmed")
    posted = await tg.fake.wait_for_message(drops_room.id)
    assert "📅 Nike Dunk Low Future Panda" in posted.text and "<t:" not in posted.raw
    [drop] = await drops(engine).upcoming()

    await tg.ok(ann, "/settings timezone:Asia/Tokyo")
    await tg.ok(ann, f"/remind {drop.id} 10m")
    moved_to = soon(9)
    await tg.ok(mod, f'/drop edit {drop.id} when:"{release_text(moved_to)}"')
    reminder = heard_on_telegram(await tg.fake.wait_for_message(ann.native.id, timeout=15, contains="⏰"))
    assert "drops in" in reminder.plain_text() and "JST" in reminder.plain_text()  # the member's own zone
    await engine.bus.drain()
    edits = [call for call in tg.fake.edits if call.params.get("message_id") == posted.message_id]
    assert edits and "Release:" in edits[-1].params["text"]

    feed = await tg.ok(ann, "/calendar")
    [event] = (await _calendar(engine, feed.text)).walk("VEVENT")
    assert event["SEQUENCE"] == 1 and str(event["STATUS"]) == "CONFIRMED"
    document = feed.raw  # one sendDocument in ann's private chat, the note as its caption
    assert document.method == "sendDocument" and document.chat_id == ann.native.id and document.filename
    [sent] = _attached(document.filename, document.uploads[0], drop.id).walk("VEVENT")
    assert sent["UID"] == event["UID"] and sent["SEQUENCE"] == 1
