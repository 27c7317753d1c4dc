"""What admins and members type about drops: release times need a zone and a future, offsets are
sane, retailers are known, raffle links are public http(s)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.drops.config import DEFAULT_RETAILERS
from bot.drops.parse import looks_like_offsets, parse_offsets, parse_release, parse_retailers, safe_link
from core.errors import BadArgument

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "moment", "zone"),
    [
        ("2026-12-05 10:00 America/New_York", datetime(2026, 12, 5, 15, 0, tzinfo=UTC), "America/New_York"),
        ("2026-12-05 10:00 america/new_york", datetime(2026, 12, 5, 15, 0, tzinfo=UTC), "America/New_York"),
        ("2026-12-05T15:00Z", datetime(2026, 12, 5, 15, 0, tzinfo=UTC), "UTC"),
        ("2026-12-05 10:00 -05:00", datetime(2026, 12, 5, 15, 0, tzinfo=UTC), "UTC"),
        ("2026-12-05 8:30 Europe/London", datetime(2026, 12, 5, 8, 30, tzinfo=UTC), "Europe/London"),
    ],
)
def test_release_times_with_their_zone(text: str, moment: datetime, zone: str) -> None:
    assert parse_release(text, now=NOW) == (moment, zone)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("2026-12-05 10:00", "add the time zone"),
        ("2026-11-01 10:00 UTC", "has passed"),
        ("2030-11-01 10:00 UTC", "more than two years"),
        ("tomorrow 10am", "expected a date, a time and a zone"),
        ("2026-02-30 10:00 UTC", "not a real date"),
        ("2026-12-05 10:00 Mars/Olympus", "unknown timezone"),
        ("2027-03-14 02:30 America/New_York", "does not exist"),
        ("2026-12-05 10:00 +15:00", "not a UTC offset"),
    ],
)
def test_bad_release_times_are_refused(text: str, problem: str) -> None:
    with pytest.raises(BadArgument, match=problem):
        parse_release(text, now=NOW)


def test_offsets() -> None:
    assert parse_offsets("1d,1h,10m", max_days=30, max_count=6) == [86_400, 3_600, 600]
    assert parse_offsets("10m 1h 10m", max_days=30, max_count=6) == [3_600, 600]
    for text, problem in [
        ("-5m", "drop the minus"),
        ("99y", "not an offset"),
        ("garbage", "not an offset"),
        ("0m", "no time"),
        ("31d", "more than 30 days"),
        ("1m,2m,3m", "at most 2"),
    ]:
        with pytest.raises(BadArgument, match=problem):
            parse_offsets(text, max_days=30, max_count=2)
    assert looks_like_offsets("1d,1h") and looks_like_offsets("-5m") and looks_like_offsets("99y")
    assert not looks_like_offsets("4") and not looks_like_offsets("green")


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "http://127.0.0.1/raffle",
        "http://localhost:8080/x",
        "https://user:pw@shop.com/r",
        "ftp://shop.com/r",
        "http://[::1]/r",
        "http://10.0.0.5/r",
        "https://intranet/r",
        "not a url",
    ],
)
def test_hostile_links_are_refused(url: str) -> None:
    with pytest.raises(BadArgument, match="public http"):
        safe_link(url)


def test_retailers() -> None:
    parsed = parse_retailers("nike snkrs:app, Foot Locker:raffle, Kith", DEFAULT_RETAILERS)
    assert [(r["name"], r["method"]) for r in parsed] == [
        ("Nike SNKRS", "app"),
        ("Foot Locker", "raffle"),
        ("Kith", "fcfs"),
    ]
    assert safe_link("https://www.footlocker.com/raffle?id=1") == "https://www.footlocker.com/raffle?id=1"
    with pytest.raises(BadArgument, match="unknown retailer `Bob's Shoes`"):
        parse_retailers("Bob's Shoes:fcfs", DEFAULT_RETAILERS)
    with pytest.raises(BadArgument, match="fcfs, raffle or app"):
        parse_retailers("Kith:lottery", DEFAULT_RETAILERS)
