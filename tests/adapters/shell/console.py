"""A shell frontend attached to a test engine, driven a line at a time through ``handle_line`` or
through its real read loop over a pipe, with everything it prints kept for assertions."""

from __future__ import annotations

import asyncio
import io
import os
import time
from typing import Any

from sqlalchemy import select

from adapters.shell.frontend import ShellFrontend
from bot.alerts.models import AlertNotice
from core.engine import Engine


class Console:
    """The shell as an operator sees it: ``await console.say(line)`` returns what the shell answers;
    ``printed`` is everything it wrote on its own (feed posts, DMs, prompts)."""

    def __init__(self, engine: Engine, *, stdin: Any = None) -> None:
        self.engine = engine
        self.out = io.StringIO()
        self.shell = ShellFrontend(engine, stdin=stdin or io.StringIO(), stdout=self.out)
        engine.attach(self.shell)

    async def say(self, line: str) -> str:
        return await self.shell.handle_line(line) or ""

    @property
    def printed(self) -> str:
        return self.out.getvalue()

    async def wait_for(self, text: str, timeout: float = 10.0) -> str:
        """Everything printed, once ``text`` is in it."""
        deadline = time.monotonic() + timeout
        while text not in self.printed:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never printed; got:\n{self.printed}")
            await asyncio.sleep(0.05)
        return self.printed


class Piped:
    """The write end of a pipe the shell's read loop reads from, as a terminal would feed it."""

    def __init__(self) -> None:
        read_fd, self._write_fd = os.pipe()
        self.reader = os.fdopen(read_fd, "r", encoding="utf-8")

    def type(self, line: str) -> None:
        os.write(self._write_fd, (line + "\n").encode())

    def close(self) -> None:
        os.close(self._write_fd)


async def notice_statuses(engine: Engine) -> list[str]:
    async with engine.db.read() as session:
        return list((await session.execute(select(AlertNotice.status).order_by(AlertNotice.id))).scalars())


def restock_event(event_id: str = "e1", sizes: tuple[str, ...] = ("10", "11")) -> dict[str, Any]:
    """A monitor's restock of a Jordan 4, as the monitors slice publishes it."""
    return {
        "event_id": event_id,
        "kind": "restock",
        "monitor_id": 1,
        "store": "kith.com",
        "product": {
            "id": 7,
            "title": "Air Jordan 4 Retro Bred",
            "handle": "aj4",
            "brand": "Jordan",
            "url": "https://kith.com/p/aj4",
            "image": None,
            "tags": [],
        },
        "sizes": list(sizes),
        "sizes_in_stock": list(sizes),
        "price": 210.0,
        "old_price": None,
        "currency": "USD",
        "cart_links": {},
        "occurred_at": "2026-11-21T10:00:00+00:00",
    }


async def publish_event(engine: Engine, payload: dict[str, Any]) -> None:
    await engine.bus.publish("monitor.event", payload)
    await engine.bus.drain()
