"""Calendar feeds on SQLite and PostgreSQL, served by the ops web server: a private token URL (only
its hash stored), RFC 5545 events that parse with icalendar and with vobject (stable UID, SEQUENCE
raised on every change, UTC DTSTAMP, TZID with VTIMEZONE, STATUS:CANCELLED, VALARMs, refresh hints),
and 404 for a wrong or revoked token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import icalendar
import vobject
from sqlalchemy import select

from bot.drops.models import CalendarToken
from core.commands import Permission
from core.ops.server import OpsServer
from tests.drops.helpers import drops, release_text, soon, stock_catalog


@asynccontextmanager
async def _ops(engine: Any) -> AsyncIterator[OpsServer]:
    server = OpsServer(engine)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def _fetch(url: str) -> tuple[int, str, bytes]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.read()


def _events(document: bytes) -> dict[str, Any]:
    parsed = icalendar.Calendar.from_ical(document)
    vobject.readOne(document.decode())  # the second, independent parser accepts it too
    return {str(item["UID"]): item for item in parsed.walk("VEVENT")}


async def test_calendar_feed_follows_every_change(make_bot: Any, tmp_path: Path) -> None:
    bot = await make_bot(ops={"enabled": True, "port": 0})
    engine = bot.engine
    await stock_catalog(engine, tmp_path)
    mod = bot.member("mia", "discord", Permission.MOD)
    ann = bot.member("ann")
    when = soon(2 * 24 * 60)
    await bot.ok(
        mod, f'/drop add jordan 4 pine green when:"{release_text(when, "America/New_York")}" retailers:"Nike SNKRS:app"'
    )
    [drop] = await drops(engine).upcoming()
    await bot.ok(ann, f"/remind {drop.id} 1d,1h")
    async with _ops(engine) as server:
        base = f"http://127.0.0.1:{server.port}"
        first = await bot.ok(ann, "/calendar")
        found = re.search(r"`http://127\.0\.0\.1:0(/calendar/\S+\.ics)`", first.text)  # [ops] port = 0 here
        assert found is not None
        url = base + found.group(1)
        token = url.rsplit("/", 1)[1].removesuffix(".ics")
        async with engine.db.read() as session:
            stored = list(await session.scalars(select(CalendarToken)))
        assert len(stored) == 1 and token not in stored[0].token_hash  # only the hash is kept

        status, kind, body = await _fetch(url)
        assert status == 200 and kind.startswith("text/calendar")
        assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H" in body and b"X-PUBLISHED-TTL:PT1H" in body
        assert b"BEGIN:VTIMEZONE" in body and b"TZID:America/New_York" in body
        event = _events(body)[f"drop-{drop.id}@127.0.0.1"]
        assert event["SEQUENCE"] == 0 and event["STATUS"] == "CONFIRMED"
        assert event["DTSTART"].dt.tzinfo is not None and str(event["DTSTART"].params["TZID"]) == "America/New_York"
        assert event["DTSTART"].dt.astimezone(UTC) == drop.release_at
        assert event["DTSTAMP"].dt.utcoffset() == timedelta(0)
        assert [a["TRIGGER"].dt for a in event.walk("VALARM")] == [-timedelta(days=1), -timedelta(hours=1)]

        await bot.ok(mod, f"/drop edit {drop.id} price:240")
        await bot.ok(mod, f"/drop cancel {drop.id}")
        event = _events((await _fetch(url))[2])[f"drop-{drop.id}@127.0.0.1"]
        assert event["SEQUENCE"] == 2 and event["STATUS"] == "CANCELLED" and not event.walk("VALARM")

        assert (await _fetch(f"{base}/calendar/{'x' * 32}.ics"))[0] == 404
        assert (await _fetch(f"{base}/calendar/short.ics"))[0] == 404
        again = await bot.ok(ann, "/calendar")
        assert "/calendar reset" in again.text and "http" not in again.text  # the token is shown once
        reset = await bot.ok(ann, "/calendar reset")
        new_path = re.search(r"`http\S+?:0(/calendar/\S+\.ics)`", reset.text)
        assert new_path is not None and "no longer works" in reset.text
        assert (await _fetch(url))[0] == 404  # revoked
        assert (await _fetch(base + new_path.group(1)))[0] == 200
