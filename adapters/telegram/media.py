"""Photos and files members send on Telegram, as neutral ``Attachment`` objects, and albums gathered.

Telegram delivers an album as one update per photo, sharing a ``media_group_id``, with the caption
(our command line) on the first. There is no "album complete" signal, so ``Albums`` gathers the parts
of each album until none has arrived for ``wait`` seconds and then hands them over together, in
message order. Bytes are fetched only when a command reads them: ``getFile``, then the download,
through python-telegram-bot's own ``File.download_as_bytearray``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog
from telegram import Message
from telegram.error import BadRequest, TelegramError

from core.attachments import MAX_ATTACHMENTS, Attachment, AttachmentTooLarge
from core.errors import BadArgument

log = structlog.get_logger(__name__)

#: the Bot API's getFile serves files up to this size
TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024

RunAlbum = Callable[[list[Message]], Awaitable[None]]


def media_request_id(first: Message) -> str:
    """The platform's own id for photos sent together: an album's ``media_group_id`` (the same on a
    redelivery of the whole album or of only its last parts, which a restart between two polls can
    cause), or the chat and message id of a lone photo."""
    if first.media_group_id is not None:
        return f"album:{first.chat.id}:{first.media_group_id}"
    return f"media:{first.chat.id}:{first.message_id}"


def attachments_of(message: Message) -> list[Attachment]:
    """The file a message carries: a photo (its largest size) or a document; none for anything else."""
    if message.photo:
        largest = message.photo[-1]  # Telegram lists the sizes smallest first
        name = f"photo_{message.message_id}.jpg"
        return [_attachment(message, largest.file_id, name, "image/jpeg", largest.file_size)]
    document = message.document
    if document is not None:
        name = document.file_name or f"file_{message.message_id}"
        return [_attachment(message, document.file_id, name, document.mime_type, document.file_size)]
    return []


def _attachment(message: Message, file_id: str, name: str, content_type: str | None, size: int | None) -> Attachment:
    """Telegram reports each file's size itself, so an oversized one is refused before ``getFile``."""

    async def fetch(limit: int) -> bytes:
        try:
            described = await message.get_bot().get_file(file_id)
            if described.file_size is not None and described.file_size > limit:
                raise AttachmentTooLarge(name, limit)
            return bytes(await described.download_as_bytearray())
        except BadRequest as exc:
            if "too big" in exc.message.lower():
                raise AttachmentTooLarge(name, min(limit, TELEGRAM_DOWNLOAD_LIMIT)) from None
            raise _unreadable(name, exc) from None
        except TelegramError as exc:
            raise _unreadable(name, exc) from None

    return Attachment(name, fetch, content_type=content_type, size=size)


def _unreadable(name: str, exc: Exception) -> BadArgument:
    log.warning("telegram.attachment_unreadable", filename=name, error=repr(exc))
    return BadArgument(name, "could not be downloaded from Telegram; send it again")


@dataclass
class _Gathering:
    parts: list[Message] = field(default_factory=list)
    timer: asyncio.Task[None] | None = None


class Albums:
    """Gathers album parts per chat and ``media_group_id``; ``run`` gets each album once, complete."""

    def __init__(self, run: RunAlbum, *, wait: float) -> None:
        self._run = run
        self.wait = wait
        self._gathering: dict[tuple[int, str], _Gathering] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def add(self, message: Message) -> None:
        """One part arrived: (re)start the album's quiet timer."""
        key = (message.chat.id, str(message.media_group_id))
        gathering = self._gathering.setdefault(key, _Gathering())
        if len(gathering.parts) < MAX_ATTACHMENTS:
            gathering.parts.append(message)
        if gathering.timer is not None:
            gathering.timer.cancel()  # still asleep: once it wakes it leaves the dict before awaiting
        gathering.timer = asyncio.create_task(self._after_quiet(key, gathering), name="telegram-album")
        self._tasks.add(gathering.timer)
        gathering.timer.add_done_callback(self._tasks.discard)

    async def _after_quiet(self, key: tuple[int, str], gathering: _Gathering) -> None:
        await asyncio.sleep(self.wait)
        if self._gathering.get(key) is gathering:
            del self._gathering[key]  # a part arriving from now on starts a new album
        try:
            await self._run(sorted(gathering.parts, key=lambda part: part.message_id))
        except Exception:
            log.exception("telegram.album_failed", chat=key[0], media_group=key[1])

    @property
    def waiting(self) -> int:
        """Albums still gathering parts."""
        return len(self._gathering)

    async def close(self) -> None:
        """Drop albums still gathering and stop those running (shutting down)."""
        self._gathering.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
