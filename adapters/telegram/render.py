"""Neutral ``Reply`` → Telegram messages (HTML parse mode, inline keyboards, photos, documents).

Kept apart from the frontend so the limits that make Telegram reject a message (4,096 visible
characters per message, 1,024 per caption, balanced HTML of a few allowed tags) are handled by pure
functions that are easy to test. Every piece of user text goes through ``html.escape`` (via
``core.markup.to_html``), so a member named ``<b>`` can never break or inject markup.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from core.markup import to_html, to_plain
from core.replies import Reply

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
#: photos one sendMediaGroup carries
ALBUM_LIMIT = 10
#: beyond this many messages one reply is noise; the rest is trimmed with a note
MAX_PAGES = 5
TRIM_NOTE = "… (trimmed: too long for one Telegram reply)"
_URL_SCHEMES = {"http", "https", "tg"}

_TOKEN = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)[^>]*>|[^<]+|<")


@dataclass
class OutgoingMessage:
    """One Bot API call: ``sendPhoto`` with ``html`` as caption when ``photo`` is set, else ``sendMessage``."""

    html: str
    #: a URL Telegram fetches, or image bytes uploaded as ``filename``
    photo: str | bytes | None = None
    filename: str | None = None
    keyboard: InlineKeyboardMarkup | None = None
    #: show this link's preview above the text (the image, when it could not be a captioned photo)
    preview_url: str | None = None


def utf16_len(text: str) -> int:
    """Telegram counts message lengths in UTF-16 code units: an emoji costs two."""
    return len(text.encode("utf-16-le")) // 2


def html_to_text(markup: str) -> str:
    """What the user sees of an HTML message; also the plain-text fallback if Telegram rejects the HTML."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def visible_length(markup: str) -> int:
    return utf16_len(html_to_text(markup))


def safe_url(url: str | None) -> str | None:
    """Telegram rejects a message whose button or link has a malformed URL; drop those instead."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in _URL_SCHEMES or (parts.scheme.lower() != "tg" and not parts.netloc):
        return None
    return url.strip()


def _inline(text: str) -> str:
    """Escaped text without markup, for places already wrapped in a tag (titles, field names)."""
    return html.escape(to_plain(text), quote=False)


def _link(url: str, label: str) -> str:
    return f'<a href="{html.escape(url, quote=True)}">{label}</a>'


def render_html(reply: Reply, *, image_link: bool = False) -> str:
    """The reply as one HTML document: bold title (linked to ``url``), text, ``<b>name</b>: value``
    fields, then an italic footer. ``image_link`` adds a link to the image under the title."""
    sections: list[str] = []
    head: list[str] = []
    url = safe_url(reply.url)
    if reply.title:
        title = _inline(reply.title)
        head.append(f"<b>{_link(url, title) if url else title}</b>")
    image = safe_url(reply.image_url)
    if image_link and image:
        head.append("🖼 " + _link(image, "Image"))
    if reply.text:
        head.append(to_html(reply.text))
    if head:
        sections.append("\n".join(head))
    if reply.fields:
        lines = []
        for field in reply.fields:
            value = to_html(field.value)
            separator = ":\n" if "\n" in field.value else ": "
            lines.append(f"<b>{_inline(field.name)}</b>{separator}{value}")
        sections.append("\n".join(lines))
    if url and not reply.title:
        sections.append("🔗 " + _link(url, html.escape(url, quote=False)))
    if reply.footer:
        sections.append(f"<i>{_inline(reply.footer)}</i>")
    document = "\n\n".join(sections)
    if not html_to_text(document).strip():
        document = "✅"  # Telegram refuses an empty message (e.g. a reply that is only buttons)
    return document


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """URL buttons open links; action buttons carry the command line as ``callback_data`` (≤64 bytes,
    checked by ``core.replies.Button``). Two short buttons share a row."""
    buttons: list[InlineKeyboardButton] = []
    for button in reply.buttons:
        label = to_plain(button.label)[:64] or "•"
        if button.action is not None:
            buttons.append(InlineKeyboardButton(label, callback_data=button.action))
        elif (url := safe_url(button.url)) is not None:
            buttons.append(InlineKeyboardButton(label, url=url))
    if not buttons:
        return None
    rows: list[list[InlineKeyboardButton]] = []
    for item in buttons:
        last = rows[-1] if rows else None
        if last is not None and len(last) < 2 and len(last[0].text) <= 20 and len(item.text) <= 20:
            last.append(item)
        else:
            rows.append([item])
    return InlineKeyboardMarkup(rows)


@dataclass
class _Unit:
    kind: str  # "open" | "close" | "text" | "nl"
    raw: str = ""
    name: str = ""
    text: str = ""


def _units(markup: str) -> list[_Unit]:
    units: list[_Unit] = []
    for match in _TOKEN.finditer(markup):
        if match.group(2):
            kind = "close" if match.group(1) else "open"
            units.append(_Unit(kind, raw=match.group(0), name=match.group(2).lower()))
            continue
        text = html.unescape(match.group(0))
        for index, line in enumerate(text.split("\n")):
            if index:
                units.append(_Unit("nl", raw="\n"))
            if line:
                units.append(_Unit("text", text=line))
    return units


def _replay(stack: list[_Unit], units: list[_Unit]) -> list[_Unit]:
    stack = list(stack)
    for unit in units:
        if unit.kind == "open":
            stack.append(unit)
        elif unit.kind == "close" and stack and stack[-1].name == unit.name:
            stack.pop()
    return stack


def _emit(units: list[_Unit], stack: list[_Unit]) -> str:
    body = "".join(html.escape(u.text, quote=False) if u.kind == "text" else u.raw for u in units)
    closing = "".join(f"</{u.name}>" for u in reversed(_replay(stack, units)))
    return "".join(u.raw for u in stack) + body + closing


def _cut(text: str, room: int) -> tuple[str, str]:
    """The longest head of ``text`` within ``room`` UTF-16 units, preferring to end after a space."""
    size = 0
    end = 0
    for char in text:
        width = 2 if ord(char) > 0xFFFF else 1
        if size + width > room:
            break
        size += width
        end += 1
    if end < len(text):
        space = text.rfind(" ", 0, end)
        if space >= end * 0.7:
            end = space + 1
    return text[:end], text[end:]


def split_html(markup: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split HTML into pages of at most ``limit`` visible characters, at line breaks when possible.

    Each page is balanced on its own: tags open at a split are closed at the end of one page and
    reopened at the start of the next, so no page is rejected by Telegram's HTML parser.
    """
    units = _units(markup)
    pages: list[str] = []
    stack: list[_Unit] = []
    start = index = length = 0
    last_break: int | None = None
    while index < len(units):
        unit = units[index]
        width = utf16_len(unit.text) if unit.kind == "text" else 1 if unit.kind == "nl" else 0
        if length + width <= limit:
            if unit.kind == "nl":
                last_break = index
            length += width
            index += 1
            continue
        if unit.kind == "nl":
            end, resume = index, index + 1
        elif last_break is not None:
            end, resume = last_break, last_break + 1
        else:
            head, tail = _cut(unit.text, limit - length)
            if not head and length == 0:
                head, tail = unit.text[:1], unit.text[1:]
            if head:
                units[index : index + 1] = [_Unit("text", text=head), _Unit("text", text=tail)]
                end = resume = index + 1
            else:
                end = resume = index
        pages.append(_emit(units[start:end], stack))
        stack = _replay(stack, units[start:resume])
        start = index = resume
        length = 0
        last_break = None
    pages.append(_emit(units[start:], stack))
    return [page for page in pages if html_to_text(page).strip()]


