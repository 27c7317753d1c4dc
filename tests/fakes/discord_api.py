"""A local fake of Discord that speaks the real wire protocol, so the real discord.py runs against it.

It serves the REST API under ``/api/v10`` and a gateway websocket on loopback. discord.py is pointed
at it by ``point_discord_py_at`` (or by the adapter's ``api_base`` setting); nothing in discord.py is
mocked, so every test exercises the library's own HTTP, rate-limit, gateway and resume code.

What it models, and why:

* REST: login, application info, command sync (validated like Discord validates them), interaction
  callbacks (modals too; ``submit_modal`` fills one in) and webhooks (followups, edit original),
  channel messages (validated against Discord's size limits: a frontend that overflows them fails
  here as it would in production), DM channels, member roles. A message sent with ``nonce`` and
  ``enforce_nonce`` that repeats a nonce of the last few minutes returns the earlier message and
  creates none, as Discord does.
* Gateway: HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeats, RESUME with replay of the events the
  client missed while disconnected, zlib-stream transport compression when asked for it.
* Faults on demand: 429 with ``retry_after`` and bucket headers, 5xx, error 50007 for DMs to a user
  who closed them, and dropping the gateway socket.
* Recording: every request, interaction response and message, with awaitable helpers for tests.
  Multipart uploads become attachments with CDN URLs (embeds' ``attachment://`` images resolve to
  them) and their bytes are kept in ``uploads``.
* Trust boundaries: other servers the bot is in (``add_guild``; their owners have every permission
  there), member permission overwrites on a channel (an interaction carries the channel-resolved
  permissions, as Discord sends them), interactions from a DM, and the role hierarchy (a bot can
  only give roles below its own top role).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import re
import secrets
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from tests.fakes import WAIT_S

DISCORD_EPOCH_MS = 1_420_070_400_000
API_PREFIX = "/api/v10"
EPHEMERAL = 1 << 6

#: Discord permission bits the fake needs to compute a member's permissions.
PERM_ADMINISTRATOR = 1 << 3
PERM_MANAGE_GUILD = 1 << 5
PERM_KICK_MEMBERS = 1 << 1
PERM_BAN_MEMBERS = 1 << 2
PERM_MANAGE_CHANNELS = 1 << 4
PERM_MANAGE_MESSAGES = 1 << 13
PERM_MANAGE_ROLES = 1 << 28
PERM_MODERATE_MEMBERS = 1 << 40
ALL_PERMISSIONS = (1 << 50) - 1
INTENT_GUILD_MEMBERS = 1 << 1
#: @everyone in a fresh guild: view channels, send messages, read history, use app commands
DEFAULT_EVERYONE_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 16) | (1 << 31)

_OPTION_TYPES = {str: 3, int: 4, bool: 5, float: 10}

def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


class _Snowflakes:
    """Realistic, strictly increasing snowflakes (discord.py derives ``created_at`` from them)."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def next(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (next(self._counter) & 0x3FFFFF)


class DiscordError(Exception):
    """Raised inside a handler to answer with Discord's JSON error shape."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    @classmethod
    def form(cls, path: str, code: str, message: str) -> DiscordError:
        """400 / 50035 "Invalid Form Body" naming one field, as Discord reports a bad payload."""
        return cls(400, 50035, "Invalid Form Body", _form_error(path, code, message))


@dataclass
class FakeUser:
    id: int
    username: str
    bot: bool = False

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.username,
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
            "flags": 0,
        }


@dataclass
class FakeRole:
    id: int
    name: str
    permissions: int = 0
    position: int = 1

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": False,
            "mentionable": True,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }


@dataclass
class FakeMember:
    user: FakeUser
    roles: list[int] = field(default_factory=list)
    nick: str | None = None

    def payload(self, permissions: int | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "user": self.user.payload(),
            "roles": [str(role) for role in self.roles],
            "nick": self.nick,
            "joined_at": "2024-01-01T00:00:00+00:00",
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "avatar": None,
            "communication_disabled_until": None,
        }
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass
class FakeChannel:
    id: int
    name: str
    type: int = 0  # 0 text, 1 DM, 11 public thread
    guild_id: int | None = None
    parent_id: int | None = None
    recipient: FakeUser | None = None
    #: member overwrites: user id → (allow, deny) bits
    overwrites: dict[int, tuple[int, int]] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": str(self.id), "type": self.type, "flags": 0}
        if self.type == 1:
            data["recipients"] = [self.recipient.payload()] if self.recipient else []
            data["last_message_id"] = None
            return data
        data.update(
            {
                "name": self.name,
                "position": 0,
                "permission_overwrites": [
                    {"id": str(user_id), "type": 1, "allow": str(allow), "deny": str(deny)}
                    for user_id, (allow, deny) in self.overwrites.items()
                ],
                "nsfw": False,
                "parent_id": str(self.parent_id) if self.parent_id else None,
                "topic": None,
                "last_message_id": None,
                "rate_limit_per_user": 0,
            }
        )
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        if self.type in (10, 11, 12):
            data.update(
                {
                    "owner_id": "0",
                    "member_count": 1,
                    "message_count": 0,
                    "total_message_sent": 0,
                    "thread_metadata": {
                        "archived": False,
                        "auto_archive_duration": 1440,
                        "archive_timestamp": _now_iso(),
                        "locked": False,
                    },
                }
            )
        return data


@dataclass
class FakeGuild:
    """Another server the bot was added to (``FakeDiscord.add_guild``): its owner has every
    permission there, and it may have roles of its own."""

    id: int
    name: str
    owner: FakeMember
    bot: FakeMember
    channel: FakeChannel
    roles: dict[int, FakeRole] = field(default_factory=dict)


@dataclass
class RecordedRequest:
    method: str
    path: str
    route: str
    status: int
    at: float
    body: Any = None


@dataclass
class RecordedMessage:
    """A message as Discord stored it. ``source`` is ``channel``, ``interaction`` or ``followup``."""

    id: int
    channel_id: int
    payload: dict[str, Any]
    request: dict[str, Any]
    source: str
    interaction_id: int | None = None

    @property
    def content(self) -> str:
        return str(self.payload.get("content") or "")

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return list(self.payload.get("embeds") or [])

    @property
    def components(self) -> list[dict[str, Any]]:
        return list(self.payload.get("components") or [])

    @property
    def flags(self) -> int:
        return int(self.payload.get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def allowed_mentions(self) -> dict[str, Any] | None:
        return self.request.get("allowed_mentions")

    def buttons(self) -> list[dict[str, Any]]:
        return [item for row in self.components for item in row.get("components", []) if item.get("type") == 2]

    def text(self) -> str:
        """Everything a reader sees, flattened: content, embed titles, descriptions, fields, footers."""
        parts = [self.content]
        for embed in self.embeds:
            parts += [embed.get("title", ""), embed.get("description", "")]
            for item in embed.get("fields", []):
                parts += [item.get("name", ""), item.get("value", "")]
            parts.append((embed.get("footer") or {}).get("text", ""))
        return "\n".join(part for part in parts if part)


@dataclass
class FakeInteraction:
    """An interaction the fake sent, and everything the bot answered to it."""

    id: int
    token: str
    type: int
    payload: dict[str, Any]
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    followups: list[RecordedMessage] = field(default_factory=list)
    original: RecordedMessage | None = None

    @property
    def response(self) -> dict[str, Any] | None:
        return self.callbacks[0] if self.callbacks else None


@dataclass
class _Fault:
    pattern: re.Pattern[str]
    remaining: int
    status: int
    retry_after: float = 0.0
    is_global: bool = False
    code: int = 0
    message: str = ""


@dataclass
class _Session:
    id: str
    user_id: int
    intents: int
    seq: int = 0
    events: list[tuple[int, str]] = field(default_factory=list)
    connection: _Connection | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class _Connection:
    """One gateway websocket. Sends text frames, or a zlib stream if the client asked for it."""

    def __init__(self, ws: web.WebSocketResponse, path: str, compress: str | None) -> None:
        self.ws = ws
        self.path = path
        self.compress = compress
        self._zlib = zlib.compressobj() if compress == "zlib-stream" else None
        self.sent_seq = 0
        self._send_lock = asyncio.Lock()

    async def send(self, frame: str) -> None:
        async with self._send_lock:
            if self.ws.closed:
                raise ConnectionResetError("gateway socket closed")
            if self._zlib is not None:
                data = self._zlib.compress(frame.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
                await self.ws.send_bytes(data)
            else:
                await self.ws.send_str(frame)


def _route_regex(template: str) -> re.Pattern[str]:
    """``POST /channels/{channel_id}/messages`` (or a concrete path, or ``*`` globs) → a regex."""
    parts = re.split(r"(\{[^}]+\}|\*)", template)
    regex = "".join("[^ ]+?" if p == "*" else "[^/ ]+" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(regex + r"(\?.*)?$")


def _json_response(payload: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """Exactly ``application/json``, no charset: discord.py compares the header verbatim."""
    return web.Response(
        body=json.dumps(payload).encode(),
        status=status,
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


def _form_error(path: str, code: str, message: str) -> dict[str, Any]:
    """Discord's nested ``errors`` object for one failing field, e.g. ``embeds.0.title``."""
    tree: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for part in reversed(path.split(".")):
        tree = {part: tree}
    return tree


