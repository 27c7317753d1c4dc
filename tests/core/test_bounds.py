"""Numbers and text past what storage holds get a clear refusal with the range, on SQLite and
PostgreSQL alike, never an internal error."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.engine import Engine
from core.identity import Caller
from tests.paths import REPO

ADMIN = Caller("shell", "local", "admin")
SAM = Caller("discord", "4242", "sam")


@pytest.mark.parametrize(
    ("caller", "line", "expected"),
    [
        (SAM, "/alerts test 3000000000", "`id`: must be at most 2,147,483,647"),
        (SAM, "/alerts delete 99999999999999999999", "`id`: must be at most 2,147,483,647"),
        (ADMIN, "/admin deadletters retry 3000000000", "`id`: must be at most 2,147,483,647"),
        (SAM, "/alerts add max_price:1e300 jordan", "`max_price`: must be at most 1,000,000,000,000"),
        (ADMIN, "/raffle create Dunk 5 3000000d", "`ends`: must be within"),
        (SAM, "/alerts add jordan\x00 4", "must not contain a NUL character"),
    ],
)
async def test_out_of_range_values_are_refused_with_the_range(
    engine: Engine, caller: Caller, line: str, expected: str
) -> None:
    reply = await engine.dispatch_line(caller, line)
    assert reply.title.startswith("⚠️"), reply.text
    assert expected in (reply.text or ""), reply.text
    assert "Something went wrong" not in (reply.text or "")


@pytest.mark.parametrize("days", ["99999999999999999999", "-1", "0"])
def test_prices_median_days_are_bounded(days: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "snpd", "prices", "median", "Jordan 4", "--days", days],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert "must be from 1 to 36,500" in done.stderr
    assert "Traceback" not in done.stderr
