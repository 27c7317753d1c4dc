"""The photo store: member photos checked, cleaned of metadata and kept by content hash.

How a slice uses it (legit checks, trades, sightings):

* Put ``photos: PhotoLimits = PhotoLimits()`` in the slice's config model, so ``[legit.photos]``
  (say) can set ``max_mb``, ``max_count``, ``max_megapixels`` and ``folder``.
* In ``build``: ``store = PhotoStore.from_config(engine.config, section.photos)``; the folder defaults
  to ``<data_dir>/photos`` and is safe to share between slices (a file's name is its content's hash).
* In the handler: ``stored = await store.store_all(photos)`` with the command's ``list[Attachment]``.
  It refuses too many photos, anything over the byte limit (before reading all of it), anything that
  is not really a JPEG, PNG or WebP (the bytes decide, never the name or the claimed type), animated
  images and decompression bombs, each with a short ``BadArgument`` naming the file; nothing is
  written unless every photo passes. Keep the returned ``StoredPhoto.sha256`` in the slice's own
  table, and key side effects on ``ctx.request_id`` as usual.
* To show photos in a card: ``await store.display(sha256)`` gives a JPEG at most 1600 pixels on its
  longer side (made once, then kept), e.g. ``Reply(images=[ReplyImage(name=f"{sha[:12]}.jpg",
  data=await store.display(sha))])``. Use it rather than the full photo: Discord refuses a message
  whose files pass its upload limit (10 MB on most servers, for all files together), and Telegram
  refuses photos over 10 MB or 10,000 pixels wide plus high. ``await store.read(sha256)`` gives the
  stored photo itself (for hashing or an export).

Cleaning: the EXIF orientation is applied first (so the photo stays upright), an embedded colour
profile is converted to sRGB, and then only the pixels are re-encoded: EXIF (with any GPS position),
XMP, ICC profiles and comments are all gone from the stored copy. Storing the same photo again finds
the same file and writes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field

from core.attachments import MAX_ATTACHMENTS, Attachment, AttachmentTooLarge
from core.errors import BadArgument

if TYPE_CHECKING:
    from core.config import Config

PhotoType = Literal["jpeg", "png", "webp"]

#: Pillow's format name -> ours; nothing else is even tried when opening a member's file
_FORMATS: dict[str, PhotoType] = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp"}
_EXTENSIONS: dict[PhotoType, str] = {"jpeg": "jpg", "png": "png", "webp": "webp"}
_SAVE_OPTIONS: dict[PhotoType, dict[str, object]] = {
    "jpeg": {"quality": 90, "optimize": True},
    "png": {"compress_level": 6},
    "webp": {"quality": 90, "method": 4},
}
#: modes every output format takes as they are; others are converted first
_PLAIN_MODES = {"RGB", "L"}
_HEX = frozenset("0123456789abcdef")
#: the longer side of a display copy: sharp on any phone, a few hundred KB as a JPEG
DISPLAY_SIDE = 1600


class PhotoLimits(BaseModel):
    """What a slice accepts; embed it in the slice's config section."""

    model_config = ConfigDict(extra="forbid")

    #: the largest file accepted, in megabytes (10**6 bytes)
    max_mb: float = Field(default=10.0, gt=0, le=50)
    #: photos per command
    max_count: int = Field(default=MAX_ATTACHMENTS, ge=1, le=MAX_ATTACHMENTS)
    #: decoded size: a tiny file claiming 50,000 x 50,000 pixels is refused before it is decoded
    max_megapixels: float = Field(default=40.0, gt=0, le=80)
    #: where stored photos live; empty means ``<data_dir>/photos``
    folder: Path | None = None

    @property
    def max_bytes(self) -> int:
        return int(self.max_mb * 1_000_000)

    @property
    def max_pixels(self) -> int:
        return int(self.max_megapixels * 1_000_000)


@dataclass(frozen=True)
class StoredPhoto:
    """A stored photo: its name in the store and what it is."""

    sha256: str
    width: int
    height: int
    type: PhotoType
    #: the stored (cleaned) file's size
    bytes: int

    @property
    def filename(self) -> str:
        return f"{self.sha256}.{_EXTENSIONS[self.type]}"


class PhotoRejected(BadArgument):
    """A file that is not a photo this store takes; the message names the file and says why."""


@dataclass(frozen=True)
class _Cleaned:
    record: StoredPhoto
    data: bytes


