"""The scheduler interface and its embedded implementation on APScheduler's asyncio scheduler."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_RUNNING
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

Job = Callable[[], Awaitable[Any]]


class Scheduler(Protocol):
    def every(self, job_id: str, seconds: float, job: Job, *, jitter: float = 0.0) -> None: ...

    def once(self, job_id: str, when: datetime, job: Job) -> None: ...

    def cancel(self, job_id: str) -> bool: ...

    def start(self) -> None: ...

    def shutdown(self) -> None:
        """Stop firing jobs; running ones are cancelled but not awaited (for sync contexts)."""
        ...

    async def stop(self, grace: float = 5.0) -> None:
        """Stop firing jobs, give running ones ``grace`` seconds, then cancel and await them, so
        nothing still holds a database connection when storage is closed."""
        ...


class EmbeddedScheduler:
    """Jobs live in memory: whoever owns a job (a monitor, a raffle) re-registers it from the
    database at start-up, so a restart or a second process never depends on this state."""

    def __init__(self) -> None:
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        self._running: set[asyncio.Task[Any]] = set()

    def _tracked(self, job: Job) -> Job:
        async def run() -> Any:
            task = asyncio.current_task()
            if task is not None:
                self._running.add(task)
            try:
                return await job()
            finally:
                if task is not None:
                    self._running.discard(task)

        return run

    def every(self, job_id: str, seconds: float, job: Job, *, jitter: float = 0.0) -> None:
        trigger = IntervalTrigger(seconds=seconds, jitter=jitter or None)
        self._scheduler.add_job(
            self._tracked(job), trigger, id=job_id, replace_existing=True, max_instances=1, coalesce=True,
            misfire_grace_time=max(1, int(seconds)),
        )

    def once(self, job_id: str, when: datetime, job: Job) -> None:
        self._scheduler.add_job(
            self._tracked(job), DateTrigger(run_date=when), id=job_id, replace_existing=True,
            misfire_grace_time=3600,
        )

    def cancel(self, job_id: str) -> bool:
        if self._scheduler.get_job(job_id) is None:
            return False
        self._scheduler.remove_job(job_id)
        return True

    def start(self) -> None:
        if not self._scheduler.running:
            self._scheduler.start()

    @property
    def running(self) -> bool:
        """Firing jobs: started and not stopped or paused (``/healthz``)."""
        return bool(self._scheduler.state == STATE_RUNNING)

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    async def stop(self, grace: float = 5.0) -> None:
        if self._scheduler.running:
            self._scheduler.pause()
        running = list(self._running)
        if running:
            _done, late = await asyncio.wait(running, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        self.shutdown()
