"""The local shell: the operator's console, a token-free frontend for trying SNPD and for demos.

It reads command lines from stdin, answers on stdout, and prints every feed post as it arrives, with
the prompt back under it. Its own caller is an admin (the operator); ``/as @sam`` acts as a demo
member instead (``adapters.shell.acting``). The shell is also a DM channel for the members who use
it: their alerts print as ``[DM]`` while it runs. A guided command sent bare (``/alerts add``) asks
one question per line (``adapters.shell.guide``). ``!N`` presses button N of the last reply. Files go
with a command as local paths after ``--attach`` (``adapters.shell.files``); photos in a reply show as
"N photos".
"""

from __future__ import annotations

import asyncio
import getpass
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from adapters.shell.acting import OPERATOR_ID, act_as, guest_name
from adapters.shell.files import split_attachments
from adapters.shell.guide import CANCEL, ShellGuide
from core.attachments import carrying
from core.engine import Engine
from core.errors import UserError
from core.feeds import FEED_TOPIC
from core.identity import SHELL_GUEST_PREFIX, Caller
from core.markup import to_plain
from core.replies import Reply
from core.targets import DiscordChannel, ShellConsole, TelegramChat

PROMPT = "snpd> "
#: on a terminal, return to the start of the prompt's line and clear it before printing over it
_CLEAR_LINE = "\r\x1b[K"


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
    if reply.images:
        count = len(reply.images)
        lines.append(f"  [{count} photo{'s' if count != 1 else ''}] " + ", ".join(i.name for i in reply.images))
    lines.extend(f"  [file] {to_plain(item.describe())}" for item in reply.files)  # shown, never written
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

    def __init__(
        self,
        engine: Engine,
        *,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        log_file: Path | None = None,
    ) -> None:
        self._engine = engine
        self._stdin = stdin or sys.stdin
        self._stdout = stdout or sys.stdout
        self._log_file = log_file
        self._last_buttons: list[str | None] = []
        self._guide = ShellGuide(engine)
        #: the read loop is waiting at the prompt: whatever prints meanwhile puts the prompt back
        self._at_prompt = False
        self.operator = Caller(
            platform="shell",
            external_id=OPERATOR_ID,
            display_name=_user_name(),
            origin=ShellConsole().model_dump(),
        )
        #: who the next line speaks as: the operator, or a demo member after ``/as``
        self.caller = self.operator
        engine.bus.subscribe(FEED_TOPIC, self._show_feed_item)

    @property
    def prompt(self) -> str:
        if self._guide.active:
            return f"  {self._guide.asking}> "
        name = guest_name(self.caller)
        return PROMPT if name is None else f"snpd (as @{name})> "

    async def start(self) -> None:
        config = self._engine.config
        logs = f" Logs: {self._log_file}" if self._log_file is not None else ""
        self._write(
            f"{config.bot.name} shell, your operator's console (you are an admin here), on "
            f"{_describe_db(config.bot.resolved_database_url())}. Type /help, /as @NAME to act as a "
            f"member, or /quit to leave.{logs}"
        )

    async def stop(self) -> None:
        self._stdout.flush()

    async def post(self, target: DiscordChannel | TelegramChat | ShellConsole, item: Reply) -> None:
        self._announce(render_text(item))

    async def send_direct(self, external_id: str, reply: Reply, *, idempotency_key: str | None = None) -> None:
        """A DM to someone at this console: the operator, or a demo member ``/as`` made."""
        to = external_id.removeprefix(SHELL_GUEST_PREFIX)
        label = "[DM]" if external_id == OPERATOR_ID else f"[DM to @{to}]"
        self._announce(f"{label} " + render_text(reply))

    async def _show_feed_item(self, _topic: str, payload: dict[str, Any]) -> None:
        item = Reply.model_validate(payload["item"])
        self._announce(f"[feed:{payload['feed']}] " + render_text(item))

    async def handle_line(self, line: str) -> str | None:
        """Answer one line; ``None`` for blank input."""
        text = line.strip()
        if self._guide.active:
            return render_text(await self._guide.answer(self.caller, text))
        if not text:
            return None
        if text.startswith("!") and text[1:].isdigit():
            index = int(text[1:]) - 1
            if not 0 <= index < len(self._last_buttons) or self._last_buttons[index] is None:
                return "No such button on the last reply."
            text = self._last_buttons[index] or ""
        text = text if text.startswith("/") else "/" + text
        word, _, rest = text.partition(" ")
        if word.lower() == "/as":
            switch = await act_as(self._engine, self.operator, self.caller, rest)
            self.caller = switch.caller
            return switch.message
        if word.lower() == CANCEL:
            return "Nothing to cancel."
        try:
            text, files = split_attachments(text)
        except UserError as exc:
            return render_text(Reply.error(str(exc)))
        guided = self._guide.wants(self.caller, text) if not files else None
        if guided is not None:
            return render_text(self._guide.start(guided))
        with carrying(files):
            reply = await self._engine.dispatch_line(self.caller, text)
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
            self._stdout.write(self.prompt)
            self._stdout.flush()
            self._at_prompt = True
            line = await lines.get()
            self._at_prompt = False
            if not line or line.strip().lower() in {"/quit", "/exit", "quit", "exit"}:
                self._write("bye")
                return
            answer = await self.handle_line(line)
            if answer:
                self._write(answer)

    def _announce(self, text: str) -> None:
        """Print something that arrived on its own (a feed post, a DM) above a fresh prompt."""
        if not self._at_prompt:
            self._write(text)
            return
        self._stdout.write((_CLEAR_LINE if _is_terminal(self._stdout) else "\n") + text + "\n" + self.prompt)
        self._stdout.flush()

    def _write(self, text: str) -> None:
        self._stdout.write(text + "\n")
        self._stdout.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


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
