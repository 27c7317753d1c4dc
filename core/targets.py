"""Where a message can go, as serialisable values (stored in the database, sent over the bus)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Target(BaseModel):
    model_config = ConfigDict(frozen=True)


class DiscordChannel(_Target):
    """A Discord text channel, or a thread in it, with an optional role to mention."""

    platform: Literal["discord"] = "discord"
    channel_id: int
    thread_id: int | None = None
    role_id: int | None = None

    @property
    def key(self) -> str:
        return f"discord:{self.channel_id}:{self.thread_id or ''}"

    def describe(self) -> str:
        where = f"<#{self.thread_id or self.channel_id}>"
        return where + (f" mentioning <@&{self.role_id}>" if self.role_id else "")


class TelegramChat(_Target):
    """A Telegram private chat, group, channel, or a forum topic inside a group."""

    platform: Literal["telegram"] = "telegram"
    chat_id: int
    topic_id: int | None = None

    @property
    def key(self) -> str:
        return f"telegram:{self.chat_id}:{self.topic_id or ''}"

    def describe(self) -> str:
        return f"Telegram chat {self.chat_id}" + (f" topic {self.topic_id}" if self.topic_id else "")


class ShellConsole(_Target):
    platform: Literal["shell"] = "shell"

    @property
    def key(self) -> str:
        return "shell:console"

    def describe(self) -> str:
        return "the local shell"


FeedTarget = Annotated[DiscordChannel | TelegramChat | ShellConsole, Field(discriminator="platform")]
TARGET_ADAPTER: TypeAdapter[FeedTarget] = TypeAdapter(FeedTarget)


def parse_target(data: object) -> DiscordChannel | TelegramChat | ShellConsole:
    return TARGET_ADAPTER.validate_python(data)
