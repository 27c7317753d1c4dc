"""The command registry: every declared command, lookup by name, and text parsing for chat frontends."""

from __future__ import annotations

import re
from collections.abc import Iterable

from rapidfuzz import process

from core.commands import FRONTENDS, Command, Permission
from core.errors import BadArgument, UnknownCommand, UserError


class CommandRegistry:
    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}

    def add(self, *commands: Command) -> None:
        for command in commands:
            if command.name in self._commands:
                raise ValueError(f"/{command.name} is declared twice")
            if any(other.startswith(command.name + " ") for other in self._commands) or any(
                command.name.startswith(other + " ") for other in self._commands
            ):
                raise ValueError(f"/{command.name} clashes with a command group of the same name")
            self._commands[command.name] = command

    def get(self, name: str) -> Command:
        key = " ".join(name.lower().lstrip("/").split())
        try:
            return self._commands[key]
        except KeyError:
            raise UnknownCommand(key, self.suggest(key)) from None

    def suggest(self, name: str) -> str | None:
        match = process.extractOne(name, list(self._commands), score_cutoff=70)
        return match[0] if match else None

    def all(self, *, frontend: str | None = None, role: Permission | None = None) -> list[Command]:
        found: Iterable[Command] = self._commands.values()
        if frontend is not None:
            found = (c for c in found if frontend in c.frontends)
        if role is not None:
            found = (c for c in found if c.permission <= role)
        return sorted(found, key=lambda c: c.name)

    def by_sms_keyword(self, keyword: str) -> Command | None:
        for command in self._commands.values():
            if command.sms_keyword and command.sms_keyword.upper() == keyword.upper():
                return command
        return None

    def parse(self, line: str) -> tuple[Command, list[str], dict[str, str]]:
        """Split ``/feed bind restocks role:@Drops`` into the command, positional words and named values.

        ``name:value`` or ``name=value`` tokens whose name is a parameter are taken as named values;
        everything else is positional. Quotes group words: ``/report restock "Kith NYC" "Jordan 4"``.
        """
        tokens = split_words(line)
        if not tokens:
            raise UnknownCommand("", None)
        tokens[0] = tokens[0].lstrip("/").split("@", 1)[0]
        lowered = [token.lower() for token in tokens]
        for size in (3, 2, 1):
            name = " ".join(lowered[:size])
            if len(tokens) >= size and name in self._commands:
                command = self._commands[name]
                return command, *self._split_named(command, tokens[size:])
        is_group = any(other.startswith(lowered[0] + " ") for other in self._commands)
        if is_group and len(lowered) == 1:
            subs = sorted(n.split(" ", 1)[1] for n in self._commands if n.startswith(lowered[0] + " "))
            raise UserError(f"`/{lowered[0]}` needs one of: {', '.join(subs)}.")
        attempted = " ".join(lowered[:2]) if is_group else lowered[0]
        raise UnknownCommand(attempted, self.suggest(attempted))

    @staticmethod
    def _split_named(command: Command, tokens: list[str]) -> tuple[list[str], dict[str, str]]:
        """``name:value`` for a declared parameter is a named value; ``name:`` with nothing after it is
        an error, not a word; an option-looking ``bogus:1`` is refused with the real option names.
        Anything else (a time like 22:00, a URL, a ``discord:123`` target, a word ending in a colon) is
        a positional word."""
        names = {param.name for param in command.params}
        positional: list[str] = []
        named: dict[str, str] = {}
        for token in tokens:
            match = None if isinstance(token, Quoted) else _OPTION.match(token)
            if match is None:
                positional.append(token)
                continue
            key, value = match.group(1).lower(), match.group(2)
            if key in names:
                if not value:
                    raise BadArgument(key, "empty value")
                named[key] = value
            elif value and key not in FRONTENDS and not value.startswith("//") and names:
                shown = ", ".join(sorted(names))
                raise UserError(f"Unknown option `{key[:30]}` for /{command.name} (options: {shown}).")
            else:
                positional.append(token)
        return positional, named


#: ``name:value`` or ``name=value``, the name a plain identifier (so 22:00 and https://… are words)
_OPTION = re.compile(r"^([A-Za-z_]{2,32})[:=](.*)$", re.S)
_QUOTES = "\"'"


class Quoted(str):
    """A word the member put in quotes from its first character: always text, never ``name:value``."""

    __slots__ = ()


def split_words(line: str) -> list[str]:
    """Split a typed command into words. Double or single quotes that open a word (or a value after
    ``name:``) group words until the matching quote; an apostrophe inside a word (it's, Nike's) is
    just a letter. An unclosed double quote is an error: the member meant to group something."""
    words: list[str] = []
    text = line.strip()
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        word: list[str] = []
        quoted = False
        starts_quoted = text[i] in _QUOTES
        while i < n and not text[i].isspace():
            char = text[i]
            opens = char in _QUOTES and (not word or "".join(word).endswith((":", "=")))
            if opens:
                close = text.find(char, i + 1)
                if close == -1:
                    if char == '"':
                        raise BadArgument("input", "unbalanced quotes")
                    word.append(char)  # a lone leading apostrophe: 'sup
                    i += 1
                    continue
                word.append(text[i + 1 : close])
                quoted = True
                i = close + 1
                continue
            word.append(char)
            i += 1
        if word or quoted:
            joined = "".join(word)
            words.append(Quoted(joined) if starts_quoted and quoted else joined)
    return words
