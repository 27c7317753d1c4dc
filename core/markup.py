"""Replies use a tiny, portable markup: ``**bold**`` and ```code```, with ``\\*``, ``\\``` and ``\\\\``
for literal characters. Text a member wrote goes through ``escape`` before it is put into a reply,
so it can never open or close our markup. Every renderer works from the same parse (``spans``):
Telegram gets correctly nested HTML, Discord gets its markdown with everything else escaped (no
masked links, headings or spoilers from a member's text), SMS and the shell get plain text.

A moment in time is a ``timestamp`` span (``<t:UNIX:STYLES|fallback>``): Discord shows it in each
viewer's own time zone (``<t:UNIX:f>``, and ``<t:UNIX:R>`` for "in 2 hours"); every other platform
shows the fallback text, which the handler formats in the member's zone. ``escape`` makes a member's
``<`` literal, so only the bot can write one.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

_SPECIAL = "*`\\<"
#: Discord's timestamp styles we use: ``f`` (date and time), ``R`` (relative), ``D`` (date), ``t`` (time)
_STYLES = "fFdDtTR"
_STAMP = re.compile(r"<t:(-?\d{1,12}):([" + _STYLES + r"]{1,3})\|([^>\n]*)>")


class Span(NamedTuple):
    text: str
    bold: bool = False
    code: bool = False
    #: a moment (unix seconds, Discord styles); ``text`` is then its fallback
    stamp: tuple[int, str] | None = None


def timestamp(moment: datetime, fallback: str, *, relative: bool = False) -> str:
    """A moment every viewer sees in their own zone where the platform can (Discord), else
    ``fallback`` (already formatted in the member's zone). ``relative`` adds "in 2 hours"."""
    if moment.tzinfo is None:
        raise ValueError("timestamp needs an aware datetime")
    text = escape(fallback).replace(">", "›").replace("|", "¦").replace("\n", " ")
    return f"<t:{int(moment.timestamp())}:{'fR' if relative else 'f'}|{text}>"


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
        elif char == "<" and (stamp := _STAMP.match(text, i)) is not None:
            flush()
            result.append(Span(_unescape(stamp.group(3)), bold, False, (int(stamp.group(1)), stamp.group(2))))
            i = stamp.end()
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


def _unescape(text: str) -> str:
    return re.sub(r"\\([*`\\<])", r"\1", text)


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
        mergeable = not span.code and span.stamp is None and merged and merged[-1].stamp is None
        if mergeable and merged[-1].bold == span.bold and merged[-1].code == span.code:
            merged[-1] = Span(merged[-1].text + span.text, span.bold, span.code)
        else:
            merged.append(span)
    return merged


def render_spans(
    text: str,
    *,
    plain: Callable[[str], str],
    bold: Callable[[str], str],
    code: Callable[[str], str],
    stamp: Callable[[int, str], str] | None = None,
) -> str:
    """Rebuild ``text`` for one platform: runs of bold become one ``bold(...)`` wrapping their pieces,
    so tags always nest properly. ``stamp(unix, styles)`` renders a timestamp span where the platform
    has its own (Discord); without it the fallback text is shown as plain text."""
    out: list[str] = []
    run: list[str] = []
    for span in spans(text):
        if span.stamp is not None and stamp is not None:
            piece = stamp(*span.stamp)
        else:
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
