"""What admins and members type about drops, checked: release times with their zone, reminder
offsets, retailers with their release method, raffle links. Each refusal names the problem."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from yarl import URL

from bot.drops.models import METHODS
from bot.monitors.sources.netguard import AddressPolicy, BlockedAddress
from core.errors import BadArgument
from core.markup import clip
from core.timezones import resolve_timezone

#: a release this far ahead is a typo (a year 2062), not a plan
FURTHEST = timedelta(days=730)
_DATE_TIME = re.compile(
    r"^\s*(\d{4}-\d{2}-\d{2})[ tT](\d{1,2}:\d{2})(?::(\d{2}))?\s*(Z|[+-]\d{2}:?\d{2}|[A-Za-z][\w/+-]*)?\s*$"
)
_OFFSET = re.compile(r"^(\d{1,4})(w|d|h|m)$")
_UNIT_S = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60}
_METHOD_WORDS = {
    "fcfs": "fcfs",
    "first-come": "fcfs",
    "online": "fcfs",
    "instore": "fcfs",
    "raffle": "raffle",
    "draw": "raffle",
    "app": "app",
    "app-exclusive": "app",
    "exclusive": "app",
}
_POLICY = AddressPolicy()


def parse_release(text: str, *, now: datetime, param: str = "when") -> tuple[datetime, str]:
    """``2026-12-05 10:00 America/New_York`` (or ``…T15:00Z``, ``…10:00-05:00``) → the UTC moment and
    the IANA zone it was given in. A time without a zone, in the past or years ahead is refused."""
    match = _DATE_TIME.match(text)
    if match is None:
        raise BadArgument(param, "expected a date, a time and a zone, e.g. 2026-12-05 10:00 America/New_York")
    day, clock, seconds, zone_text = match.groups()
    if zone_text is None:
        raise BadArgument(param, "add the time zone, e.g. 2026-12-05 10:00 America/New_York (or Z for UTC)")
    try:
        naive = datetime.fromisoformat(f"{day}T{clock.zfill(5)}:{seconds or '00'}")
    except ValueError:
        raise BadArgument(param, f"`{clip(day + ' ' + clock, 20)}` is not a real date and time") from None
    zone_name: str
    if zone_text.upper() in ("Z", "UTC"):
        zone_name, moment = "UTC", naive.replace(tzinfo=UTC)
    elif zone_text[0] in "+-":
        digits = zone_text.replace(":", "")
        minutes = int(digits[1:3]) * 60 + int(digits[3:5])
        if minutes > 14 * 60 or int(digits[3:5]) >= 60:
            raise BadArgument(param, f"`{zone_text}` is not a UTC offset")
        sign = -1 if digits[0] == "-" else 1
        moment = (naive - timedelta(minutes=sign * minutes)).replace(tzinfo=UTC)
        zone_name = "UTC"
    else:
        zone_name = resolve_timezone(zone_text).name
        local = naive.replace(tzinfo=ZoneInfo(zone_name))
        if local.astimezone(UTC).astimezone(local.tzinfo).replace(tzinfo=None) != naive:
            raise BadArgument(param, f"{day} {clock} does not exist in {zone_name} (the clocks skip it)")
        moment = local.astimezone(UTC)
    if moment <= now:
        raise BadArgument(param, "that moment has passed; give a future release time")
    if moment - now > FURTHEST:
        raise BadArgument(param, "that is more than two years ahead; check the year")
    return moment, zone_name


def parse_offsets(text: str, *, max_days: int, max_count: int) -> list[int]:
    """``1d,1h,10m`` → seconds before release, largest first. Negative, zero, huge, repeated or
    unreadable offsets are refused."""
    parts = [part.strip().lower() for part in re.split(r"[,\s]+", text.strip()) if part.strip()]
    if not parts:
        raise BadArgument("offsets", "give offsets like 1d,1h,10m")
    seconds: set[int] = set()
    for part in parts:
        if part.startswith("-"):
            raise BadArgument("offsets", f"`{clip(part, 12)}`: reminders come before the drop; drop the minus")
        match = _OFFSET.match(part)
        if match is None:
            raise BadArgument(
                "offsets", f"`{clip(part, 12)}` is not an offset; use numbers with w, d, h or m (1d,1h,10m)"
            )
        value = int(match.group(1)) * _UNIT_S[match.group(2)]
        if value <= 0:
            raise BadArgument("offsets", f"`{part}` is no time before the drop")
        if value > max_days * 86_400:
            raise BadArgument("offsets", f"`{part}` is more than {max_days} days before the drop")
        seconds.add(value)
    if len(seconds) > max_count:
        raise BadArgument("offsets", f"at most {max_count} reminders per drop")
    return sorted(seconds, reverse=True)


def looks_like_offsets(word: str) -> bool:
    """Whether the last word of ``/remind ITEM 1d,1h`` is offsets rather than part of the pair."""
    parts = [part for part in word.lower().split(",") if part]
    return bool(parts) and all(re.fullmatch(r"-?\d{1,6}[a-z]{1,3}", part) for part in parts) and not word.isdigit()


def describe_offset(seconds: int) -> str:
    for unit, size in (("w", 604_800), ("d", 86_400), ("h", 3_600)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds // 60}m"


def safe_link(url: str, param: str = "url") -> str:
    """A raffle link members will open: http(s), a real public host, no credentials, no private or
    loopback address literal (as the monitors' network guard checks)."""
    text = url.strip()
    if len(text) > 500:
        raise BadArgument(param, "links are at most 500 characters")
    try:
        parsed = _POLICY.check_url(text)
    except (BlockedAddress, ValueError):
        raise BadArgument(param, "links must be public http(s) addresses") from None
    host = (parsed.host or "").lower().rstrip(".")
    if parsed.user or parsed.password or host == "localhost" or host.endswith(".localhost") or "." not in host:
        raise BadArgument(param, "links must be public http(s) addresses")
    return str(URL(text))


def parse_retailers(text: str, known: Sequence[str]) -> list[dict[str, Any]]:
    """``Nike SNKRS:app, Foot Locker:raffle`` → retailer entries; an unknown retailer or method is
    refused with the names it could be."""
    by_fold = {name.casefold(): name for name in known}
    result: list[dict[str, Any]] = []
    for chunk in [c.strip() for c in text.split(",") if c.strip()]:
        name_part, _, method_part = chunk.rpartition(":") if ":" in chunk else (chunk, "", "fcfs")
        name = by_fold.get(name_part.strip().casefold())
        if name is None:
            raise BadArgument(
                "retailers", f"unknown retailer `{clip(name_part.strip(), 40)}`; known: {', '.join(known[:12])}…"
            )
        method = _METHOD_WORDS.get(method_part.strip().lower())
        if method is None or method not in METHODS:
            raise BadArgument("retailers", f"`{clip(method_part, 20)}`: the method is fcfs, raffle or app")
        if any(entry["name"] == name for entry in result):
            raise BadArgument("retailers", f"{name} is listed twice")
        result.append({"name": name, "method": method, "url": None, "deadline": None})
    if not result:
        raise BadArgument("retailers", "name at least one retailer, e.g. Nike SNKRS:app")
    return result


def parse_price(value: float | None) -> float | None:
    if value is None:
        return None
    if not 1 <= value <= 100_000:
        raise BadArgument("price", "a retail price is between $1 and $100,000")
    return round(value, 2)


def parse_deadline(text: str, *, now: datetime, release: datetime) -> datetime:
    moment, _zone = parse_release(text, now=now, param="deadline")
    if moment > release + timedelta(days=7):
        raise BadArgument("deadline", "a raffle closes before (or soon after) the release")
    return moment