def paginate(markup: str, *, limit: int = TEXT_LIMIT, max_pages: int = MAX_PAGES) -> list[str]:
    """Pages that each fit ``limit``; past ``max_pages`` the rest is dropped and the last page says so."""
    room = utf16_len(TRIM_NOTE) + 1
    pages = split_html(markup, limit)
    if len(pages) <= max_pages:
        return pages or ["✅"]
    pages = split_html(markup, limit - room)[:max_pages]
    pages[-1] += f"\n<i>{html.escape(TRIM_NOTE, quote=False)}</i>"
    return pages


def photo_albums(reply: Reply) -> list[list[tuple[str, bytes]]]:
    """The reply's photos (the chart first) as (filename, bytes), in albums of at most ten."""
    photos = [(photo.name, photo.data) for photo in reply.photos]
    return [photos[start : start + ALBUM_LIMIT] for start in range(0, len(photos), ALBUM_LIMIT)]


def document_caption(reply: Reply) -> str | None:
    """The HTML caption that carries the whole reply when its one upload is a single file and its
    text fits a caption (then one ``sendDocument`` says everything, buttons included); else None."""
    if len(reply.files) != 1 or reply.photos or safe_url(reply.image_url):
        return None
    caption = render_html(reply)
    return caption if visible_length(caption) <= CAPTION_LIMIT else None


def render(reply: Reply, *, max_pages: int = MAX_PAGES, photo: bool = True) -> list[OutgoingMessage]:
    """The messages that show ``reply``: a captioned photo when everything fits in a caption (and
    ``photo``), otherwise text pages with a linked, previewed image; an uploaded image too long to
    caption goes first under the title. Buttons go under the last one."""
    markup = keyboard(reply)
    if reply.image is not None and photo:
        caption = render_html(reply)
        if visible_length(caption) <= CAPTION_LIMIT:
            return [OutgoingMessage(caption, photo=reply.image, filename=reply.image_name, keyboard=markup)]
        head = render_html(Reply(title=reply.title or "Chart"))
        pages = [OutgoingMessage(page) for page in paginate(render_html(reply), max_pages=max_pages)]
        pages[-1].keyboard = markup
        return [OutgoingMessage(head, photo=reply.image, filename=reply.image_name), *pages]
    image = safe_url(reply.image_url)
    if image and photo:
        caption = render_html(reply)
        if visible_length(caption) <= CAPTION_LIMIT:
            return [OutgoingMessage(caption, photo=image, keyboard=markup)]
    messages = [OutgoingMessage(page) for page in paginate(render_html(reply, image_link=True), max_pages=max_pages)]
    if image:
        messages[0].preview_url = image
    messages[-1].keyboard = markup
    return messages
