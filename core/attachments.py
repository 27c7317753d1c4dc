"""Files a member sends with a command (photos for a legit check, a trade or a sighting), platform-neutral.

How a slice uses them:

* Declare the parameter: ``Param("photos", "Photos of the pair", type=ParamType.ATTACHMENTS, max_files=4)``
  (at most one per command; ``required=False`` when photos are optional). The handler then receives
  ``photos: list[Attachment]`` (empty when optional and none came); ``ctx.attachments`` holds the same
  list for code that has no parameter at hand.
* Never trust ``filename``, ``content_type`` or ``size``: they are the sender's claims. Read the bytes
  with ``await attachment.read(max_bytes)``, which refuses an oversized file before reading all of it,
  and hand photos to ``core.photos.PhotoStore.store_all`` (it sniffs, checks, strips metadata and
  stores). Key what the command records on ``ctx.request_id`` as usual: a Telegram album is one
  request however many updates carried it.
* Members send them as: Discord attachment options (``photo1`` … ``photoN`` for a parameter called
  ``photos``), a Telegram photo, album or image file whose caption is the command line, shell paths
  after ``--attach``. SMS brings none: a command whose files are required answers that there.
  Guides (Discord forms, Telegram conversations) never ask for files.

Each frontend builds ``Attachment`` objects from its platform (a Discord attachment, a Telegram photo or
document, a shell file path) and dispatches the command inside ``carrying(attachments)``: the engine's
dispatch takes a command line or raw values only, so the files travel beside it in a context variable,
and ``Command.bind`` gives them to the command's attachments parameter. Tests use
``TestBot.say(member, line, attachments=[(name, bytes), ...])``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from pathlib import Path

from core.errors import BadArgument

#: reads at most ``n + 1`` bytes of the file (one more than allowed is enough to know it is too big)
Fetch = Callable[[int], Awaitable[bytes]]

#: Discord takes up to 10 files per message and Telegram up to 10 photos per album
MAX_ATTACHMENTS = 10


class AttachmentTooLarge(BadArgument):
    """The file is over the byte limit the reader asked for."""

    def __init__(self, filename: str, limit: int) -> None:
        super().__init__(filename, f"over the {_megabytes(limit)} limit")
        self.limit = limit


class Attachment:
    """One file sent with a command: the sender's claims about it and a way to fetch its bytes."""

    def __init__(
        self, filename: str, fetch: Fetch, *, content_type: str | None = None, size: int | None = None
    ) -> None:
        self.filename = _clean_name(filename)
        #: the type the sender's client claimed; informative only
        self.content_type = content_type
        #: the size the platform reported, if any; checked before fetching, then the real length is
        self.size = size
        self._fetch = fetch
        self._data: bytes | None = None

    @classmethod
    def from_bytes(cls, filename: str, data: bytes, *, content_type: str | None = None) -> Attachment:
        """A file already in memory (tests, the outbox)."""

        async def fetch(limit: int) -> bytes:
            return data[: limit + 1]

        return cls(filename, fetch, content_type=content_type, size=len(data))

    @classmethod
    def from_path(cls, path: Path) -> Attachment:
        """A local file (the shell): read lazily, and never more than the limit plus one byte."""

        async def fetch(limit: int) -> bytes:
            with path.open("rb") as handle:
                return handle.read(limit + 1)

        return cls(path.name, fetch, size=path.stat().st_size)

    async def read(self, max_bytes: int) -> bytes:
        """The file's bytes; ``AttachmentTooLarge`` when it holds more than ``max_bytes``.

        A reported size over the limit is refused without fetching anything; otherwise at most
        ``max_bytes + 1`` bytes are fetched, so a file that lied about its size is still cut short."""
        if self._data is not None:
            if len(self._data) > max_bytes:
                raise AttachmentTooLarge(self.filename, max_bytes)
            return self._data
        if self.size is not None and self.size > max_bytes:
            raise AttachmentTooLarge(self.filename, max_bytes)
        data = await self._fetch(max_bytes)
        if len(data) > max_bytes:
            raise AttachmentTooLarge(self.filename, max_bytes)
        self._data = data
        return data

    def __repr__(self) -> str:
        return f"Attachment({self.filename!r}, content_type={self.content_type!r}, size={self.size!r})"


_incoming: ContextVar[tuple[Attachment, ...]] = ContextVar("snpd_attachments", default=())


@contextlib.contextmanager
def carrying(attachments: Iterable[Attachment]) -> Iterator[None]:
    """Dispatch a command inside this to send ``attachments`` with it (see the module docstring)."""
    token = _incoming.set(tuple(attachments))
    try:
        yield
    finally:
        _incoming.reset(token)


def incoming() -> tuple[Attachment, ...]:
    """The attachments sent with the command being dispatched (empty outside ``carrying``)."""
    return _incoming.get()


def check_count(param: str, attachments: Sequence[Attachment], max_files: int) -> list[Attachment]:
    """The attachments as a list, refusing more than ``max_files``."""
    if len(attachments) > max_files:
        noun = "file" if max_files == 1 else "files"
        raise BadArgument(param, f"at most {max_files} {noun}, got {len(attachments)}")
    return list(attachments)


def _clean_name(filename: str) -> str:
    """The last path part of a sender-given name, without control characters, at most 100 characters."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(char for char in base if char.isprintable()).strip()
    return cleaned[:100] or "file"


def _megabytes(limit: int) -> str:
    if limit >= 1_000_000:
        return f"{limit / 1_000_000:g} MB"
    return f"{limit / 1000:g} KB" if limit >= 1000 else f"{limit} bytes"
