"""Time rules in the member's own timezone: quiet hours, the daily cap's day, digest periods.

* Quiet hours ``22:00-08:00`` are a daily window that may wrap midnight; a non-urgent alert that matches
  inside it is held until the window ends. A window whose start equals its end is rejected.
* The daily cap counts alerts per *local* date, so it resets at the member's midnight.
* A daily digest goes out once per local date at the chosen hour; a weekly one on Mondays.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import BadArgument

_RANGE = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*-\s*(\d{1,2})(?::(\d{2}))?\s*$")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def parse_window(text: str) -> tuple[int, int]:
    """``22:00-08:00`` → (1320, 480) minutes after midnight."""
    match = _RANGE.match(text)
    if match is None:
        raise BadArgument("hours", "expected a range like `22:00-08:00`")
    start_h, start_m, end_h, end_m = (int(g) if g else 0 for g in match.groups())
    for hour, minute in ((start_h, start_m), (end_h, end_m)):
        if hour > 23 or minute > 59:
            raise BadArgument("hours", f"`{hour}:{minute:02d}` is not a time of day (00:00–23:59)")
    start, end = start_h * 60 + start_m, end_h * 60 + end_m
    if start == end:
        raise BadArgument("hours", "start and end are the same; give a window such as `22:00-08:00`")
    return start, end


def show_window(start: int, end: int) -> str:
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


def in_window(minute: int, start: int, end: int) -> bool:
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


def quiet_until(now: datetime, tz_name: str, start: int | None, end: int | None) -> datetime | None:
    """If ``now`` falls in the member's quiet window, the (aware) moment it ends; else None."""
    if start is None or end is None:
        return None
    tz = zone(tz_name)
    local = now.astimezone(tz)
    minute = local.hour * 60 + local.minute
    if not in_window(minute, start, end):
        return None
    end_day = local.date() if minute < end else local.date() + timedelta(days=1)
    naive_end = datetime.combine(end_day, time(end // 60, end % 60))
    return naive_end.replace(tzinfo=tz).astimezone(now.tzinfo)


def local_day(now: datetime, tz_name: str) -> str:
    return now.astimezone(zone(tz_name)).date().isoformat()


def digest_period(now: datetime, tz_name: str, mode: str, hour: int) -> str | None:
    """The digest period that is due at ``now`` (``2026-11-21`` or ``2026-W47``), or None if the
    member's digest hour has not come yet in this period."""
    local = now.astimezone(zone(tz_name))
    if mode == "daily":
        return local.date().isoformat() if local.hour >= hour else None
    if mode == "weekly":
        monday: date = local.date() - timedelta(days=local.weekday())
        due = datetime.combine(monday, time(hour)).replace(tzinfo=local.tzinfo)
        if local < due:
            return None
        year, week, _ = monday.isocalendar()
        return f"{year}-W{week:02d}"
    return None
