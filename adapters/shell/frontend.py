"""The local shell: a token-free frontend for trying SNPD and for demos.

It reads command lines from stdin, answers on stdout, and prints every feed post as it arrives.
``!N`` presses button N of the last reply.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
import threading
from typing import Any, TextIO

from core.engine import Engine
from core.feeds import FEED_TOPIC
from core.identity import Caller
from core.markup import to_plain
from core.replies import Reply
from core.targets import DiscordChannel, ShellConsole, TelegramChat

PROMPT = "snpd> "


def render_text(reply: Reply) -> str:
    lines: list[str] = []
    if reply.title:
        lines.append(f"== {to_plain(reply.title)} ==")
    if reply.text:
        lines.append(to_plain(reply.text))
    for field in reply.fields:
        value = to_plain(field.value).replace("\n", "\n    ")
        lines.append(f"  {to_plain(field.name)}: {value}")
    if reply.image_url:
        lines.append(f"  [image] {reply.image_url}")
    if reply.url:
        lines.append(f"  [link] {reply.url}")
    for number, button in enumerate(reply.buttons, start=1):
        where = button.url if button.url else f"type !{number}"
        lines.append(f"  [{number}] {button.label} → {where}")
    if reply.footer:
        lines.append(to_plain(reply.footer))
    return "\n".join(lines)


class ShellFrontend:
    name = "shell"

    def __init__(self, engine: Engine, *, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
        self._engine = engine
        self._stdin = stdin or sys.stdin
        self._stdout = stdout or sys.stdout
        self._last_buttons: list[str | None] = []
        self.caller = Caller(
            platform="shell",
            external_id="local",
            display_name=_user_name(),
            origin=ShellConsole().model_dump(),
        )
        engine.bus.subscribe(FEED_TOPIC, self._show_feed_item)

    async def start(self) -> None:
        config = self._engine.config
        self._write(
            f"{config.bot.name} shell, on {_describe_db(config.bot.resolved_database_url())}. "
            f"Type /help, or /quit to leave. Logs: {config.bot.data_dir / 'snpd.log'}"
        )

    async def stop(self) -> None:
        self._stdout.flush()

    async def post(self, target: DiscordChannel | TelegramChat | ShellConsole, item: Reply) -> None:
        self._write(render_text(item))

    async def send_direct(self, external_id: str, reply: Reply, *, idempotency_key: str | None = None) -> None:
        self._write("[DM] " + render_text(reply))

    async def _show_feed_item(self, _topic: str, payload: dict[str, Any]) -> None:
        item = Reply.model_validate(payload["item"])
        self._write(f"\n[feed:{payload['feed']}] " + render_text(item))

    async def handle_line(self, line: str) -> str | None:
        """Answer one line; ``None`` for blank input."""
        text = line.strip()
        if not text:
            return None
        if text.startswith("!") and text[1:].isdigit():
            index = int(text[1:]) - 1
            if not 0 <= index < len(self._last_buttons) or self._last_buttons[index] is None:
                return "No such button on the last reply."
            text = self._last_buttons[index] or ""
        reply = await self._engine.dispatch_line(self.caller, text if text.startswith("/") else "/" + text)
        self._last_buttons = [button.action for button in reply.buttons]
        return render_text(reply)

    async def repl(self) -> None:
        """Read lines until EOF or /quit. A daemon thread reads stdin so feed posts print meanwhile
        and a signal can end the shell without waiting for a keypress."""
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str] = asyncio.Queue()

        def read_forever() -> None:
            while True:
                line = self._stdin.readline()
                loop.call_soon_threadsafe(lines.put_nowait, line)
                if not line:
                    return

        threading.Thread(target=read_forever, name="shell-stdin", daemon=True).start()
        while True:
            self._stdout.write(PROMPT)
            self._stdout.flush()
            line = await lines.get()
            if not line or line.strip().lower() in {"/quit", "/exit", "quit", "exit"}:
                self._write("bye")
                return
            answer = await self.handle_line(line)
            if answer:
                self._write(answer)

    def _write(self, text: str) -> None:
        self._stdout.write(text + "\n")
        self._stdout.flush()


def _user_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "local"


def _describe_db(url: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite ({parsed.database})"
    return f"{parsed.get_backend_name()} ({parsed.host}/{parsed.database})"
