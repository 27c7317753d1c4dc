"""Guided commands in the shell: ``/alerts add`` with no options asks one question per line.

The command's ``Guide`` declaration (the same one behind Discord's modal and Telegram's
conversation) names the questions; each is asked with its parameter's description, and each answer
is checked with the parameter's own converter as it is typed, so a bad one is asked again with the
field-named message the command would give. A summary ends it, and ``save`` runs the command through
the engine like any typed line; a refusal naming one field asks that field again. ``/cancel`` stops.

The shell is one local console with one operator, so where the conversation stands is kept here in
memory (Telegram keeps it in the database because several processes may answer one chat).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.commands import Command, Param
from core.engine import Engine
from core.errors import BadArgument, UserError
from core.identity import Caller
from core.replies import Reply, ReplyField

CANCEL = "/cancel"
#: an empty line (or ``-``) skips an optional question
_SKIP = {"", "-"}
_SAVE = {"save", "yes", "y"}
_DISCARD = {"cancel", "no", "n", CANCEL}
#: ``BadArgument`` messages start with the parameter's name in backticks
_FIELD = re.compile(r"^`([a-z0-9_]+)`:")


def label_of(param: Param) -> str:
    return param.name.replace("_", " ").capitalize()


@dataclass
class _Open:
    command: Command
    step: int = 0
    answers: dict[str, str] = field(default_factory=dict)
    #: re-asking one field the command refused: the next answer goes back to the summary
    fixing: bool = False

    @property
    def title(self) -> str:
        return self.command.guide.title if self.command.guide else self.command.name

    @property
    def done(self) -> bool:
        return self.step >= len(self.command.guided)


class ShellGuide:
    """One guided command at a time for the shell's operator (or whoever ``/as`` made them)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._open: _Open | None = None

    @property
    def active(self) -> bool:
        return self._open is not None

    @property
    def asking(self) -> str:
        """What the next line answers, for the prompt: ``keywords`` or ``save or cancel``."""
        if self._open is None:
            return ""
        if self._open.done:
            return "save or cancel"
        return self._open.command.guided[self._open.step].name

    def wants(self, caller: Caller, line: str) -> Command | None:
        """The command if ``line`` is a guided command with no options that ``caller`` may run."""
        try:
            command, words, named = self._engine.registry.parse(line)
        except UserError:
            return None
        if command.guide is None or words or named or "shell" not in command.frontends:
            return None
        if command.permission > self._engine.identity.role_for(caller):
            return None  # the engine refuses it with its usual message
        return command

    def start(self, command: Command) -> Reply:
        self._open = _Open(command)
        return self._question(self._open)

    def cancel(self) -> Reply:
        self._open = None
        return Reply(text="Cancelled. Nothing was saved.")

    async def answer(self, caller: Caller, line: str) -> Reply:
        """Take one line as the answer to the open question (or to the summary)."""
        current = self._open
        if current is None:
            return Reply(text="Nothing is being asked.")
        text = line.strip()
        if text.lower() == CANCEL:
            return self.cancel()
        if current.done:
            if text.lower() in _SAVE:
                return await self._save(caller, current)
            if text.lower() in _DISCARD:
                return self.cancel()
            return self._summary(current, hint="Type save, or cancel.")
        param = current.command.guided[current.step]
        if text in _SKIP:
            if param.required:
                return self._question(current, problem=f"`{param.name}`: an answer is needed")
            current.answers.pop(param.name, None)
        else:
            try:
                converted = param.convert(text)
            except BadArgument as exc:
                return self._question(current, problem=str(exc))
            current.answers[param.name] = str(converted) if param.choices else text
        current.step = len(current.command.guided) if current.fixing else current.step + 1
        current.fixing = False
        return self._summary(current) if current.done else self._question(current)

    async def _save(self, caller: Caller, current: _Open) -> Reply:
        self._open = None
        reply = await self._engine.dispatch(caller, current.command.name, dict(current.answers))
        if reply != Reply.error(reply.text):
            return reply
        found = _FIELD.match(reply.text)
        steps = [param.name for param in current.command.guided]
        if found is None or found.group(1) not in steps:
            return reply
        current.step, current.fixing = steps.index(found.group(1)), True
        current.answers.pop(found.group(1), None)
        self._open = current
        return self._question(current, problem=reply.text)

    @staticmethod
    def _question(current: _Open, *, problem: str | None = None) -> Reply:
        params = current.command.guided
        param = params[current.step]
        lines = [f"⚠️ {problem}"] if problem else []
        lines.append(f"{label_of(param)}: {param.description}")
        if param.choices:
            lines.append(f"One of: {', '.join(param.choices)}.")
        lines.append("Type your answer" + (", or an empty line to skip." if not param.required else "."))
        return Reply(
            title=f"{current.title} · {current.step + 1}/{len(params)}",
            text="\n".join(lines),
            footer="/cancel stops at any time; nothing is saved until you type save.",
        )

    @staticmethod
    def _summary(current: _Open, *, hint: str | None = None) -> Reply:
        guided = current.command.guided
        answered = [p for p in guided if p.name in current.answers]
        skipped = [label_of(p) for p in guided if p.name not in current.answers]
        lines = [hint] if hint else []
        lines.append("Check your answers." if answered else "You skipped every question.")
        if skipped:
            lines.append("Skipped: " + ", ".join(skipped) + ".")
        return Reply(
            title=f"{current.title}: check and save",
            text="\n".join(lines),
            fields=[ReplyField(name=label_of(p), value=current.answers[p.name], inline=False) for p in answered],
            footer="Type save to save it, or cancel.",
        )
