"""Time zones as members type them: any case (``europe/london``), and a warning for zones that are
a fixed offset, such as ``EST``, which never follow daylight saving."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo, available_timezones

from core.errors import BadArgument

#: zone names that are really offsets or legacy aliases; a member typing them usually means a city
_FIXED_HINTS = {
    "EST": "America/New_York", "MST": "America/Denver", "HST": "Pacific/Honolulu",
    "EST5EDT": "America/New_York", "CST6CDT": "America/Chicago", "MST7MDT": "America/Denver",
    "PST8PDT": "America/Los_Angeles", "GMT": "Europe/London", "CET": "Europe/Paris", "EET": "Europe/Athens",
    "MET": "Europe/Paris", "WET": "Europe/Lisbon",
}


class Zone(NamedTuple):
    name: str
    #: set when the zone keeps one offset all year (``EST``), with the city zone that was likely meant
    warning: str | None


@functools.cache
def _by_folded_name() -> dict[str, str]:
    return {name.casefold(): name for name in available_timezones()}


def resolve_timezone(text: str) -> Zone:
    """The canonical IANA name for ``text`` in any case, or a ``BadArgument`` naming an example."""
    wanted = text.strip()
    name = _by_folded_name().get(wanted.casefold())
    if name is None:
        raise BadArgument("timezone", f"unknown timezone `{wanted[:40]}`; use a name like Europe/London")
    return Zone(name, _fixed_offset_warning(name))


#: a deliberate "no local time" choice, not a mistake
_UNIVERSAL = {"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Universal", "Etc/Universal", "Zulu", "Etc/Zulu"}


def _fixed_offset_warning(name: str) -> str | None:
    if name in _UNIVERSAL:
        return None
    zone = ZoneInfo(name)
    year = datetime.now(UTC).year
    winter = datetime(year, 1, 15, tzinfo=UTC).astimezone(zone).utcoffset()
    summer = datetime(year, 7, 15, tzinfo=UTC).astimezone(zone).utcoffset()
    legacy = name in _FIXED_HINTS or name.startswith("Etc/") or name.upper() == name
    if winter != summer and not legacy:
        return None
    if winter != summer:  # EST5EDT and friends do shift, but are legacy names
        hint = _FIXED_HINTS.get(name)
        return f"{name} is a legacy zone name" + (f"; {hint} is the usual choice" if hint else "")
    hint = _FIXED_HINTS.get(name)
    if hint is None and not legacy:
        return None  # a real place without daylight saving (Asia/Tokyo): nothing to warn about
    return f"{name} keeps the same offset all year (no daylight saving)" + (
        f"; for local time use {hint}" if hint else "; use a city zone such as America/New_York for local time"
    )
