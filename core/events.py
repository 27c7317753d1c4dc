"""The event bus interface and its in-process implementation.

Payloads are plain JSON-able dicts and are round-tripped through orjson on publish, so code written
against the in-process bus behaves the same on a multi-process bus (Redis Streams) later: nobody can
smuggle a live object through an event.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson
import structlog

log = structlog.get_logger(__name__)

EventHandler = Callable[[str, dict[str, Any]], Awaitable[None]]


class EventBus(Protocol):
    async def publish(self, topic: str, payload: dict[str, Any]) -> None: ...

    def subscribe(self, topic: str, handler: EventHandler) -> None: ...

    async def drain(self) -> None:
        """Wait until every event published so far has been handled (tests, clean shutdown)."""
        ...


class InProcessEventBus:
    """Delivers each event to every subscriber of its topic (and of ``*``) in its own task.

    A failing handler is logged and never stops the others or the publisher.
    """

    def __init__(self) -> None:
        self._handlers: dict[str, list[EventHandler]] = defaultdict(list)
        self._pending: set[asyncio.Task[None]] = set()

    def subscribe(self, topic: str, handler: EventHandler) -> None:
        self._handlers[topic].append(handler)

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        frozen = orjson.loads(orjson.dumps(payload))
        for handler in [*self._handlers.get(topic, ()), *self._handlers.get("*", ())]:
            task = asyncio.create_task(self._deliver(handler, topic, frozen))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _deliver(self, handler: EventHandler, topic: str, payload: dict[str, Any]) -> None:
        try:
            await handler(topic, dict(payload))
        except Exception:
            log.exception("event.handler_failed", topic=topic, handler=getattr(handler, "__qualname__", "?"))

    async def drain(self) -> None:
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
