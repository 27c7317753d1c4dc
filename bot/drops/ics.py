"""The drop calendar as RFC 5545 iCalendar, built with the icalendar library.

Each drop is one VEVENT whose UID never changes (``drop-<id>@<host>``) and whose SEQUENCE is the
drop's own, raised on every change, so a calendar app replaces the event instead of adding another.
Start times carry the zone the drop was announced in (TZID) with its VTIMEZONE; DTSTAMP is UTC; a
cancelled drop stays in the feed as STATUS:CANCELLED so subscribers see it go. ``REFRESH-INTERVAL``
and ``X-PUBLISHED-TTL`` ask apps to re-read the feed; VALARMs are offered, though most apps ignore a
subscription's alarms (the bot's own reminders are the dependable channel).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event, vDuration

from bot.drops.models import CANCELLED, METHOD_LABELS, Drop
from core.storage.types import utcnow

PRODID = "-//SNPD//Drop calendar//EN"
EVENT_MINUTES = 30


def _duration(minutes: int) -> str:
    """``PT1H``, ``P1DT2H30M``: an RFC 5545 duration as text (X-PUBLISHED-TTL takes no VALUE)."""
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    time_part = (f"{hours}H" if hours else "") + (f"{mins}M" if mins else "")
    return "P" + (f"{days}D" if days else "") + (f"T{time_part}" if time_part else "")


def uid(drop_id: int, host: str) -> str:
    return f"drop-{drop_id}@{host}"


def event(drop: Drop, host: str, *, alarms: Iterable[int] = (), stamp: datetime | None = None) -> Event:
    item = Event()
    item.add("uid", uid(drop.id, host))
    item.add("sequence", drop.sequence)
    item.add("dtstamp", (stamp or utcnow()).astimezone(UTC))
    item.add("last-modified", drop.updated_at.astimezone(UTC))
    start = drop.release_at.astimezone(ZoneInfo(drop.timezone))
    item.add("dtstart", start)
    item.add("dtend", start + timedelta(minutes=EVENT_MINUTES))
    item.add("summary", ("Cancelled: " if drop.status == CANCELLED else "Drop: ") + drop.name)
    lines = [
        f"{entry['name']}: {METHOD_LABELS.get(entry['method'], entry['method'])}"
        + (f" {entry['url']}" if entry.get("url") else "")
        for entry in drop.retailers
    ]
    if drop.retail_price is not None:
        lines.append(f"Retail ${drop.retail_price:,.0f}")
    if drop.notes:
        lines.append(drop.notes)
    item.add("description", "\n".join(lines))
    item.add("status", "CANCELLED" if drop.status == CANCELLED else "CONFIRMED")
    item.add("transp", "TRANSPARENT")
    if drop.status != CANCELLED:
        for seconds in alarms:
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", f"{drop.name} drops soon")
            alarm.add("trigger", vDuration(-timedelta(seconds=seconds)))
            item.add_component(alarm)
    return item


def calendar(
    drops: Iterable[Drop], host: str, *, refresh_minutes: int, alarms: Iterable[int] = (), name: str = "Drops"
) -> bytes:
    """The whole feed, with one VTIMEZONE per zone its events use."""
    feed = Calendar()
    feed.add("prodid", PRODID)
    feed.add("version", "2.0")
    feed.add("calscale", "GREGORIAN")
    feed.add("method", "PUBLISH")
    feed.add("x-wr-calname", name)
    refresh = vDuration(timedelta(minutes=refresh_minutes))
    feed.add("refresh-interval", refresh, parameters={"VALUE": "DURATION"})
    feed.add("x-published-ttl", _duration(refresh_minutes))
    stamp = utcnow()
    chosen = list(alarms)
    for drop in drops:
        feed.add_component(event(drop, host, alarms=chosen, stamp=stamp))
    feed.add_missing_timezones()
    document: bytes = feed.to_ical()
    return document