def _valid_url(url: str) -> bool:
    parsed = urlsplit(url)
    return parsed.scheme in ("http", "https", "attachment", "discord") and bool(parsed.netloc) and len(url) <= 2048


def validate_message_payload(body: Mapping[str, Any]) -> None:
    """Apply Discord's message limits; raise ``DiscordError`` (400 50035/50006) like Discord does."""

    def too_long(path: str, limit: int) -> DiscordError:
        return DiscordError.form(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    content = body.get("content") or ""
    if len(content) > 2000:
        raise too_long("content", 2000)
    embeds = body.get("embeds") or []
    if len(embeds) > 10:
        raise too_long("embeds", 10)
    total = 0
    for index, embed in enumerate(embeds):
        where = f"embeds.{index}"
        for key, url in (("url", embed.get("url")), ("image.url", (embed.get("image") or {}).get("url"))):
            if url is not None and not _valid_url(url):
                raise DiscordError.form(f"{where}.{key}", "URL_TYPE_INVALID_URL", "Not a well formed URL.")
        for key, limit in (("title", 256), ("description", 4096)):
            value = embed.get(key) or ""
            if len(value) > limit:
                raise too_long(f"{where}.{key}", limit)
            total += len(value)
        fields = embed.get("fields") or []
        if len(fields) > 25:
            raise too_long(f"{where}.fields", 25)
        for number, item in enumerate(fields):
            for key, limit in (("name", 256), ("value", 1024)):
                value = item.get(key) or ""
                if not value.strip():
                    raise DiscordError.form(
                        f"{where}.fields.{number}.{key}", "BASE_TYPE_REQUIRED", "This field is required"
                    )
                if len(value) > limit:
                    raise too_long(f"{where}.fields.{number}.{key}", limit)
                total += len(value)
        footer = (embed.get("footer") or {}).get("text") or ""
        if len(footer) > 2048:
            raise too_long(f"{where}.footer.text", 2048)
        author = (embed.get("author") or {}).get("name") or ""
        if len(author) > 256:
            raise too_long(f"{where}.author.name", 256)
        total += len(footer) + len(author)
    if total > 6000:
        raise DiscordError.form("embeds", "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
    components = body.get("components") or []
    if len(components) > 5:
        raise too_long("components", 5)
    for row_index, row in enumerate(components):
        items = row.get("components") or []
        if len(items) > 5:
            raise too_long(f"components.{row_index}.components", 5)
        for index, item in enumerate(items):
            where = f"components.{row_index}.components.{index}"
            if len(item.get("custom_id") or "") > 100:
                raise too_long(f"{where}.custom_id", 100)
            if len(item.get("label") or "") > 80:
                raise too_long(f"{where}.label", 80)
            if item.get("url") is not None and not _valid_url(item["url"]):
                raise DiscordError.form(f"{where}.url", "URL_TYPE_INVALID_URL", "Not a well formed URL.")
            if item.get("type") == 2 and (item.get("style") == 5) == (item.get("custom_id") is not None):
                raise DiscordError.form(where, "COMPONENT_INVALID", "link buttons take a url, others a custom_id")
    if not (content or embeds or components or body.get("attachments") or body.get("sticker_ids")):
        raise DiscordError(400, 50006, "Cannot send an empty message")


def validate_modal_payload(body: Mapping[str, Any]) -> None:
    """The limits Discord puts on a modal (interaction response type 9): a 45-character title, one to
    five fields, each a text input in a label (type 18) or, the older way, alone in an action row."""

    def invalid(path: str, message: str) -> DiscordError:
        return DiscordError.form(path, "BASE_TYPE_BAD_LENGTH", message)

    if not 1 <= len(body.get("title") or "") <= 45:
        raise invalid("data.title", "title must be 1-45 characters")
    if not 1 <= len(body.get("custom_id") or "") <= 100:
        raise invalid("data.custom_id", "custom_id must be 1-100 characters")
    components = body.get("components") or []
    if not 1 <= len(components) <= 5:
        raise invalid("data.components", "a modal holds 1-5 components")
    seen: set[str] = set()
    for index, component in enumerate(components):
        where = f"data.components.{index}"
        if component.get("type") == 18:
            label, field_input = component.get("label") or "", component.get("component") or {}
            if len(component.get("description") or "") > 100:
                raise invalid(f"{where}.description", "at most 100 characters")
        elif component.get("type") == 1 and len(component.get("components") or []) == 1:
            field_input = component["components"][0]
            label = field_input.get("label") or ""
        else:
            raise invalid(where, "expected a label or an action row holding one text input")
        if not 1 <= len(label) <= 45:
            raise invalid(f"{where}.label", "label must be 1-45 characters")
        if field_input.get("type") != 4 or field_input.get("style") not in (1, 2):
            raise invalid(where, "expected a text input (type 4, style 1 or 2)")
        custom_id = field_input.get("custom_id") or ""
        if not 1 <= len(custom_id) <= 100 or custom_id in seen:
            raise invalid(f"{where}.custom_id", "custom_id must be 1-100 characters and unique")
        seen.add(custom_id)
        if len(field_input.get("placeholder") or "") > 100:
            raise invalid(f"{where}.placeholder", "at most 100 characters")
        if not 1 <= int(field_input.get("max_length") or 4000) <= 4000:
            raise invalid(f"{where}.max_length", "must be 1-4000")
        if len(field_input.get("value") or "") > 4000:
            raise invalid(f"{where}.value", "at most 4000 characters")


def modal_inputs(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The text inputs of a modal the bot sent, in order, whichever way each is wrapped."""
    inputs = []
    for component in body.get("components") or []:
        if component.get("type") == 18:
            inputs.append({**component["component"], "label": component.get("label")})
        else:
            inputs.extend(component.get("components") or [])
    return inputs


_NAME_RE = re.compile(r"^[-_a-z0-9]{1,32}$")


def validate_commands(commands: list[dict[str, Any]]) -> None:
    """The checks Discord runs on a bulk overwrite, so a bad declaration fails in tests, not in prod."""

    def invalid(path: str, message: str) -> DiscordError:
        return DiscordError.form(path, "APPLICATION_COMMAND_INVALID", message)

    if len(commands) > 100:
        raise invalid("_", "at most 100 chat commands")
    seen: set[str] = set()

    def check_options(options: list[dict[str, Any]], path: str, depth: int) -> None:
        if len(options) > 25:
            raise invalid(f"{path}.options", "at most 25 options")
        optional_seen = False
        names: set[str] = set()
        for index, option in enumerate(options):
            where = f"{path}.options.{index}"
            name = option.get("name", "")
            if not _NAME_RE.match(name):
                raise invalid(f"{where}.name", f"invalid option name {name!r}")
            if name in names:
                raise invalid(f"{where}.name", "duplicate option name")
            names.add(name)
            if not 1 <= len(option.get("description") or "") <= 100:
                raise invalid(f"{where}.description", "description must be 1-100 characters")
            kind = option.get("type")
            if kind in (1, 2):
                if depth >= 2 or (kind == 2 and depth >= 1):
                    raise invalid(where, "sub-commands nest at most two levels")
                check_options(option.get("options") or [], where, depth + 1)
                continue
            if option.get("required"):
                if optional_seen:
                    raise invalid(where, "required options must come before optional ones")
            else:
                optional_seen = True
            choices = option.get("choices") or []
            if len(choices) > 25:
                raise invalid(f"{where}.choices", "at most 25 choices")
            if choices and option.get("autocomplete"):
                raise invalid(where, "autocomplete and choices are exclusive")

    for index, command in enumerate(commands):
        name = command.get("name", "")
        if command.get("type", 1) == 1 and not _NAME_RE.match(name):
            raise invalid(f"{index}.name", f"invalid command name {name!r}")
        if name in seen:
            raise invalid(f"{index}.name", "duplicate command name")
        seen.add(name)
        if command.get("type", 1) == 1 and not 1 <= len(command.get("description") or "") <= 100:
            raise invalid(f"{index}.description", "description must be 1-100 characters")
        check_options(command.get("options") or [], str(index), 0)


class FakeDiscord:
    """The fake server. Use ``async with FakeDiscord() as fake`` or ``await fake.start()``."""

    def __init__(
        self,
        *,
        token: str = "fake-bot-token",
        guild_name: str = "Cook Group",
        heartbeat_interval_ms: int = 41_250,
    ) -> None:
        self._ids = _Snowflakes()
        self._current: _Session | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.token = token
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.application_id = self._ids.next()
        self.bot_user = FakeUser(self.application_id, "SNPD", bot=True)
        self.owner = FakeUser(self._ids.next(), "owner")
        self.guild_id = self._ids.next()
        self.guild_name = guild_name
        self.roles: dict[int, FakeRole] = {
            self.guild_id: FakeRole(self.guild_id, "@everyone", DEFAULT_EVERYONE_PERMISSIONS, position=0)
        }
        #: the role Discord creates for a bot when it joins, from the permissions in its invite link
        self.bot_role = FakeRole(
            self._ids.next(), "SNPD", PERM_MANAGE_ROLES | PERM_MANAGE_MESSAGES | DEFAULT_EVERYONE_PERMISSIONS, 2
        )
        self.roles[self.bot_role.id] = self.bot_role
        self.members: dict[int, FakeMember] = {
            self.bot_user.id: FakeMember(self.bot_user, [self.bot_role.id]),
            self.owner.id: FakeMember(self.owner),
        }
        self.users: dict[int, FakeUser] = {self.bot_user.id: self.bot_user, self.owner.id: self.owner}
        self.channels: dict[int, FakeChannel] = {}
        #: other servers the bot is in (``add_guild``)
        self.guilds: dict[int, FakeGuild] = {}
        self.general = self.add_channel("general")

        self.requests: list[RecordedRequest] = []
        self.messages: list[RecordedMessage] = []
        #: channel messages edited through PATCH, in order (a message edited twice appears twice)
        self.message_edits: list[RecordedMessage] = []
        self.interactions: dict[int, FakeInteraction] = {}
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.command_syncs = 0
        self.identifies = 0
        self.resumes = 0
        self.connections: list[_Connection] = []
        self._refused_dm_users: set[int] = set()
        #: uploaded attachments' bytes by their CDN URL (``message.payload["attachments"][i]["url"]``)
        self.uploads: dict[str, bytes] = {}
        #: what the loopback CDN serves, by path (``/attachments/<id>/<filename>``): uploads and the
        #: files members attach to slash commands
        self.cdn: dict[str, bytes] = {}
        #: CDN downloads, by path, in order (to show a file was or wasn't fetched)
        self.cdn_fetches: list[str] = []
        #: Discord checks an enforced nonce against the same author's messages of the past few
        #: minutes and answers a repeat with the earlier message, creating nothing
        self.nonce_window_s = 180.0
        self.nonce_repeats = 0
        self._nonces: dict[tuple[int, str], tuple[float, RecordedMessage]] = {}
        self._faults: list[_Fault] = []
        self._sessions: dict[str, _Session] = {}
        self._changed = asyncio.Condition()
        self._taken: set[int] = set()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/resume-gateway", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._api)
        app.router.add_get("/attachments/{tail:.*}", self._cdn)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def stop(self) -> None:
        for connection in list(self.connections):
            if not connection.ws.closed:
                await connection.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def resume_gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/resume-gateway"

    # ------------------------------------------------------------------ guild setup

    def add_role(self, name: str, permissions: int = 0, *, position: int = 1) -> FakeRole:
        """A role. Discord puts a new role at the bottom (position 1, just above @everyone) and moves
        the others up; ``position`` puts it higher (above the bot's own role, say)."""
        for other in self.roles.values():
            if other.id != self.guild_id and other.position >= position:
                other.position += 1
                self._announce("GUILD_ROLE_UPDATE", {"guild_id": str(self.guild_id), "role": other.payload()})
        role = FakeRole(self._ids.next(), name, permissions, position=position)
        self.roles[role.id] = role
        self._announce("GUILD_ROLE_CREATE", {"guild_id": str(self.guild_id), "role": role.payload()})
        return role

    def add_member(self, username: str, *, roles: list[FakeRole] | None = None, bot: bool = False) -> FakeMember:
        user = FakeUser(self._ids.next(), username, bot=bot)
        member = FakeMember(user, [role.id for role in roles or []])
        self.users[user.id] = user
        self.members[user.id] = member
        add = {"guild_id": str(self.guild_id), **member.payload()}
        self._announce("GUILD_MEMBER_ADD", add, members_intent=True)
        return member

    def add_channel(self, name: str) -> FakeChannel:
        channel = FakeChannel(self._ids.next(), name, 0, self.guild_id)
        self.channels[channel.id] = channel
        self._announce("CHANNEL_CREATE", channel.payload())
        return channel

    def add_thread(self, parent: FakeChannel, name: str) -> FakeChannel:
        thread = FakeChannel(self._ids.next(), name, 11, self.guild_id, parent_id=parent.id)
        self.channels[thread.id] = thread
        self._announce("THREAD_CREATE", {**thread.payload(), "newly_created": True})
        return thread

    def permissions_of(self, user_id: int) -> int:
        """Guild-level permissions, computed the way Discord does (owner and Administrator get all)."""
        if user_id == self.owner.id:
            return ALL_PERMISSIONS
        member = self.members[user_id]
        value = self.roles[self.guild_id].permissions
        for role_id in member.roles:
            value |= self.roles[role_id].permissions
        return ALL_PERMISSIONS if value & PERM_ADMINISTRATOR else value

    def set_overwrite(self, channel: FakeChannel, member: FakeMember, *, allow: int = 0, deny: int = 0) -> None:
        """A member permission overwrite on one channel (Discord's "Edit channel → Permissions")."""
        channel.overwrites[member.user.id] = (allow, deny)
        self._announce("CHANNEL_UPDATE", channel.payload())

    def channel_permissions_of(self, user_id: int, channel: FakeChannel) -> int:
        """What Discord sends as ``member.permissions`` in an interaction: resolved for the channel."""
        base = self.permissions_of(user_id)
        if base & PERM_ADMINISTRATOR:
            return base
        allow, deny = channel.overwrites.get(user_id, (0, 0))
        return (base & ~deny) | allow

    def add_guild(self, name: str, *, owner: str | FakeUser = "stranger") -> FakeGuild:
        """Another server with the bot in it, owned by a new user of that name (no member of the home
        server), or by a user who is also a member of the home server."""
        user = owner if isinstance(owner, FakeUser) else FakeUser(self._ids.next(), owner)
        guild_id = self._ids.next()
        channel = FakeChannel(self._ids.next(), "lobby", 0, guild_id)
        guild = FakeGuild(guild_id, name, FakeMember(user), FakeMember(self.bot_user), channel)
        guild.roles[guild_id] = FakeRole(guild_id, "@everyone", DEFAULT_EVERYONE_PERMISSIONS, position=0)
        self.users[user.id] = user
        self.guilds[guild_id] = guild
        self.channels[channel.id] = channel
        self._announce("GUILD_CREATE", self.foreign_payload(guild))
        return guild

    def add_guild_role(self, guild: FakeGuild, name: str, permissions: int = 0) -> FakeRole:
        role = FakeRole(self._ids.next(), name, permissions, position=len(guild.roles))
        guild.roles[role.id] = role
        self._announce("GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": role.payload()})
        return role

    def foreign_payload(self, guild: FakeGuild) -> dict[str, Any]:
        """GUILD_CREATE for another server: the home server's shape with that server's own data."""
        return {
            **self.guild_payload(all_members=False),
            "id": str(guild.id),
            "name": guild.name,
            "owner_id": str(guild.owner.user.id),
            "roles": [role.payload() for role in guild.roles.values()],
            "member_count": 2,
            "members": [guild.bot.payload()],
            "channels": [guild.channel.payload()],
            "threads": [],
        }

    def guild_payload(self, *, all_members: bool = True) -> dict[str, Any]:
        """The guild as GUILD_CREATE carries it; without the GUILD_MEMBERS intent only the bot is listed."""
        members = self.members.values() if all_members else [self.members[self.bot_user.id]]
        return {
            "id": str(self.guild_id),
            "name": self.guild_name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(self.owner.id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [role.payload() for role in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "joined_at": "2024-01-01T00:00:00+00:00",
            "large": False,
            "unavailable": False,
            "member_count": len(self.members),
            "voice_states": [],
            "members": [member.payload() for member in members],
            "channels": [c.payload() for c in self.channels.values() if c.type == 0],
            "threads": [c.payload() for c in self.channels.values() if c.type in (10, 11, 12)],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    # ------------------------------------------------------------------ faults

    def fail_next(
        self,
        route: str,
        *,
        status: int,
        count: int = 1,
        retry_after: float = 0.5,
        is_global: bool = False,
        code: int = 0,
        message: str = "",
    ) -> None:
        """Answer the next ``count`` requests matching ``route`` with ``status``.

        ``route`` is ``METHOD /path`` relative to ``/api/v10``; ``{name}`` matches one path segment
        and ``*`` anything, e.g. ``POST /channels/{channel_id}/messages`` or ``POST /interactions/*``.
        A 429 carries ``retry_after`` in the body and Discord's bucket headers.
        """
        self._faults.append(_Fault(_route_regex(route), count, status, retry_after, is_global, code, message))

    def rate_limit_next(self, route: str, *, retry_after: float = 0.5, count: int = 1, is_global: bool = False) -> None:
        self.fail_next(route, status=429, count=count, retry_after=retry_after, is_global=is_global)

    def refuse_dms(self, user_id: int) -> None:
        """Messages to this user's DM channel fail with 403 / 50007, like a user who closed DMs."""
        self._refused_dm_users.add(user_id)

    async def drop_gateway(self, code: int = 4000) -> None:
        """Close the bot's gateway socket. The session stays resumable; events queue until RESUME."""
        session = self._current
        if session is None or session.connection is None:
            raise RuntimeError("the bot is not connected to the gateway")
        connection = session.connection
        session.connection = None
        await connection.ws.close(code=code, message=b"fake: dropped")
        await self._notify()

    @property
    def connected(self) -> bool:
        return self._current is not None and self._current.connection is not None

    async def wait_connected(self, *, resumes: int | None = None, timeout: float = WAIT_S) -> None:
        """Until the bot has a live gateway session (and, if given, has resumed that many times)."""
        await self._wait(lambda: self.connected and (resumes is None or self.resumes >= resumes), timeout)

    # ------------------------------------------------------------------ waiting

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _wait(self, check: Callable[[], Any], timeout: float) -> Any:
        async def waiter() -> Any:
            async with self._changed:
                while True:
                    result = check()
                    if result:
                        return result
                    await self._changed.wait()

        return await asyncio.wait_for(waiter(), timeout)

    async def wait_for_message(
        self,
        channel_id: int,
        *,
        timeout: float = WAIT_S,
        predicate: Callable[[RecordedMessage], bool] | None = None,
    ) -> RecordedMessage:
        """The oldest message in ``channel_id`` (matching ``predicate``) no earlier wait returned."""

        def find() -> RecordedMessage | None:
            for message in self.messages:
                if message.id in self._taken or message.channel_id != channel_id:
                    continue
                if predicate is None or predicate(message):
                    self._taken.add(message.id)
                    return message
            return None

        result: RecordedMessage = await self._wait(find, timeout)
        return result

    async def wait_for_dm(self, user_id: int, *, timeout: float = WAIT_S) -> RecordedMessage:
        def find() -> RecordedMessage | None:
            for message in self.messages:
                channel = self.channels.get(message.channel_id)
                if message.id in self._taken or channel is None or channel.type != 1:
                    continue
                if channel.recipient is not None and channel.recipient.id == user_id:
                    self._taken.add(message.id)
                    return message
            return None

        result: RecordedMessage = await self._wait(find, timeout)
        return result

    async def wait_for_response(self, interaction: FakeInteraction, *, timeout: float = WAIT_S) -> dict[str, Any]:
        """The first callback the bot sent for ``interaction`` (type 4 message, 5 defer, 8 choices...)."""
        result: dict[str, Any] = await self._wait(lambda: interaction.response, timeout)
        return result

    async def wait_for_reply(self, interaction: FakeInteraction, *, timeout: float = WAIT_S) -> RecordedMessage:
        """The message the user finally sees: the immediate reply, or the edited/followed-up one after a defer."""

        def find() -> RecordedMessage | None:
            response = interaction.response
            if response is None:
                return None
            if response["type"] in (4, 7) and interaction.original is not None:
                return interaction.original
            if response["type"] in (5, 6):
                original = interaction.original
                if original is not None and original.payload.get("edited_timestamp"):
                    return original
                if interaction.followups:
                    return interaction.followups[0]
            return None

        result: RecordedMessage = await self._wait(find, timeout)
        return result

    async def wait_for_request(
        self, route: str, *, timeout: float = WAIT_S, status: int | None = None
    ) -> RecordedRequest:
        pattern = _route_regex(route)

        def find() -> RecordedRequest | None:
            for request in self.requests:
                if pattern.match(f"{request.method} {request.path}") and status in (None, request.status):
                    return request
            return None

        result: RecordedRequest = await self._wait(find, timeout)
        return result

    def requests_to(self, route: str) -> list[RecordedRequest]:
        pattern = _route_regex(route)
        return [r for r in self.requests if pattern.match(f"{r.method} {r.path}")]

    # ------------------------------------------------------------------ injecting interactions

    def find_command(self, name: str) -> dict[str, Any] | None:
        """A synced top-level command by name (guild commands first), as the bot registered it."""
        for command in [*self.guild_commands.get(self.guild_id, []), *self.global_commands]:
            if command["name"] == name and command.get("type", 1) == 1:
                return command
        return None

    async def send_command(
        self,
        name: str,
        values: Mapping[str, Any] | None = None,
        *,
        user: FakeMember | None = None,
        channel: FakeChannel | None = None,
        focused: str | None = None,
    ) -> FakeInteraction:
        """A slash command (type 2), or with ``focused`` an autocomplete request (type 4).

        ``name`` may be ``feed bind`` (group + subcommand). Options are typed from the synced
        declaration when there is one (a user option sends the id and ``resolved`` data, as Discord does;
        an attachment option's value is ``(filename, bytes)``: the file goes on the loopback CDN and
        into ``resolved.attachments``).
        """
        path = name.split()
        command = self.find_command(path[0])
        schema: list[dict[str, Any]] = list(command.get("options", [])) if command else []
        resolved: dict[str, Any] = {}
        leaf: list[dict[str, Any]] = []
        for value_name, value in (values or {}).items():
            declared = next((o for o in self._leaf_schema(schema, path[1:]) if o["name"] == value_name), None)
            kind = declared["type"] if declared else _OPTION_TYPES.get(type(value), 3)
            option: dict[str, Any] = {"name": value_name, "type": kind, "value": value}
            if kind == 11:  # an attachment: (filename, bytes) or (filename, bytes, content type)
                item = self.add_attachment(*value)
                option["value"] = item["id"]
                resolved.setdefault("attachments", {})[item["id"]] = item
            if kind in (6, 9) and not isinstance(value, str):
                member = value if isinstance(value, FakeMember) else self.members[int(value)]
                option["value"] = str(member.user.id)
                resolved.setdefault("users", {})[str(member.user.id)] = member.user.payload()
                member_data = member.payload(self.permissions_of(member.user.id))
                member_data.pop("user")
                resolved.setdefault("members", {})[str(member.user.id)] = member_data
            if value_name == focused:
                option["focused"] = True
                option["value"] = str(value)
            leaf.append(option)
        options = leaf
        for depth in range(len(path) - 1, 0, -1):
            sub_schema = self._leaf_schema(schema, path[1:depth])
            declared = next((o for o in sub_schema if o["name"] == path[depth]), None)
            kind = declared["type"] if declared else (1 if depth == len(path) - 1 else 2)
            options = [{"name": path[depth], "type": kind, "options": options}]
        data: dict[str, Any] = {"name": path[0], "type": 1, "options": options}
        if command is not None:
            data["id"] = command["id"]
            if command.get("guild_id"):
                data["guild_id"] = command["guild_id"]
        else:
            data["id"] = str(self._ids.next())
        if resolved:
            data["resolved"] = resolved
        return await self._send_interaction(4 if focused else 2, data, user=user, channel=channel)

    async def send_autocomplete(
        self,
        name: str,
        values: Mapping[str, Any],
        focused: str,
        *,
        user: FakeMember | None = None,
        channel: FakeChannel | None = None,
    ) -> FakeInteraction:
        return await self.send_command(name, values, user=user, channel=channel, focused=focused)

    async def press_button(
        self,
        message: RecordedMessage,
        custom_id: str,
        *,
        user: FakeMember | None = None,
    ) -> FakeInteraction:
        """A component interaction (type 3) for a button on a message the bot sent."""
        if not any(button.get("custom_id") == custom_id for button in message.buttons()):
            raise AssertionError(f"no button {custom_id!r} on message {message.id}")
        channel = self.channels.get(message.channel_id)
        data = {"custom_id": custom_id, "component_type": 2}
        return await self._send_interaction(3, data, user=user, channel=channel, message=message.payload)

    async def submit_modal(self, shown: FakeInteraction, values: Mapping[str, str]) -> FakeInteraction:
        """The user fills in the modal the bot answered ``shown`` with and submits it (type 5).

        Inputs not in ``values`` are sent empty, as Discord does. Like Discord's client, refuses to
        submit an empty required input or one over its ``max_length``.
        """
        response = shown.response
        if response is None or response["type"] != 9:
            raise AssertionError("the bot did not answer that interaction with a modal")
        modal = response["data"]
        unknown = set(values) - {item["custom_id"] for item in modal_inputs(modal)}
        if unknown:
            raise AssertionError(f"the modal has no input {sorted(unknown)[0]!r}")
        components = []
        for wrapper, item in zip(modal["components"], modal_inputs(modal), strict=True):
            value = values.get(item["custom_id"], "")
            if item.get("required", True) and not value:
                raise AssertionError(f"{item['custom_id']!r} is required")
            if len(value) > int(item.get("max_length") or 4000):
                raise AssertionError(f"{item['custom_id']!r} is longer than its max_length")
            text_input = {"type": 4, "custom_id": item["custom_id"], "value": value}
            if wrapper.get("type") == 18:
                components.append({"type": 18, "component": text_input})
            else:
                components.append({"type": 1, "components": [text_input]})
        member = self.members[int(shown.payload["member"]["user"]["id"])]
        channel = self.channels.get(int(shown.payload["channel_id"]))
        data = {"custom_id": modal["custom_id"], "components": components}
        return await self._send_interaction(5, data, user=member, channel=channel)

    @staticmethod
    def _leaf_schema(schema: list[dict[str, Any]], path: list[str]) -> list[dict[str, Any]]:
        for part in path:
            found = next((o for o in schema if o["name"] == part), None)
            schema = list(found.get("options", [])) if found else []
        return schema

    async def _send_interaction(
        self,
        kind: int,
        data: dict[str, Any],
        *,
        user: FakeMember | None,
        channel: FakeChannel | None,
        message: dict[str, Any] | None = None,
    ) -> FakeInteraction:
        member = user or self.members[self.owner.id]
        where = channel or self.general
        interaction_id = self._ids.next()
        token = "itoken-" + secrets.token_urlsafe(24)
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "channel_id": str(where.id),
            "token": token,
            "version": 1,
            "app_permissions": str(ALL_PERMISSIONS),
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        payload.update(self._interaction_place(member, where))
        if message is not None:
            payload["message"] = message
        interaction = FakeInteraction(interaction_id, token, kind, payload)
        self.interactions[interaction_id] = interaction
        await self.dispatch("INTERACTION_CREATE", payload)
        return interaction

    def _interaction_place(self, member: FakeMember, where: FakeChannel) -> dict[str, Any]:
        """Where an interaction comes from: the home server, another server, or a DM (no guild, a
        ``user`` instead of a ``member``). ``member.permissions`` is resolved for the channel."""
        channel_data = where.payload()
        if where.type == 1:
            return {"user": member.user.payload(), "channel": channel_data, "context": 1,
                    "authorizing_integration_owners": {"0": str(self.guild_id)}}  # fmt: skip
        other = self.guilds.get(where.guild_id or 0)
        if other is not None:
            # a membership of that server (none of the home server's roles); its owner has every permission
            is_owner = member.user.id == other.owner.user.id
            member = other.owner if is_owner else FakeMember(member.user)
            permissions = ALL_PERMISSIONS if is_owner else DEFAULT_EVERYONE_PERMISSIONS
            guild_id = other.id
        else:
            permissions = self.channel_permissions_of(member.user.id, where)
            guild_id = self.guild_id
        channel_data["permissions"] = str(permissions)
        return {
            "guild_id": str(guild_id),
            "guild": {"id": str(guild_id), "locale": "en-US", "features": []},
            "guild_locale": "en-US",
            "channel": channel_data,
            "member": member.payload(permissions),
            "authorizing_integration_owners": {"0": str(guild_id)},
            "context": 0,
        }

    def dm_channel(self, user: FakeUser) -> FakeChannel:
        """The DM channel between ``user`` and the bot (for interactions sent from a DM)."""
        for channel in self.channels.values():
            if channel.type == 1 and channel.recipient is user:
                return channel
        channel = FakeChannel(self._ids.next(), "", 1, recipient=user)
        self.channels[channel.id] = channel
        return channel

    # ------------------------------------------------------------------ gateway

    async def dispatch(self, event: str, data: Any) -> None:
        """Send a DISPATCH to the bot's session; queued for replay if it is disconnected."""
        session = self._current
        if session is None:
            raise RuntimeError("no gateway session: the bot has not identified yet")
        await self._session_dispatch(session, event, data)

    def _enqueue(self, session: _Session, event: str, data: Any) -> None:
        """Give the event its sequence number now, so events keep the order they happened in."""
        session.seq += 1
        session.events.append((session.seq, json.dumps({"op": 0, "s": session.seq, "t": event, "d": data})))

    async def _flush(self, session: _Session) -> None:
        """Send the live connection every event it has not had yet, in sequence order."""
        async with session.lock:
            connection = session.connection
            if connection is None:
                return
            for seq, frame in session.events:
                if seq <= connection.sent_seq:
                    continue
                try:
                    await connection.send(frame)
                except (ConnectionResetError, RuntimeError):
                    return
                connection.sent_seq = seq

    async def _session_dispatch(self, session: _Session, event: str, data: Any) -> None:
        self._enqueue(session, event, data)
        await self._flush(session)

    def _announce(self, event: str, data: Any, *, members_intent: bool = False) -> None:
        """A guild change made by a test after the bot connected: tell the bot, as Discord would."""
        session = self._current
        if session is None or (members_intent and not session.intents & INTENT_GUILD_MEMBERS):
            return
        self._enqueue(session, event, data)
        task = asyncio.get_running_loop().create_task(self._flush(session))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        compress = request.query.get("compress")
        connection = _Connection(ws, request.path, compress if compress == "zlib-stream" else None)
        self.connections.append(connection)
        session: _Session | None = None
        await connection.send(
            json.dumps({"op": 10, "s": None, "t": None, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        )
        try:
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    continue
                frame = json.loads(message.data)
                op = frame.get("op")
                if op == 1:
                    await connection.send(json.dumps({"op": 11, "s": None, "t": None, "d": None}))
                elif op == 2:
                    session = await self._identify(connection, frame["d"])
                    if session is None:
                        break
                elif op == 6:
                    session = await self._resume(connection, frame["d"])
                elif op == 8:
                    await self._send_member_chunk(connection, frame["d"])
        finally:
            if session is not None and session.connection is connection:
                session.connection = None
            await self._notify()
        return ws

    async def _identify(self, connection: _Connection, data: dict[str, Any]) -> _Session | None:
        if data.get("token") != self.token:
            await connection.ws.close(code=4004, message=b"Authentication failed.")
            return None
        self.identifies += 1
        session = _Session(secrets.token_hex(16), self.bot_user.id, int(data.get("intents") or 0))
        self._sessions[session.id] = session
        session.connection = connection
        self._current = session
        ready = {
            "v": 10,
            "user": {**self.bot_user.payload(), "verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(gid), "unavailable": True} for gid in [self.guild_id, *self.guilds]],
            "session_id": session.id,
            "resume_gateway_url": self.resume_gateway_url,
            "session_type": "normal",
            "shard": [0, 1],
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "_trace": ["fake-discord"],
        }
        await self._session_dispatch(session, "READY", ready)
        guild = self.guild_payload(all_members=bool(session.intents & INTENT_GUILD_MEMBERS))
        await self._session_dispatch(session, "GUILD_CREATE", guild)
        for other in self.guilds.values():
            await self._session_dispatch(session, "GUILD_CREATE", self.foreign_payload(other))
        await self._notify()
        return session

    async def _resume(self, connection: _Connection, data: dict[str, Any]) -> _Session | None:
        session = self._sessions.get(str(data.get("session_id")))
        if session is None or data.get("token") != self.token:
            await connection.send(json.dumps({"op": 9, "s": None, "t": None, "d": False}))
            return None
        async with session.lock:
            session.connection = connection
            connection.sent_seq = int(data.get("seq") or 0)  # replay what the client missed
        self._enqueue(session, "RESUMED", {"_trace": ["fake-discord"]})
        await self._flush(session)
        self._current = session
        self.resumes += 1
        await self._notify()
        return session

    async def _send_member_chunk(self, connection: _Connection, data: dict[str, Any]) -> None:
        chunk = {
            "guild_id": str(self.guild_id),
            "members": [member.payload() for member in self.members.values()],
            "chunk_index": 0,
            "chunk_count": 1,
            "nonce": data.get("nonce"),
        }
        session = self._current
        if session is not None and session.connection is connection:
            await self._session_dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)

    # ------------------------------------------------------------------ REST plumbing

    def _rate_headers(self, route: str, *, remaining: int = 49, reset_after: float = 1.0) -> dict[str, str]:
        bucket = hashlib.sha1(route.encode()).hexdigest()[:16]
        return {
            "X-RateLimit-Limit": "50",
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket,
            "Via": "1.1 google",
        }

    async def _api(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        method = request.method
        body = await self._read_body(request)
        route, handler, params, needs_auth = self._resolve(method, path)
        status = 200
        fault: _Fault | None = None
        try:
            fault = self._take_fault(f"{method} {path}")
            if fault is not None:
                return self._fault_response(fault, route, method, path, body)
            if needs_auth and request.headers.get("Authorization") != f"Bot {self.token}":
                raise DiscordError(401, 0, "401: Unauthorized")
            if handler is None:
                raise DiscordError(404, 0, "404: Not Found")
            result = await handler(request, body, **params)
            if result is None:
                status = 204
                return web.Response(status=204, headers=self._rate_headers(route))
            return _json_response(result, headers=self._rate_headers(route))
        except DiscordError as error:
            status = error.status
            payload: dict[str, Any] = {"message": error.message, "code": error.code}
            if error.errors is not None:
                payload["errors"] = error.errors
            return _json_response(payload, status=error.status, headers=self._rate_headers(route))
        finally:
            if fault is None:
                self.requests.append(RecordedRequest(method, path, route, status, time.monotonic(), body))
            await self._notify()

    def _take_fault(self, key: str) -> _Fault | None:
        for fault in self._faults:
            if fault.remaining > 0 and fault.pattern.match(key):
                fault.remaining -= 1
                return fault
        return None

    def _fault_response(self, fault: _Fault, route: str, method: str, path: str, body: Any) -> web.StreamResponse:
        self.requests.append(RecordedRequest(method, path, route, fault.status, time.monotonic(), body))
        if fault.status == 429:
            headers = self._rate_headers(route, remaining=0, reset_after=fault.retry_after)
            headers["Retry-After"] = str(max(1, int(fault.retry_after + 0.999)))
            headers["X-RateLimit-Scope"] = "global" if fault.is_global else "user"
            if fault.is_global:
                headers["X-RateLimit-Global"] = "true"
            payload = {
                "message": "You are being rate limited.",
                "retry_after": fault.retry_after,
                "global": fault.is_global,
            }
            if fault.is_global:
                payload["code"] = 0
            return _json_response(payload, status=429, headers=headers)
        payload = {"message": fault.message or f"{fault.status}: fake fault", "code": fault.code}
        return _json_response(payload, status=fault.status, headers=self._rate_headers(route))

    async def _read_body(self, request: web.Request) -> Any:
        if not request.can_read_body:
            return None
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            body: Any = None
            files: dict[str, tuple[str, str, bytes]] = {}
            while True:
                part = await reader.next()
                if part is None:
                    break
                name = getattr(part, "name", None)
                if name == "payload_json":
                    body = json.loads(await part.text())  # type: ignore[union-attr]
                else:
                    data = bytes(await part.read())  # type: ignore[union-attr]
                    filename = getattr(part, "filename", None) or "unknown"
                    content_type = part.headers.get("Content-Type", "application/octet-stream")
                    files[str(name)] = (filename, content_type, data)
            if files and isinstance(body, dict):
                # an interaction callback carries the message under ``data``
                message = body["data"] if isinstance(body.get("data"), dict) and "type" in body else body
                self._attach_uploads(message, files)
            return body
        raw = await request.read()
        return json.loads(raw) if raw else None

    def _attach_uploads(self, body: dict[str, Any], files: Mapping[str, tuple[str, str, bytes]]) -> None:
        """Uploaded ``files[n]`` parts become the message's attachments, as Discord stores them (a CDN
        URL, size, type), and an embed image ``attachment://name`` resolves to that URL. The bytes are
        kept in ``uploads`` by URL."""
        declared = {str(item.get("id")): item for item in body.get("attachments") or [] if isinstance(item, dict)}
        attachments: list[dict[str, Any]] = []
        for part_name, (filename, content_type, data) in files.items():
            index = part_name.removeprefix("files[").removesuffix("]")
            name = str((declared.get(index) or {}).get("filename") or filename)
            item = self.add_attachment(name, data, content_type)
            self.uploads[item["url"]] = data
            attachments.append(item)
        body["attachments"] = attachments
        by_name = {item["filename"]: item["url"] for item in attachments}
        for embed in body.get("embeds") or []:
            image = embed.get("image") or {}
            reference = str(image.get("url") or "")
            if reference.startswith("attachment://") and reference[len("attachment://") :] in by_name:
                image["url"] = by_name[reference[len("attachment://") :]]

    def add_attachment(self, filename: str, data: bytes, content_type: str | None = None) -> dict[str, Any]:
        """A file on the loopback CDN, as Discord describes an attachment (id, name, size, type, URL)."""
        snowflake = self._ids.next()
        path = f"/attachments/{snowflake}/{filename}"
        self.cdn[path] = data
        url = f"http://127.0.0.1:{self.port}{path}"
        return {"id": str(snowflake), "filename": filename, "size": len(data), "url": url, "proxy_url": url,
                "content_type": content_type or "application/octet-stream"}  # fmt: skip

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        """Discord's CDN: attachment bytes, no auth (the URL is the secret)."""
        self.cdn_fetches.append(request.path)
        data = self.cdn.get(request.path)
        if data is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=data, content_type="application/octet-stream")

    _ROUTES: list[tuple[str, str, str, bool]] = [
        # method, template, handler name, needs Bot auth
        ("GET", "/users/@me", "_get_me", True),
        ("GET", "/users/{user_id}", "_get_user", True),
        ("GET", "/oauth2/applications/@me", "_get_application", True),
        ("GET", "/applications/@me", "_get_application", True),
        ("GET", "/gateway/bot", "_get_gateway_bot", True),
        ("GET", "/gateway", "_get_gateway", False),
        ("PUT", "/applications/{app_id}/commands", "_put_global_commands", True),
        ("GET", "/applications/{app_id}/commands", "_get_global_commands", True),
        ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", "_put_guild_commands", True),
        ("GET", "/applications/{app_id}/guilds/{guild_id}/commands", "_get_guild_commands", True),
        ("POST", "/interactions/{interaction_id}/{token}/callback", "_interaction_callback", False),
        ("POST", "/webhooks/{app_id}/{token}", "_create_followup", False),
        ("GET", "/webhooks/{app_id}/{token}/messages/{message_id}", "_get_webhook_message", False),
        ("PATCH", "/webhooks/{app_id}/{token}/messages/{message_id}", "_edit_webhook_message", False),
        ("DELETE", "/webhooks/{app_id}/{token}/messages/{message_id}", "_delete_webhook_message", False),
        ("POST", "/channels/{channel_id}/messages", "_create_message", True),
        ("PATCH", "/channels/{channel_id}/messages/{message_id}", "_edit_message", True),
        ("GET", "/channels/{channel_id}", "_get_channel", True),
        ("POST", "/users/@me/channels", "_create_dm", True),
        ("GET", "/guilds/{guild_id}", "_get_guild", True),
        ("GET", "/guilds/{guild_id}/roles", "_get_roles", True),
        ("GET", "/guilds/{guild_id}/channels", "_get_guild_channels", True),
        ("GET", "/guilds/{guild_id}/members/{user_id}", "_get_member", True),
        ("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", "_add_member_role", True),
        ("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", "_remove_member_role", True),
    ]

    def _resolve(self, method: str, path: str) -> tuple[str, Any, dict[str, str], bool]:
        for route_method, template, name, auth in self._ROUTES:
            if route_method != method:
                continue
            regex = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
            match = re.match(regex, path)
            if match:
                return f"{method} {template}", getattr(self, name), match.groupdict(), auth
        return f"{method} {path}", None, {}, True

    # ------------------------------------------------------------------ REST handlers

    async def _get_me(self, request: web.Request, body: Any) -> dict[str, Any]:
        return {**self.bot_user.payload(), "verified": True, "mfa_enabled": False}

    async def _get_user(self, request: web.Request, body: Any, user_id: str) -> dict[str, Any]:
        user = self.users.get(int(user_id))
        if user is None:
            raise DiscordError(404, 10013, "Unknown User")
        return user.payload()

    async def _get_application(self, request: web.Request, body: Any) -> dict[str, Any]:
        return {
            "id": str(self.application_id),
            "name": self.bot_user.username,
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.owner.payload(),
            "team": None,
            "verify_key": "0" * 64,
            "flags": 0,
            "summary": "",
            "bot": self.bot_user.payload(),
        }

    async def _get_gateway_bot(self, request: web.Request, body: Any) -> dict[str, Any]:
        return {
            "url": self.gateway_url,
            "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1},
        }

    async def _get_gateway(self, request: web.Request, body: Any) -> dict[str, Any]:
        return {"url": self.gateway_url}

    def _store_commands(self, commands: list[dict[str, Any]], guild_id: int | None) -> list[dict[str, Any]]:
        validate_commands(commands)
        stored = []
        for command in commands:
            item = {
                "id": str(self._ids.next()),
                "application_id": str(self.application_id),
                "version": str(self._ids.next()),
                "type": command.get("type", 1),
                "default_member_permissions": command.get("default_member_permissions"),
                "nsfw": command.get("nsfw", False),
                **command,
            }
            item.setdefault("options", [])
            if guild_id is not None:
                item["guild_id"] = str(guild_id)
            stored.append(item)
        self.command_syncs += 1
        return stored

    async def _put_global_commands(self, request: web.Request, body: Any, app_id: str) -> list[dict[str, Any]]:
        self._check_app(app_id)
        self.global_commands = self._store_commands(body or [], None)
        return self.global_commands

    async def _get_global_commands(self, request: web.Request, body: Any, app_id: str) -> list[dict[str, Any]]:
        self._check_app(app_id)
        return self.global_commands

    async def _put_guild_commands(
        self, request: web.Request, body: Any, app_id: str, guild_id: str
    ) -> list[dict[str, Any]]:
        self._check_app(app_id)
        self._check_guild(guild_id)
        stored = self._store_commands(body or [], int(guild_id))
        self.guild_commands[int(guild_id)] = stored
        return stored

    async def _get_guild_commands(
        self, request: web.Request, body: Any, app_id: str, guild_id: str
    ) -> list[dict[str, Any]]:
        self._check_app(app_id)
        self._check_guild(guild_id)
        return self.guild_commands.get(int(guild_id), [])

    def _check_app(self, app_id: str) -> None:
        if app_id != str(self.application_id):
            raise DiscordError(403, 50001, "Missing Access")

    def _check_guild(self, guild_id: str) -> None:
        if guild_id != str(self.guild_id):
            raise DiscordError(403, 50001, "Missing Access")

    def _interaction(self, interaction_id: str, token: str) -> FakeInteraction:
        interaction = self.interactions.get(int(interaction_id)) if interaction_id.isdigit() else None
        if interaction is None or interaction.token != token:
            raise DiscordError(404, 10062, "Unknown interaction")
        return interaction

    def _interaction_by_token(self, app_id: str, token: str) -> FakeInteraction:
        if app_id != str(self.application_id):
            raise DiscordError(404, 10015, "Unknown Webhook")
        for interaction in self.interactions.values():
            if interaction.token == token:
                return interaction
        raise DiscordError(404, 10015, "Unknown Webhook")

    def _message_payload(
        self, channel_id: int, body: Mapping[str, Any], *, kind: int = 0, **extra: Any
    ) -> dict[str, Any]:
        content = body.get("content") or ""
        channel = self.channels.get(channel_id)
        mentioned_roles = [r for r in re.findall(r"<@&(\d+)>", content) if int(r) in self.roles]
        mentioned_users = [
            self.users[int(u)].payload() for u in re.findall(r"<@!?(\d+)>", content) if int(u) in self.users
        ]
        payload: dict[str, Any] = {
            "id": str(self._ids.next()),
            "type": kind,
            "channel_id": str(channel_id),
            "author": self.bot_user.payload(),
            "content": content,
            "embeds": list(body.get("embeds") or []),
            "components": list(body.get("components") or []),
            "attachments": list(body.get("attachments") or []),
            "mentions": mentioned_users,
            "mention_roles": mentioned_roles,
            "mention_everyone": False,
            "pinned": False,
            "tts": bool(body.get("tts", False)),
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "flags": int(body.get("flags") or 0),
        }
        if channel is not None and channel.guild_id is not None:
            payload["guild_id"] = str(channel.guild_id)
        payload.update(extra)
        return payload

    async def _record(self, message: RecordedMessage) -> RecordedMessage:
        self.messages.append(message)
        await self._notify()
        return message

    async def _interaction_callback(
        self, request: web.Request, body: Any, interaction_id: str, token: str
    ) -> dict[str, Any] | None:
        interaction = self._interaction(interaction_id, token)
        if interaction.callbacks:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        kind = int(body["type"])
        data = body.get("data") or {}
        allowed = {2: {4, 5, 9, 10, 12}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}[interaction.type]
        if kind not in allowed:
            raise DiscordError.form("type", "INTERACTION_TYPE_INVALID", "bad type")
        if kind in (4, 7):
            validate_message_payload(data)
        if kind == 9:
            validate_modal_payload(data)
        if kind == 8 and len(data.get("choices") or []) > 25:
            raise DiscordError.form("data.choices", "BASE_TYPE_MAX_LENGTH", "at most 25")
        interaction.callbacks.append(body)
        channel_id = int(interaction.payload["channel_id"])
        response: dict[str, Any] = {
            "interaction": {
                "id": str(interaction.id),
                "type": interaction.type,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(int(data.get("flags") or 0) & EPHEMERAL),
            }
        }
        message_payload: dict[str, Any] | None = None
        if kind in (4, 5):
            message_payload = self._message_payload(
                channel_id,
                data if kind == 4 else {"content": "", "flags": data.get("flags", 0) | (1 << 7)},
                kind=20 if interaction.type == 2 else 19,
                webhook_id=str(self.application_id),
                application_id=str(self.application_id),
                interaction_metadata={
                    "id": str(interaction.id),
                    "type": interaction.type,
                    "user": (interaction.payload.get("member") or interaction.payload)["user"],
                    "authorizing_integration_owners": {"0": str(self.guild_id)},
                },
            )
            interaction.original = RecordedMessage(
                int(message_payload["id"]), channel_id, message_payload, data, "interaction", interaction.id
            )
            if kind == 4:
                await self._record(interaction.original)
        elif kind == 7 and "message" in interaction.payload:
            message_payload = {**interaction.payload["message"], **data, "edited_timestamp": _now_iso()}
            interaction.original = RecordedMessage(
                int(message_payload["id"]), channel_id, message_payload, data, "interaction", interaction.id
            )
            await self._record(interaction.original)
        await self._notify()
        if request.query.get("with_response") not in ("1", "true", "True"):
            return None
        response["interaction"]["response_message_id"] = message_payload["id"] if message_payload else None
        if message_payload is not None:
            response["resource"] = {"type": kind, "message": message_payload}
        return response

    async def _create_followup(self, request: web.Request, body: Any, app_id: str, token: str) -> dict[str, Any] | None:
        interaction = self._interaction_by_token(app_id, token)
        if not interaction.callbacks:
            raise DiscordError(404, 10015, "Unknown Webhook")
        validate_message_payload(body or {})
        channel_id = int(interaction.payload["channel_id"])
        payload = self._message_payload(channel_id, body, webhook_id=str(self.application_id))
        message = RecordedMessage(int(payload["id"]), channel_id, payload, body, "followup", interaction.id)
        interaction.followups.append(message)
        await self._record(message)
        return payload if request.query.get("wait") in ("true", "1", "True") else None

    def _webhook_message(self, interaction: FakeInteraction, message_id: str) -> RecordedMessage:
        if message_id == "@original":
            if interaction.original is None:
                raise DiscordError(404, 10008, "Unknown Message")
            return interaction.original
        for message in interaction.followups:
            if str(message.id) == message_id:
                return message
        raise DiscordError(404, 10008, "Unknown Message")

    async def _get_webhook_message(
        self, request: web.Request, body: Any, app_id: str, token: str, message_id: str
    ) -> dict[str, Any]:
        return self._webhook_message(self._interaction_by_token(app_id, token), message_id).payload

    async def _edit_webhook_message(
        self, request: web.Request, body: Any, app_id: str, token: str, message_id: str
    ) -> dict[str, Any]:
        interaction = self._interaction_by_token(app_id, token)
        message = self._webhook_message(interaction, message_id)
        edited = {**message.payload, **{k: v for k, v in (body or {}).items() if k != "allowed_mentions"}}
        edited["edited_timestamp"] = _now_iso()
        edited["flags"] = int(message.payload.get("flags") or 0) & ~(1 << 7)
        validate_message_payload(edited)
        message.payload = edited
        message.request = {**message.request, **(body or {})}
        if message not in self.messages:
            await self._record(message)
        await self._notify()
        return edited

    async def _delete_webhook_message(
        self, request: web.Request, body: Any, app_id: str, token: str, message_id: str
    ) -> None:
        interaction = self._interaction_by_token(app_id, token)
        message = self._webhook_message(interaction, message_id)
        if message in self.messages:
            self.messages.remove(message)
        return None

    async def _create_message(self, request: web.Request, body: Any, channel_id: str) -> dict[str, Any]:
        channel = self.channels.get(int(channel_id))
        if channel is None:
            raise DiscordError(404, 10003, "Unknown Channel")
        if channel.type == 1 and channel.recipient is not None and channel.recipient.id in self._refused_dm_users:
            raise DiscordError(403, 50007, "Cannot send messages to this user")
        validate_message_payload(body or {})
        nonce = (body or {}).get("nonce")
        if isinstance(nonce, str) and len(nonce) > 25:
            raise DiscordError.form("nonce", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        enforced = nonce is not None and bool((body or {}).get("enforce_nonce"))
        if enforced:
            earlier = self._nonces.get((self.bot_user.id, str(nonce)))
            if earlier is not None and time.monotonic() - earlier[0] < self.nonce_window_s:
                self.nonce_repeats += 1
                return earlier[1].payload
        payload = self._message_payload(channel.id, body)
        if nonce is not None:
            payload["nonce"] = nonce
        message = await self._record(RecordedMessage(int(payload["id"]), channel.id, payload, body, "channel"))
        if enforced:
            self._nonces[(self.bot_user.id, str(nonce))] = (time.monotonic(), message)
        return payload

    async def _edit_message(self, request: web.Request, body: Any, channel_id: str, message_id: str) -> dict[str, Any]:
        """Edit a message the bot posted in a channel (a feed post updated); the edit is kept in
        ``message_edits`` and the stored message changes in place."""
        found = next(
            (m for m in self.messages if m.id == int(message_id) and m.channel_id == int(channel_id)), None
        )
        if found is None:
            raise DiscordError(404, 10008, "Unknown Message")
        edited = {**found.payload, **{k: v for k, v in (body or {}).items() if k != "allowed_mentions"}}
        edited["edited_timestamp"] = _now_iso()
        validate_message_payload(edited)
        found.payload = edited
        found.request = {**found.request, **(body or {})}
        self.message_edits.append(found)
        await self._notify()
        return edited

    async def _get_channel(self, request: web.Request, body: Any, channel_id: str) -> dict[str, Any]:
        channel = self.channels.get(int(channel_id))
        if channel is None:
            raise DiscordError(404, 10003, "Unknown Channel")
        return channel.payload()

    async def _create_dm(self, request: web.Request, body: Any) -> dict[str, Any]:
        recipient = self.users.get(int(body["recipient_id"]))
        if recipient is None:
            raise DiscordError.form("recipient_id", "INVALID", "Unknown user")
        for channel in self.channels.values():
            if channel.type == 1 and channel.recipient is recipient:
                return channel.payload()
        channel = FakeChannel(self._ids.next(), "", 1, recipient=recipient)
        self.channels[channel.id] = channel
        return channel.payload()

    async def _get_guild(self, request: web.Request, body: Any, guild_id: str) -> dict[str, Any]:
        self._check_guild(guild_id)
        data = self.guild_payload()
        for key in ("members", "channels", "threads", "voice_states", "presences"):
            data.pop(key)
        return data

    async def _get_roles(self, request: web.Request, body: Any, guild_id: str) -> list[dict[str, Any]]:
        self._check_guild(guild_id)
        return [role.payload() for role in self.roles.values()]

    async def _get_guild_channels(self, request: web.Request, body: Any, guild_id: str) -> list[dict[str, Any]]:
        self._check_guild(guild_id)
        return [c.payload() for c in self.channels.values() if c.guild_id == self.guild_id and c.type == 0]

    def _member(self, guild_id: str, user_id: str) -> FakeMember:
        self._check_guild(guild_id)
        member = self.members.get(int(user_id)) if user_id.isdigit() else None
        if member is None:
            raise DiscordError(404, 10007, "Unknown Member")
        return member

    async def _get_member(self, request: web.Request, body: Any, guild_id: str, user_id: str) -> dict[str, Any]:
        return self._member(guild_id, user_id).payload()

    async def _change_role(self, guild_id: str, user_id: str, role_id: str, add: bool) -> None:
        member = self._member(guild_id, user_id)
        role = int(role_id) if role_id.isdigit() else 0
        if role not in self.roles or role == self.guild_id:
            raise DiscordError(404, 10011, "Unknown Role")
        if not self.permissions_of(self.bot_user.id) & PERM_MANAGE_ROLES or not self._below_bot(self.roles[role]):
            raise DiscordError(403, 50013, "Missing Permissions")
        if add and role not in member.roles:
            member.roles.append(role)
        elif not add and role in member.roles:
            member.roles.remove(role)
        else:
            return
        update = {"guild_id": str(self.guild_id), **member.payload()}
        if self._current is not None and self._current.intents & INTENT_GUILD_MEMBERS:
            await self.dispatch("GUILD_MEMBER_UPDATE", update)

    def _below_bot(self, role: FakeRole) -> bool:
        """Discord lets a bot manage only roles under its highest role (a tie goes to the older role)."""
        top = max((self.roles[r] for r in self.members[self.bot_user.id].roles), key=lambda r: (r.position, -r.id))
        return (role.position, -role.id) < (top.position, -top.id)

    async def _add_member_role(
        self, request: web.Request, body: Any, guild_id: str, user_id: str, role_id: str
    ) -> None:
        await self._change_role(guild_id, user_id, role_id, add=True)
        return None

    async def _remove_member_role(
        self, request: web.Request, body: Any, guild_id: str, user_id: str, role_id: str
    ) -> None:
        await self._change_role(guild_id, user_id, role_id, add=False)
        return None


@contextlib.contextmanager
def point_discord_py_at(fake: FakeDiscord) -> Iterator[None]:
    """Point discord.py's REST base and default gateway at the fake, restoring both afterwards.

    discord.py keeps both as class attributes (``Route.BASE``, ``DiscordWebSocket.DEFAULT_GATEWAY``),
    so this is process-wide while active.
    """
    import discord.gateway
    import discord.http
    import yarl

    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway
