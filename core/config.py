"""Configuration: ``bot.toml`` for settings, the environment for secrets.

Every section is a pydantic model with ``extra="forbid"`` so a typo is an error, not a silent default.
Feature slices bring their own sections (``Slice.config_model``, passed in by the composition root as
``sections``) so core never imports them, yet the whole file is still validated at load time and a bad
key gets one message naming it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("bot.toml")


#: the async drivers SNPD's storage layer is tested on
SUPPORTED_DATABASE_URLS = ("sqlite+aiosqlite://", "postgresql+asyncpg://")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BotSection(Section):
    name: str = "SNPD"
    data_dir: Path = Path("data")
    database_url: str = ""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    default_timezone: str = "UTC"

    @field_validator("default_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {value!r}") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_driver(cls, value: str) -> str:
        if not value or value.startswith(SUPPORTED_DATABASE_URLS):
            return value
        scheme = value.split("://", 1)[0]
        if scheme in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
            raise ValueError("use the asyncpg driver: postgresql+asyncpg://user@host:5432/dbname")
        if scheme in ("sqlite", "sqlite+pysqlite"):
            raise ValueError("use the aiosqlite driver: sqlite+aiosqlite:///path/to/snpd.db")
        raise ValueError("SNPD runs on SQLite (sqlite+aiosqlite:///…) or PostgreSQL (postgresql+asyncpg://…)")

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'snpd.db'}"


class PermissionsSection(Section):
    admins: list[str] = Field(default_factory=list)
    mods: list[str] = Field(default_factory=list)

    @field_validator("admins", "mods")
    @classmethod
    def _platform_prefixed(cls, value: list[str]) -> list[str]:
        for entry in value:
            platform, _, ident = entry.partition(":")
            if platform not in {"discord", "telegram", "sms", "shell"} or not ident:
                raise ValueError(f"{entry!r} should look like 'discord:1234' or 'telegram:5678'")
        return value


#: settings that matched Discord roles by name (anyone can name a role "Admin" in their own server)
_REMOVED_DISCORD_KEYS = {"admin_role_names": "admin_role_ids", "mod_role_names": "mod_role_ids"}


class DiscordSection(Section):
    """Bot rights come only from the home servers in ``guild_ids``: from a member's server-wide
    permissions there, or from the role ids listed here. With ``guild_ids`` empty no Discord role
    gives bot rights; only ``[permissions]`` does."""

    guild_ids: list[int] = Field(default_factory=list)
    api_base: str = ""
    #: members with one of these roles (ids, in a home server) are bot admins / mods
    admin_role_ids: list[int] = Field(default_factory=list)
    mod_role_ids: list[int] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _no_role_names(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for old, new in _REMOVED_DISCORD_KEYS.items():
                if old in data:
                    raise ValueError(
                        f"{old} is no longer supported (role names can be copied on any server): "
                        f"use {new} = [<role id>] (Server Settings → Roles → right-click → Copy Role ID)"
                    )
        return data


class TelegramSection(Section):
    """Bot rights come only from the community's own chats: the creator of one of
    ``community_chat_ids`` is an admin, its administrators get ``chat_admin_role``, wherever the
    command is sent from; a command sent in any other group gets member rights from Telegram."""

    api_base: str = ""
    poll_timeout: int = Field(default=30, ge=0, le=50)
    #: the community's groups and supergroups (``-100…`` ids)
    community_chat_ids: list[int] = Field(default_factory=list)
    chat_admin_role: Literal["admin", "mod"] = "admin"

    @field_validator("community_chat_ids")
    @classmethod
    def _group_ids(cls, value: list[int]) -> list[int]:
        for chat_id in value:
            if chat_id >= 0:
                raise ValueError(f"{chat_id} is not a group id: group and supergroup ids are negative (-100…)")
        return value


class SmsSection(Section):
    from_number: str = ""
    webhook_host: str = "127.0.0.1"
    webhook_port: int = Field(default=8088, ge=1, le=65535)
    public_url: str = ""
    api_base: str = ""
    validity_period_seconds: int = Field(default=900, ge=1, le=36000)


class LinkSection(Section):
    code_ttl_seconds: int = Field(default=600, ge=30, le=86400)


class FeedsSection(Section):
    names: list[str] = Field(default_factory=lambda: ["restocks", "drops", "reports", "raffles"])


class OpsSection(Section):
    """``/metrics`` and ``/healthz`` (``core.ops``): off unless enabled, on loopback unless configured."""

    enabled: bool = False
    host: str = "127.0.0.1"
    #: 0 picks any free port (logged at start-up)
    port: int = Field(default=9108, ge=0, le=65535)


class Secrets(BaseSettings):
    """Secrets are read from the environment only and never written to a log (``SecretStr``)."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=True, extra="ignore")

    DISCORD_TOKEN: SecretStr | None = None
    TELEGRAM_TOKEN: SecretStr | None = None
    TWILIO_ACCOUNT_SID: SecretStr | None = None
    TWILIO_AUTH_TOKEN: SecretStr | None = None
    SNPD_ENCRYPTION_KEY: SecretStr | None = None
    #: pins phone lookups once the key they were derived from is retired (see core/crypto.py)
    SNPD_LOOKUP_KEY: SecretStr | None = None
    EBAY_CLIENT_ID: SecretStr | None = None
    EBAY_CLIENT_SECRET: SecretStr | None = None


SectionT = TypeVar("SectionT", bound=Section)

