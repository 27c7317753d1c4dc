"""Replies use a tiny, portable markup: ``**bold**`` and ```code```, with ``\\*``, ``\\``` and ``\\\\``
for literal characters. Text a member wrote goes through ``escape`` before it is put into a reply,
so it can never open or close our markup. Every renderer works from the same parse (``spans``):
Telegram gets correctly nested HTML, Discord gets its markdown with everything else escaped (no
masked links, headings or spoilers from a member's text), SMS and the shell get plain text.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import NamedTuple

_SPECIAL = "*`\\"


class Span(NamedTuple):
    text: str
    bold: bool = False
    code: bool = False


def escape(text: str) -> str:
    """A member's text, made literal inside our markup (their ``**`` or backticks stay characters)."""
    return "".join("\\" + char if char in _SPECIAL else char for char in text)


def spans(text: str) -> list[Span]:
    """Parse the markup. An unclosed ``**`` or backtick is literal, so a stray one never swallows the
    rest of the reply; code is not parsed inside, and code may sit inside bold."""
    result: list[Span] = []
    bold = False
    buffer: list[str] = []
    i, n = 0, len(text)

    def flush(code: bool = False) -> None:
        if buffer:
            result.append(Span("".join(buffer), bold, code))
            buffer.clear()

    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n and text[i + 1] in _SPECIAL:
            buffer.append(text[i + 1])
            i += 2
        elif char == "`":
            close = text.find("`", i + 1)
            if close == -1 or "\n" in text[i + 1 : close] or close == i + 1:
                buffer.append(char)
                i += 1
                continue
            flush()
            buffer.append(text[i + 1 : close])
            flush(code=True)
            i = close + 1
        elif text.startswith("**", i) and (bold or _closes_bold(text, i + 2)):
            flush()
            bold = not bold
            i += 2
        else:
            buffer.append(char)
            i += 1
    flush()
    return _merge(result)


def _closes_bold(text: str, start: int) -> bool:
    """Whether a ``**`` opened at ``start`` is closed later (outside code and escapes)."""
    i, n = start, len(text)
    while i < n:
        if text[i] == "\\":
            i += 2
        elif text[i] == "`":
            close = text.find("`", i + 1)
            i = n if close == -1 else close + 1
        elif text.startswith("**", i):
            return i > start
        else:
            i += 1
    return False


def _merge(found: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for span in found:
        if merged and merged[-1].bold == span.bold and merged[-1].code == span.code and not span.code:
            merged[-1] = Span(merged[-1].text + span.text, span.bold, span.code)
        else:
            merged.append(span)
    return merged


def render_spans(
    text: str, *, plain: Callable[[str], str], bold: Callable[[str], str], code: Callable[[str], str]
) -> str:
    """Rebuild ``text`` for one platform: runs of bold become one ``bold(...)`` wrapping their pieces,
    so tags always nest properly."""
    out: list[str] = []
    run: list[str] = []
    for span in spans(text):
        piece = code(span.text) if span.code else plain(span.text)
        if span.bold:
            run.append(piece)
            continue
        if run:
            out.append(bold("".join(run)))
            run = []
        out.append(piece)
    if run:
        out.append(bold("".join(run)))
    return "".join(out)


def to_plain(text: str) -> str:
    return "".join(span.text for span in spans(text))


def to_html(text: str) -> str:
    """Telegram HTML: every character escaped, our markup as properly nested ``<b>``/``<code>``."""
    return render_spans(
        text,
        plain=lambda s: html.escape(s, quote=False),
        bold=lambda s: f"<b>{s}</b>",
        code=lambda s: f"<code>{html.escape(s, quote=False)}</code>",
    )


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
