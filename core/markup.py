"""Replies use a tiny, portable markup: ``**bold**`` and ```code```. Discord shows it as is;
these helpers convert it for Telegram HTML and strip it for SMS and plain text."""

from __future__ import annotations

import html
import re

_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_CODE = re.compile(r"`([^`\n]+)`")


def to_plain(text: str) -> str:
    return _CODE.sub(r"\1", _BOLD.sub(r"\1", text))


def to_html(text: str) -> str:
    """Escape everything, then turn the markup into ``<b>``/``<code>``; user text can't inject tags."""
    escaped = html.escape(text, quote=False)
    escaped = _BOLD.sub(r"<b>\1</b>", escaped)
    return _CODE.sub(r"<code>\1</code>", escaped)


def clip(text: str, limit: int, note: str = "… (trimmed)") -> str:
    """Cut ``text`` to at most ``limit`` characters, saying so, never mid-way past the limit."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(note))].rstrip() + note


def paginate(text: str, limit: int) -> list[str]:
    """Split on line breaks into chunks of at most ``limit`` characters (hard-cutting very long lines)."""
    pages: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                pages.append(current)
                current = ""
            pages.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            pages.append(current)
            current = line
        else:
            current = candidate
    if current or not pages:
        pages.append(current)
    return pages