CORE_SECTIONS: dict[str, type[Section]] = {
    "bot": BotSection,
    "permissions": PermissionsSection,
    "discord": DiscordSection,
    "telegram": TelegramSection,
    "sms": SmsSection,
    "link": LinkSection,
    "feeds": FeedsSection,
    "ops": OpsSection,
}


class Config:
    """The validated config: one attribute per section, plus ``secrets``."""

    def __init__(self, sections: dict[str, Section], secrets: Secrets, path: Path | None) -> None:
        self._sections = sections
        self.secrets = secrets
        self.path = path

    def section(self, name: str) -> Section:
        return self._sections[name]

    def get(self, model: type[SectionT]) -> SectionT:
        """The section validated as ``model``: the typed way for a slice to read its settings."""
        for section in self._sections.values():
            if type(section) is model:
                return section
        raise LookupError(f"no config section is validated as {model.__name__}; is its slice in bot/slices.py?")

    @property
    def bot(self) -> BotSection:
        return self._sections["bot"]  # type: ignore[return-value]

    @property
    def permissions(self) -> PermissionsSection:
        return self._sections["permissions"]  # type: ignore[return-value]

    @property
    def discord(self) -> DiscordSection:
        return self._sections["discord"]  # type: ignore[return-value]

    @property
    def telegram(self) -> TelegramSection:
        return self._sections["telegram"]  # type: ignore[return-value]

    @property
    def sms(self) -> SmsSection:
        return self._sections["sms"]  # type: ignore[return-value]

    @property
    def link(self) -> LinkSection:
        return self._sections["link"]  # type: ignore[return-value]

    @property
    def feeds(self) -> FeedsSection:
        return self._sections["feeds"]  # type: ignore[return-value]

    def frontends_enabled(self) -> dict[str, str]:
        """Which frontends ``snpd run`` would start, with the reason for each decision."""
        s = self.secrets
        result = {
            "discord": "on" if s.DISCORD_TOKEN else "off: DISCORD_TOKEN not set",
            "telegram": "on" if s.TELEGRAM_TOKEN else "off: TELEGRAM_TOKEN not set",
        }
        if not (s.TWILIO_ACCOUNT_SID and s.TWILIO_AUTH_TOKEN):
            result["sms"] = "off: TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN not set"
        elif not self.sms.from_number:
            result["sms"] = "off: [sms] from_number is empty"
        elif not s.SNPD_ENCRYPTION_KEY:
            result["sms"] = "off: SNPD_ENCRYPTION_KEY not set (phone numbers are stored encrypted)"
        else:
            result["sms"] = "on"
        chat_on = any(value == "on" for value in result.values())
        result["shell"] = "off: a chat frontend is configured" if chat_on else "on: no tokens set"
        return result


def load_config(
    path: Path | str | None = None,
    *,
    overrides: dict[str, dict[str, Any]] | None = None,
    sections: Mapping[str, type[Section]] | None = None,
) -> Config:
    """Read and validate bot.toml against core's sections plus the slices' ``sections``.

    A missing default file is fine (all defaults); a bad one is not.
    """
    known = dict(CORE_SECTIONS)
    for name, model in (sections or {}).items():
        if name in known and known[name] is not model:
            raise ConfigError(f"config section [{name}] is claimed twice")
        known[name] = model
    file_path = Path(path) if path is not None else Path(os.environ.get("SNPD_CONFIG", DEFAULT_CONFIG_PATH))
    raw: dict[str, Any] = {}
    if file_path.exists():
        try:
            raw = tomllib.loads(file_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file_path}: not valid TOML ({exc})") from None
    elif path is not None:
        raise ConfigError(f"{file_path}: no such config file")
    for name, values in (overrides or {}).items():
        raw.setdefault(name, {}).update(values)
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(
            f"{file_path}: unknown section [{unknown[0]}]; known sections: {', '.join(sorted(known))}"
        )
    validated: dict[str, Section] = {}
    for name, model in known.items():
        table = raw.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{file_path}: [{name}] must be a table")
        try:
            validated[name] = model.model_validate(table)
        except ValidationError as exc:
            raise ConfigError(_describe(file_path, name, exc)) from None
    config = Config(validated, Secrets(), file_path if file_path.exists() else None)
    if config.frontends_enabled()["sms"] == "on" and not config.sms.public_url:
        # Twilio signs each webhook over the URL it called: without it every real webhook gets 403
        raise ConfigError(
            f"{file_path}: [sms] public_url: required when SMS is on: the https URL Twilio calls, "
            "e.g. https://bot.example.com/twilio/sms (Twilio signs webhooks with it)"
        )
    return config


#: keys an older bot.toml may still have, and where they live now
MOVED_KEYS = {
    ("delivery", "sms_validity_s"): "set [sms] validity_period_seconds instead (one setting for Twilio and the outbox)",
    ("alerts", "sms_code_ttl_s"): "set [account] sms_code_ttl_s instead",
}


def _describe(path: Path, section: str, exc: ValidationError) -> str:
    error = exc.errors()[0]
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        moved = MOVED_KEYS.get((section, key))
        return f"{path}: [{section}] {key}: " + (f"moved: {moved}" if moved else "unknown key")
    given = error.get("input")
    if not key:  # a check of the whole section
        return f"{path}: [{section}] {error['msg'].removeprefix('Value error, ')}"
    if error["type"] == "value_error":  # our own validators write whole sentences
        return f"{path}: [{section}] {key}: {error['msg'].removeprefix('Value error, ')}"
    shown = "" if isinstance(given, dict | list) else f", got {_clip(repr(given))}"
    return f"{path}: [{section}] {key}: {error['msg']}{shown}"


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
