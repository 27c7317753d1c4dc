"""``/healthz``: is every frontend connected, the database answering and the scheduler running?

Frontends report their connection through ``ReportsConnection`` (a ``connected`` property: the
Discord gateway is ready, Telegram is polling, the SMS webhook is listening); one without it (the
local shell) counts as connected while attached. A frontend ``snpd run`` means to start but has not
attached yet is ``starting``, which is unhealthy: a load balancer should not send traffic yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from sqlalchemy import text

if TYPE_CHECKING:
    from core.engine import Engine

DATABASE_TIMEOUT_S = 3.0


@runtime_checkable
class ReportsConnection(Protocol):
    @property
    def connected(self) -> bool: ...


@runtime_checkable
class ReportsRunning(Protocol):
    @property
    def running(self) -> bool: ...


async def health(
    engine: Engine, expected: Iterable[str] = (), *, timeout_s: float = DATABASE_TIMEOUT_S
) -> dict[str, Any]:
    """The health document; ``healthy`` is true only when every part is."""
    frontends: dict[str, str] = {}
    for name in [*expected, *engine.frontends]:
        frontend = engine.frontends.get(name)
        if frontend is None:
            frontends[name] = "starting"
        elif isinstance(frontend, ReportsConnection):
            frontends[name] = "connected" if frontend.connected else "disconnected"
        else:
            frontends[name] = "connected"
    database = await _database(engine, timeout_s)
    scheduler = engine.scheduler
    running = scheduler.running if isinstance(scheduler, ReportsRunning) else True
    healthy = all(state == "connected" for state in frontends.values()) and database == "ok" and running
    return {
        "healthy": healthy,
        "frontends": frontends,
        "database": database,
        "scheduler": "running" if running else "stopped",
    }


async def _database(engine: Engine, timeout_s: float) -> str:
    """``ok``, or why not: a round trip, so a dead server or a broken file shows up here."""
    try:
        async with asyncio.timeout(timeout_s):
            async with engine.db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except TimeoutError:
        return f"unreachable: no answer within {timeout_s:g} s"
    except Exception as exc:
        lines = str(exc).splitlines()
        detail = f": {lines[0][:200]}" if lines else ""
        return f"unreachable: {type(exc).__name__}{detail}"
    return "ok"