class PhotoStore:
    """Checks, cleans and keeps photos under ``folder`` by the SHA-256 of the cleaned file."""

    def __init__(self, folder: Path, limits: PhotoLimits | None = None) -> None:
        self.folder = folder
        self.limits = limits or PhotoLimits()

    @classmethod
    def from_config(cls, config: Config, limits: PhotoLimits | None = None) -> PhotoStore:
        """A store in ``limits.folder``, or ``<data_dir>/photos`` when that is unset."""
        limits = limits or PhotoLimits()
        return cls(limits.folder or config.bot.data_dir / "photos", limits)

    async def store(self, attachment: Attachment) -> StoredPhoto:
        """One photo, checked, cleaned and stored (see the module docstring)."""
        return (await self.store_all([attachment]))[0]

    async def store_all(self, attachments: Sequence[Attachment], *, param: str = "photos") -> list[StoredPhoto]:
        """Every photo checked and cleaned before any is written: one bad file stores nothing."""
        if len(attachments) > self.limits.max_count:
            raise BadArgument(param, f"at most {self.limits.max_count} photos, got {len(attachments)}")
        cleaned: list[_Cleaned] = []
        for attachment in attachments:
            data = await attachment.read(self.limits.max_bytes)
            cleaned.append(await asyncio.to_thread(clean_photo, data, attachment.filename, self.limits))
        return await asyncio.to_thread(self._write_all, cleaned)

    def store_bytes(self, data: bytes, filename: str = "photo") -> StoredPhoto:
        """The same as ``store`` for bytes already in memory, blocking (scripts, imports, tests)."""
        if len(data) > self.limits.max_bytes:
            raise AttachmentTooLarge(filename, self.limits.max_bytes)
        return self._write_all([clean_photo(data, filename, self.limits)])[0]

    def path(self, sha256: str) -> Path:
        """Where the photo with this hash is (or would be); the hash must be one this store made."""
        if len(sha256) != 64 or not set(sha256) <= _HEX:
            raise ValueError("not a SHA-256 hex digest")
        found = sorted((self.folder / sha256[:2]).glob(f"{sha256}.*"))
        return found[0] if found else self.folder / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    async def read(self, sha256: str) -> bytes:
        """The stored photo's bytes; ``FileNotFoundError`` if this store never kept it."""
        return await asyncio.to_thread(self.path(sha256).read_bytes)

    async def display(self, sha256: str, *, max_side: int = DISPLAY_SIDE) -> bytes:
        """A JPEG of the stored photo for showing in chats, at most ``max_side`` pixels on its longer
        side (never enlarged; transparency on white), made on first use and kept under ``display/``."""
        return await asyncio.to_thread(self._display, sha256, max_side)

    def _display(self, sha256: str, max_side: int) -> bytes:
        source = self.path(sha256)
        target = self.folder / "display" / sha256[:2] / f"{sha256}-{max_side}.jpg"
        if target.is_file():
            return target.read_bytes()
        with Image.open(source) as image:
            image.load()
            image.thumbnail((max_side, max_side))
            if image.mode in ("RGBA", "LA"):
                backdrop = Image.new("RGB", image.size, "white")
                backdrop.paste(image, mask=image.getchannel("A"))
                picture = backdrop
            else:
                picture = image.convert("RGB")
        out = io.BytesIO()
        picture.save(out, format="JPEG", quality=85, optimize=True)
        data = out.getvalue()
        _write_once(target, data)
        return data

    def _write_all(self, cleaned: Sequence[_Cleaned]) -> list[StoredPhoto]:
        for item in cleaned:
            self._write(item)
        return [item.record for item in cleaned]

    def _write(self, item: _Cleaned) -> None:
        _write_once(self.folder / item.record.sha256[:2] / item.record.filename, item.data)


def _write_once(target: Path, data: bytes) -> None:
    """Write once, atomically: a second store of the same photo finds the file and stops."""
    if target.is_file():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def clean_photo(data: bytes, filename: str, limits: PhotoLimits) -> _Cleaned:
    """Sniff, check and re-encode ``data``: the blocking heart of the store (run it off the loop)."""
    try:
        image = Image.open(io.BytesIO(data), formats=list(_FORMATS))
    except UnidentifiedImageError:
        raise PhotoRejected(filename, "not an image (JPEG, PNG or WebP)") from None
    except Image.DecompressionBombError:
        raise PhotoRejected(filename, f"over the {limits.max_megapixels:g} megapixel limit") from None
    except (OSError, SyntaxError, ValueError):
        raise PhotoRejected(filename, "could not decode the image") from None
    with image:
        kind = _FORMATS[str(image.format)]
        if image.width * image.height > limits.max_pixels:
            raise PhotoRejected(filename, f"over the {limits.max_megapixels:g} megapixel limit")
        if getattr(image, "is_animated", False) or getattr(image, "n_frames", 1) > 1:
            raise PhotoRejected(filename, "animated images are not accepted")
        try:
            pixels = _pixels_only(image)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            raise PhotoRejected(filename, "could not decode the image") from None
    out = io.BytesIO()
    pixels.save(out, format=kind.upper(), **_SAVE_OPTIONS[kind])
    encoded = out.getvalue()
    digest = hashlib.sha256(encoded).hexdigest()
    record = StoredPhoto(digest, pixels.width, pixels.height, kind, len(encoded))
    return _Cleaned(record, encoded)


def _pixels_only(image: Image.Image) -> Image.Image:
    """The decoded picture upright, in sRGB, as a new image that carries no metadata at all."""
    image.load()
    upright = ImageOps.exif_transpose(image) or image
    profile = image.info.get("icc_profile")
    converted = _to_plain_mode(upright)
    if profile and converted.mode in ("RGB", "RGBA"):
        converted = _to_srgb(converted, profile)
    return Image.frombytes(converted.mode, converted.size, converted.tobytes())


def _to_plain_mode(image: Image.Image) -> Image.Image:
    """RGB, RGBA or greyscale, which every output format takes; 16-bit and float greyscale are
    scaled down to 8 bits rather than clipped."""
    if image.mode in _PLAIN_MODES or image.mode == "RGBA":
        return image
    if image.mode.startswith(("I", "F")):
        extrema = image.getextrema()
        low, high = float(extrema[0]), float(extrema[1])  # type: ignore[arg-type]
        span = (high - low) or 1.0
        return image.point(lambda value: (value - low) * 255.0 / span).convert("L")
    has_alpha = image.mode in ("LA", "PA", "RGBa", "La") or "transparency" in image.info
    if image.format == "JPEG":
        has_alpha = False
    return image.convert("RGBA" if has_alpha else "RGB")


def _to_srgb(image: Image.Image, profile: bytes) -> Image.Image:
    """Colours as the embedded profile meant them, since the profile itself is dropped. A profile
    that is broken or does not fit the image is ignored: the pixels are kept as they are."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"))
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image
    return converted if converted is not None else image
