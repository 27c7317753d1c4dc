"""How help pages are laid out so they fit every platform in one message.

Discord caps an embed's description at 4,096 characters (6,000 for the whole embed), Telegram a
message at 4,096 and SMS is best at one or two segments. Help text is ours, not a member's, so it is
measured here in markup characters (never fewer than what a platform shows) and shortened by
dropping detail before anything is cut: a cut page says how much is missing and how to see it.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.commands import Command

#: room for a help page's text on Discord and Telegram, leaving space for its title and footer
TEXT_BUDGET = 3500
#: an SMS help page stays within two GSM-7 segments (306 characters) with its title and footer
SMS_BUDGET = 200


def names(commands: Sequence[Command]) -> str:
    """``/laces balance``, ``/laces tip`` …: every command by its full name."""
    return ", ".join(f"`/{c.name}`" for c in commands)


def roots(commands: Sequence[Command]) -> str:
    """The shorter form: one entry per top-level word, sub-commands folded into ``/laces …``."""
    seen: dict[str, bool] = {}
    for command in commands:
        head = command.path[0]
        seen[head] = seen.get(head, False) or len(command.path) > 1
    return ", ".join(f"`/{head} …`" if grouped else f"`/{head}`" for head, grouped in seen.items())


def command_line(command: Command) -> str:
    """One command on a topic page: its usage (name and parameters) and what it does."""
    return f"`{command.usage}` — {command.description}"


def short_line(command: Command) -> str:
    return f"`/{command.name}` — {command.description}"


def fit(lines: Sequence[str], budget: int, more: str) -> list[str]:
    """The leading ``lines`` that fit ``budget`` characters joined by newlines; when some are left
    out, a last line says how many (``more`` is formatted with ``{count}``)."""
    total = sum(len(line) + 1 for line in lines)
    if total <= budget:
        return list(lines)
    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        note = more.format(count=len(lines) - index)
        if used + len(line) + 1 + len(note) + 1 > budget:
            return [*kept, note]
        kept.append(line)
        used += len(line) + 1
    return kept


def first_fitting(versions: Sequence[Sequence[str]], budget: int) -> list[str] | None:
    """The most detailed version whose lines fit ``budget`` whole, or None."""
    for lines in versions:
        if sum(len(line) + 1 for line in lines) <= budget:
            return list(lines)
    return None
