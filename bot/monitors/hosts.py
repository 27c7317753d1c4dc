"""Politeness per host: polls of one host never overlap, start at least its minimum interval apart,
and pause together after the host pushes back (429, 430, 403, 5xx, resets), exponentially with jitter
and never sooner than its ``Retry-After``."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

#: scheduler wake-ups drift by a few milliseconds; a poll that is this early still counts as on time
_TOLERANCE = 0.05


class HostGate:
    def __init__(
        self, host: str, min_gap_s: float, *, base_s: float, max_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.host = host
        #: seconds on a monotonic scale; tests pass their own to skip waits without sleeping
        self.clock = clock
        self.min_gap_s = min_gap_s
        self.base_s = base_s
        self.max_s = max_s
        self.failures = 0
        self._resume_at = 0.0
        self._next_start = 0.0
        self._lock = asyncio.Lock()

    def backing_off_for(self) -> float:
        return max(0.0, self._resume_at - self.clock())

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        async with self._lock:
            wait = self._next_start - self.clock()
            if wait > 0:
                await asyncio.sleep(wait)
            self._next_start = self.clock() + self.min_gap_s * (1 - _TOLERANCE)
            yield

    def failed(self, retry_after: float | None = None) -> float:
        """Record a push-back; returns how long this host now rests."""
        self.failures += 1
        delay: float = min(self.max_s, self.base_s * 2.0 ** (self.failures - 1)) * random.uniform(0.5, 1.0)
        if retry_after is not None:
            delay = max(delay, retry_after)
        self._resume_at = self.clock() + delay
        return delay

    def succeeded(self) -> None:
        self.failures = 0
        self._resume_at = 0.0


class HostGates:
    def __init__(self, *, base_s: float, max_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._gates: dict[str, HostGate] = {}
        self._base_s = base_s
        self._max_s = max_s
        self._clock = clock

    def get(self, host: str, min_gap_s: float) -> HostGate:
        gate = self._gates.get(host)
        if gate is None:
            gate = self._gates[host] = HostGate(
                host, min_gap_s, base_s=self._base_s, max_s=self._max_s, clock=self._clock
            )
        return gate
