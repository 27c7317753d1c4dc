"""Turn a neutral ``Reply`` into what Discord accepts: content, one embed, and a view of buttons.

Discord rejects a whole message if any one limit is exceeded, and a rejected feed post or command reply
is lost. So every limit is applied here, before sending: long parts are trimmed with a visible
"… (trimmed)" note rather than failing.

Action buttons carry their command line in the ``custom_id`` (``snpd:<action>``) and are handled by a
``DynamicItem``: presses work on any message ever sent, across restarts, with no per-message state.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import discord

from core.markup import clip, render_spans, to_plain
from core.replies import Reply

CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELDS_LIMIT = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000
BUTTON_LABEL_LIMIT = 80
BUTTONS_LIMIT = 25  # 5 rows of 5
URL_LIMIT = 2048
#: files one message carries
FILES_LIMIT = 10
#: what one message's files may weigh together: Discord's smallest upload limit (10 MiB), less room
#: for the rest of the request
FILES_BYTES_LIMIT = 10 * 1024 * 1024 - 256 * 1024
#: the longest upload name kept (Discord shows it under the file)
_NAME_LIMIT = 64
TRIMMED = "… (trimmed)"
#: Discord refuses an empty field name or value; a zero-width space renders as blank.
BLANK = "\u200b"
#: characters kept free for the "N more fields (trimmed)" note
_NOTE_RESERVE = 48
ACTION_PREFIX = "snpd:"
ACTION_TEMPLATE = r"snpd:(?P<action>.+)"


class ActionHandler(Protocol):
    """What the client behind an interaction must offer for action buttons to work."""

    async def on_snpd_action(self, interaction: discord.Interaction[Any], action: str) -> None: ...


class ActionButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=ACTION_TEMPLATE):
    """A button whose press dispatches ``action`` as a command line typed by the presser."""

    def __init__(self, action: str, label: str = "…") -> None:
        super().__init__(
            discord.ui.Button(
                label=clip(label, BUTTON_LABEL_LIMIT) or BLANK,
                custom_id=ACTION_PREFIX + action,
                style=discord.ButtonStyle.secondary,
            )
        )
        self.action = action

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: Any,
        /,
    ) -> ActionButton:
        label = getattr(item, "label", None) or "…"
        return cls(match["action"], label)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        handler = interaction.client
        if hasattr(handler, "on_snpd_action"):
            await handler.on_snpd_action(interaction, self.action)


@dataclass
class Rendered:
    """Keyword arguments for ``send``/``send_message``/``edit``; ``None`` parts are left out."""

    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)
    view: discord.ui.View | None = None
    #: an uploaded image the embed shows as ``attachment://<filename>``
    files: list[discord.File] = field(default_factory=list)

    def kwargs(self, *, edit: bool = False) -> dict[str, Any]:
        """``edit`` for ``edit_original_response``, which takes uploads as ``attachments``."""
        result: dict[str, Any] = {"content": self.content, "embeds": self.embeds}
        if self.view is not None:
            result["view"] = self.view
        if self.files:
            result["attachments" if edit else "files"] = self.files
        return result


def to_discord(text: str) -> str:
    """Our markup as Discord markdown; everything else escaped, so text from members or stores can't
    become a masked link, a heading, a quote or a spoiler in a message the bot posts."""
    return render_spans(
        text,
        plain=discord.utils.escape_markdown,
        bold=lambda s: f"**{s}**",
        code=lambda s: f"`{s}`",
        stamp=discord_timestamp,
    )


def discord_timestamp(unix: int, styles: str) -> str:
    """``<t:UNIX:f>`` shows each viewer the moment in their own zone; a second style goes in brackets
    (``f`` then ``R``: "Friday 5 December 2026 15:00 (in 2 days)")."""
    return f"<t:{unix}:{styles[0]}>" + "".join(f" (<t:{unix}:{style}>)" for style in styles[1:])


def safe_url(url: str | None) -> str | None:
    """The URL if Discord will accept it. A scraped link like ``/products/x`` or ``javascript:`` would
    make Discord reject the whole message, so it is dropped instead (the text still carries the info)."""
    if not url or len(url) > URL_LIMIT:
        return None
    parsed = urlsplit(url.strip())
    return url.strip() if parsed.scheme in ("http", "https") and parsed.netloc else None


def _is_plain(reply: Reply) -> bool:
    """Text-only replies read better as a normal message than as an embed."""
    return (
        not (
            reply.title
            or reply.fields
            or reply.image_url
            or reply.image
            or reply.images
            or reply.url
            or reply.footer
            or reply.color is not None
        )
        and len(reply.text) <= CONTENT_LIMIT
    )


def uploaded_count(reply: Reply) -> int:
    """How many of ``reply.photos`` one message carries: at most ten, and only as many as fit
    together under Discord's upload limit (the rest are left out, and the footer says so). The reply's
    ``files`` always go, so photos get what room they leave."""
    slots = FILES_LIMIT - len(reply.files)
    total = sum(len(item.data) for item in reply.files)
    for index, photo in enumerate(reply.photos[: max(slots, 0)]):
        total += len(photo.data)
        if total > FILES_BYTES_LIMIT:
            return index
    return max(min(len(reply.photos), slots), 0)


def _upload_name(name: str) -> str:
    """Plain ASCII (Discord resolves ``attachment://`` only for those names), shortened without
    losing the extension Discord tells an image by."""
    clean = re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "image.png"
    stem, dot, extension = clean.rpartition(".")
    if len(clean) <= _NAME_LIMIT:
        return clean
    if dot and stem and len(extension) <= 5:
        return stem[: _NAME_LIMIT - len(extension) - 1] + "." + extension
    return clean[:_NAME_LIMIT]


def attachment_uploads(reply: Reply) -> list[tuple[str, bytes]]:
    """What one message uploads, as (filename, bytes): the photos it carries (the chart first, the
    embed showing the first), then the reply's files. Names are distinct, since the embed names one."""
    chosen = [(photo.name, photo.data) for photo in reply.photos[: uploaded_count(reply)]]
    chosen += [(item.name, item.data) for item in reply.files]
    uploads: list[tuple[str, bytes]] = []
    for index, (raw, data) in enumerate(chosen):
        name = _upload_name(raw)
        taken = {taken for taken, _ in uploads}
        uploads.append((_upload_name(f"{index + 1}_{name}") if name in taken else name, data))
    return uploads


def attachment_names(reply: Reply) -> list[str]:
    """The uploads' filenames, in order (``attachment_uploads``)."""
    return [name for name, _ in attachment_uploads(reply)]


def attachment_files(reply: Reply) -> list[discord.File]:
    """The reply's photos and files as discord.py uploads."""
    return [discord.File(io.BytesIO(data), filename=name) for name, data in attachment_uploads(reply)]


def _note_left_out(reply: Reply) -> Reply:
    """The reply with a footer note when some of its photos are too large to go with it."""
    left_out = len(reply.photos) - uploaded_count(reply)
    if left_out <= 0:
        return reply
    note = f"{left_out} more photo{'s' if left_out != 1 else ''} too large for one Discord message"
    return reply.model_copy(update={"footer": f"{reply.footer} · {note}" if reply.footer else note})


def build_embed(reply: Reply, *, attach: bool = True) -> discord.Embed:
    """One embed within every per-part limit and the 6,000 total; trimmed parts say so.

    The budget goes to the title, then the text, then fields in order, then the footer, keeping room
    for a "N more fields (trimmed)" note so a reader knows something was cut.
    """
    budget = EMBED_TOTAL_LIMIT
    title = clip(to_discord(reply.title), TITLE_LIMIT) if reply.title else None
    budget -= len(title or "")
    reserve = _NOTE_RESERVE if reply.fields else 0
    description = clip(to_discord(reply.text), min(DESCRIPTION_LIMIT, budget - reserve)) if reply.text else None
    budget -= len(description or "")
    embed = discord.Embed(title=title, description=description, url=safe_url(reply.url), color=reply.color)
    if attach and uploaded_count(reply):
        embed.set_image(url=f"attachment://{attachment_names(reply)[0]}")  # the others are attached below it
    elif safe_url(reply.image_url):
        embed.set_image(url=safe_url(reply.image_url))
    fields = reply.fields
    for index, item in enumerate(fields):
        name = clip(to_discord(item.name), FIELD_NAME_LIMIT) or BLANK
        value = clip(to_discord(item.value), FIELD_VALUE_LIMIT) or BLANK
        is_last = index == len(fields) - 1
        slots_left = FIELDS_LIMIT - len(embed.fields) - (0 if is_last else 1)
        if slots_left <= 0 or len(name) + len(value) > budget - (0 if is_last else reserve):
            left = len(fields) - index
            note = f"{left} more field{'s' if left != 1 else ''} (trimmed)"
            embed.add_field(name="…", value=note, inline=False)
            budget -= 1 + len(note)
            break
        embed.add_field(name=name, value=value, inline=item.inline)
        budget -= len(name) + len(value)
    if reply.footer and budget > len(TRIMMED):
        embed.set_footer(text=clip(to_plain(reply.footer), min(FOOTER_LIMIT, budget)))
    return embed


def build_view(reply: Reply) -> discord.ui.View | None:
    """Link buttons open their URL; action buttons run their command for whoever presses them."""
    if not reply.buttons:
        return None
    view = discord.ui.View(timeout=None)
    for button in reply.buttons[:BUTTONS_LIMIT]:
        if button.url is not None:
            url = safe_url(button.url)
            if url is not None:
                view.add_item(discord.ui.Button(label=clip(button.label, BUTTON_LABEL_LIMIT) or BLANK, url=url))
        elif button.action is not None:
            view.add_item(ActionButton(button.action, button.label))
    return view


def render(reply: Reply, *, mention: str | None = None, attach: bool = True) -> Rendered:
    """The message for ``reply``; ``mention`` (a role ping) goes first in the content, where it notifies.
    ``attach`` uploads ``reply.image``, ``reply.images`` (the embed showing the first) and ``reply.files``
    with the message (paths that send JSON only pass ``False``)."""
    if attach:
        reply = _note_left_out(reply)
    plain = _is_plain(reply)
    lead = mention or ""
    body = to_discord(reply.text) if plain else ""
    if lead and body:
        content = lead + "\n" + clip(body, CONTENT_LIMIT - len(lead) - 1)
    else:
        content = clip(lead or body, CONTENT_LIMIT)
    embeds = [] if plain else [build_embed(reply, attach=attach)]
    view = build_view(reply)
    files = attachment_files(reply) if attach else []
    if not content and not embeds and view is None:
        content = "Done."  # Discord refuses an empty message
    return Rendered(content=content or None, embeds=embeds, view=view, files=files)
