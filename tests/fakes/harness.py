"""Shared plumbing for end-to-end tests: a free loopback port, and frontends served on an engine."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from core.engine import Engine
from core.frontend import Frontend


def free_port() -> int:
    """A loopback port nobody listens on right now (for servers we must name before starting)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def serving(engine: Engine, frontends: Sequence[Frontend]) -> AsyncIterator[Engine]:
    """Attach and start ``frontends`` on a started engine; on exit shut down as ``snpd run`` does:
    slice workers first (frontends still connected), then the frontends, then storage."""
    for frontend in frontends:
        engine.attach(frontend)
        await frontend.start()
    try:
        yield engine
    finally:
        await engine.stop_work()
        for frontend in reversed(frontends):
            await frontend.stop()
        await engine.stop()
