"""Times for /cop schedule and how results show them.

A scheduled drop is a moment everyone races for, so a time must say its zone: a duration from now
(``90s``, ``10m``, ``2h``, ``3d``), an ISO time with an offset (``2026-12-01T18:00-05:00``, ``…Z``)
or with a zone name in brackets (``2026-12-01T18:00[America/New_York]``). A bare local time is
refused rather than guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import BadArgument
from core.markup import clip, escape, timestamp
from core.timezones import resolve_timezone

Clock = Callable[[], datetime]

_DURATION = re.compile(r"^(\d{1,7})\s*(s|m|h|d)$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_BRACKETED = re.compile(r"^(?P<time>[^\[\]]+)\[(?P<zone>[A-Za-z0-9_+\-/]{1,64})\]$")
#: the least lead time of a scheduled drop: members need a moment to see the announcement
MIN_LEAD = timedelta(seconds=60)
EXAMPLES = "`10m`, `2h`, `2026-12-01T18:00-05:00` or `2026-12-01T18:00[America/New_York]`"


def parse_when(text: str, now: datetime, *, max_days: int) -> datetime:
    """The moment ``text`` names, in UTC; a ``BadArgument`` for a bare time, the past or too far ahead."""
    raw = text.strip()
    duration = _DURATION.match(raw)
    if duration is not None:
        seconds = int(duration.group(1)) * _UNIT_SECONDS[duration.group(2).lower()]
        if seconds > max_days * 86400:
            raise BadArgument("when", f"must be within {max_days} days")
        moment = now + timedelta(seconds=seconds)
    else:
        moment = _absolute(raw)
    if moment <= now:
        raise BadArgument("when", f"{_shown(raw)} is in the past (now is {clock_text(now)} UTC)")
    if moment < now + MIN_LEAD:
        raise BadArgument("when", "must be at least a minute from now, so members see it coming")
    if moment > now + timedelta(days=max_days):
        raise BadArgument("when", f"must be within {max_days} days")
    return moment.astimezone(UTC)


def _absolute(raw: str) -> datetime:
    bracketed = _BRACKETED.match(raw)
    zone: ZoneInfo | None = None
    text = raw
    if bracketed is not None:
        zone = ZoneInfo(resolve_timezone(bracketed.group("zone")).name)
        text = bracketed.group("time")
    try:
        parsed = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise BadArgument("when", f"{_shown(raw)} isn't a time: give {EXAMPLES}") from None
    if zone is not None:
        if parsed.tzinfo is not None:
            raise BadArgument("when", "give an offset or a zone name, not both")
        return parsed.replace(tzinfo=zone)
    if parsed.tzinfo is None:
        raise BadArgument("when", f"{_shown(raw)} has no time zone: add one, e.g. {EXAMPLES}")
    return parsed


def _shown(raw: str) -> str:
    return f"`{escape(clip(raw, 40, '…'))}`"


def clock_text(moment: datetime) -> str:
    """``2026-12-01 18:00:05``: to the second, since seconds decide a drop."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def local_text(moment: datetime, zone: str = "UTC") -> str:
    """``Tue 1 Dec 2026 18:00:05 EST``: the moment in ``zone``, to the second, naming the zone."""
    try:
        local = moment.astimezone(ZoneInfo(zone))
    except (ValueError, ZoneInfoNotFoundError):  # a zone this system no longer knows: UTC, said as such
        local = moment.astimezone(UTC)
    return local.strftime("%a %-d %b %Y %H:%M:%S ") + (local.tzname() or zone)


def when(moment: datetime, zone: str = "UTC") -> str:
    """A moment as a timestamp span: Discord shows it in each viewer's own zone, other platforms
    show it in ``zone`` (the member's; a feed post, which has no single reader, keeps UTC and says so)."""
    return timestamp(moment, local_text(moment, zone))


def seconds_text(elapsed_ms: int) -> str:
    """``3.21 s``."""
    return f"{elapsed_ms / 1000:.2f} s"


def month_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The first moment of ``2026-11`` and of the month after, in UTC."""
    start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following


def parse_month(text: str) -> str:
    try:
        return month_of(datetime.strptime(text.strip(), "%Y-%m").replace(tzinfo=UTC))
    except ValueError:
        raise BadArgument("month", "give a month like `2026-11`") from None
