"""The neutral reply every handler returns. Frontends render it natively; nothing here knows a platform."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Telegram caps callback data at 64 bytes; Discord's custom_id allows 100. We keep the stricter one.
MAX_ACTION_BYTES = 64


class Button(BaseModel):
    """Either a link (``url``) or an action: a command line dispatched as if the presser typed it."""

    label: str
    url: str | None = None
    action: str | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Button:
        if (self.url is None) == (self.action is None):
            raise ValueError("a button needs exactly one of url or action")
        if self.action is not None and len(self.action.encode()) > MAX_ACTION_BYTES:
            raise ValueError(f"button action longer than {MAX_ACTION_BYTES} bytes")
        return self


class ReplyField(BaseModel):
    name: str
    value: str
    inline: bool = True


class ReplyImage(BaseModel):
    """A photo shown with a reply (a legit check's or a trade's photos): a file name and its bytes."""

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    name: str
    data: bytes = Field(repr=False)


#: Discord attaches at most 10 files to a message and Telegram puts at most 10 in an album
MAX_REPLY_IMAGES = 10
#: files (not photos) one reply carries: each is one Telegram message, so a few at most
MAX_REPLY_FILES = 3
#: one file's size: Discord's smallest upload limit (10 MiB) with room for the rest of the message
MAX_REPLY_FILE_BYTES = 8 * 1024 * 1024


class ReplyFile(BaseModel):
    """A document sent with a reply (a member's ``.ics`` calendar): Discord attaches it, Telegram
    sends it with ``sendDocument``, SMS and the shell only name it. Photos go in ``images``."""

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    name: str = Field(min_length=1, max_length=128)
    data: bytes = Field(repr=False, max_length=MAX_REPLY_FILE_BYTES)
    content_type: str = "application/octet-stream"

    def describe(self) -> str:
        """``name (12.3 KB)``, for platforms that show a file's name instead of sending it."""
        size = len(self.data)
        shown = f"{size} bytes" if size < 1024 else f"{size / 1024:.1f} KB"
        return f"{self.name} ({shown})"


class Reply(BaseModel):
    """What a command or a feed item says. ``ephemeral`` means only the caller should see it."""

    #: ``image`` travels as base64 wherever a reply is stored or put on the bus as JSON
    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    title: str | None = None
    text: str = ""
    fields: list[ReplyField] = Field(default_factory=list)
    image_url: str | None = None
    #: an image made for this reply (a chart), uploaded with it as ``image_name``; platforms without
    #: images (SMS) show the text alone
    image: bytes | None = Field(default=None, repr=False)
    image_name: str = "image.png"
    #: several photos (``(name, bytes)`` pairs or ``ReplyImage``), at most ten: Discord attaches them
    #: and shows the first in the embed (after ``image`` if there is one), Telegram sends an album
    #: before the text, SMS and the shell say how many there are
    images: list[ReplyImage] = Field(default_factory=list, max_length=MAX_REPLY_IMAGES)
    #: documents sent with the reply (``ReplyFile``), at most three: attached on Discord, one
    #: ``sendDocument`` each on Telegram (the text follows, or is the caption of a lone file); SMS and
    #: the shell name them
    files: list[ReplyFile] = Field(default_factory=list, max_length=MAX_REPLY_FILES)
    url: str | None = None
    buttons: list[Button] = Field(default_factory=list)
    footer: str | None = None
    ephemeral: bool = False
    color: int | None = None
    #: a Discord role to ping with a feed item (a monitor's role); platforms without roles ignore it
    mention_role_id: int | None = None

    @field_validator("fields", mode="before")
    @classmethod
    def _fields_from_tuples(cls, value: object) -> object:
        if isinstance(value, list):
            return [{"name": item[0], "value": item[1]} if isinstance(item, tuple) else item for item in value]
        return value

    @field_validator("images", mode="before")
    @classmethod
    def _images_from_tuples(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return [{"name": item[0], "data": item[1]} if isinstance(item, tuple) else item for item in value]
        return value

    @property
    def photos(self) -> list[ReplyImage]:
        """Every image the reply carries as a file: ``image`` (a chart) first, then ``images``."""
        single = [ReplyImage(name=self.image_name, data=self.image)] if self.image is not None else []
        return single + self.images

    @classmethod
    def error(cls, message: str) -> Reply:
        return cls(title="⚠️ Not done", text=message, ephemeral=True, color=0xE74C3C)

    @classmethod
    def info(cls, text: str, *, title: str | None = None, ephemeral: bool = False) -> Reply:
        return cls(title=title, text=text, ephemeral=ephemeral)

    def plain_text(self) -> str:
        """The reply flattened to plain text: the shared content every frontend shows."""
        parts: list[str] = []
        if self.title:
            parts.append(self.title)
        if self.text:
            parts.append(self.text)
        parts.extend(f"{field.name}: {field.value}" for field in self.fields)
        if self.footer:
            parts.append(self.footer)
        return "\n".join(parts)
