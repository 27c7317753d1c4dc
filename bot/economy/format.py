"""Small formatting helpers shared by the economy's replies."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from core.errors import BadArgument

_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def amount(value: int, currency: str) -> str:
    return f"{value:,} {currency}"


def count(value: int, one: str, many: str | None = None) -> str:
    """``1 entry``, ``2 entries``, ``1 winner``, ``3 winners``: the noun agrees with the number."""
    return f"{value:,} {one if value == 1 else (many or one + 's')}"


def signed(value: int) -> str:
    return f"+{value:,}" if value > 0 else f"−{abs(value):,}"


def duration(delta: timedelta) -> str:
    """``2h 5m``, ``3d 4h``, ``45s``: the two largest units, for cooldowns and countdowns."""
    seconds = max(0, int(delta.total_seconds()))
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
        if len(parts) == 2:
            break
    return " ".join(parts)


def day(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M")


def parse_ends(text: str, now: datetime, *, max_days: int = 90) -> datetime:
    """A raffle end: a duration from now (``90m``, ``2h``, ``3d``, ``1w``) or an ISO time (UTC if no zone)."""
    raw = text.strip().lower()
    match = _DURATION.match(raw)
    if match:
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        if seconds > max_days * 86400:  # checked before adding: 3000000d would overflow the date
            raise BadArgument("ends", f"must be within {max_days} days")
        ends = now + timedelta(seconds=seconds)
    else:
        try:
            parsed = datetime.fromisoformat(text.strip())
        except ValueError:
            raise BadArgument("ends", "give a duration like `2h` or `3d`, or a time like `2026-12-01T18:00`") from None
        ends = parsed if parsed.tzinfo else parsed.replace(tzinfo=now.tzinfo)
    if ends <= now + timedelta(seconds=59):
        raise BadArgument("ends", "must be at least a minute from now")
    if ends > now + timedelta(days=max_days):
        raise BadArgument("ends", f"must be within {max_days} days")
    return ends
