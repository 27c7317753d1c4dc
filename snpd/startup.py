"""Connecting a chat frontend at start-up, through network blips: a platform that can't be reached is
retried with back-off (one line each time, on stderr and in the log) while the rest of the bot runs;
credentials the platform refuses stop ``snpd run`` with one line, because retrying can't fix them."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from contextlib import suppress

import structlog

from core.engine import Engine
from core.frontend import Frontend, FrontendRejected

log = structlog.get_logger(__name__)

FIRST_RETRY_S = 5.0
MAX_RETRY_S = 300.0


def describe(exc: BaseException) -> str:
    """One short line about a failed connection, without a traceback."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    return f"{name}: {text[:160]}" if text else name


async def connect(
    engine: Engine,
    make: Callable[[], Frontend],
    stop: asyncio.Event,
    *,
    first_retry_s: float = FIRST_RETRY_S,
    max_retry_s: float = MAX_RETRY_S,
) -> Frontend | None:
    """Start a fresh frontend from ``make`` until one connects (then attach it) or ``stop`` is set.

    A new object per attempt: a chat library's client is not meant to be reopened after a failed
    start. Returns ``None`` when stopped first.
    """
    delay = first_retry_s
    while not stop.is_set():
        frontend = make()
        try:
            await frontend.start()
        except FrontendRejected:
            with suppress(Exception):
                await frontend.stop()
            raise
        except Exception as exc:
            with suppress(Exception):
                await frontend.stop()
            reason = describe(exc)
            log.warning("frontend.unreachable", frontend=frontend.name, reason=reason, retry_in_s=delay)
            print(f"{frontend.name}: can't connect ({reason}); retrying in {delay:.0f} s", file=sys.stderr)
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            delay = min(delay * 2, max_retry_s)
            continue
        engine.attach(frontend)
        log.info("frontend.started", frontend=frontend.name)
        return frontend
    return None
