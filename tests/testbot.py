"""A test bot in the style of errbot's ``testbot``: members say command lines, tests read the replies.

``reply = await bot.say(alice, "/laces tip @bob 5")`` runs the line and returns a neutral ``Reply``;
``bot.say(alice, "/lc submit jordan 4 10", attachments=[("a.jpg", data)])`` sends files with it.
``TestBot`` dispatches straight into the engine; ``DiscordTestBot`` sends the line through the real
discord.py client as an INTERACTION_CREATE from the fake gateway, ``TelegramTestBot`` posts it as an
update to the fake Bot API for real python-telegram-bot to poll, and ``SmsTestBot`` posts a signed
Twilio webhook to the real SMS frontend. Each reads back what its fake server received (or the TwiML
answer) as a ``Heard``: a ``Reply`` that also carries the raw message, so one assertion reads the
same on every platform.

Fixtures (tests/conftest.py): ``bot`` and ``make_bot(**sections)`` on each database, ``sqlite_bot``,
``discord_bot`` / ``make_discord_bot``, ``telegram_bot`` / ``make_telegram_bot`` and ``make_sms_bot``
(the platform factories take ``db=database`` to run on each database too).
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from pydantic import ConfigDict, Field

from adapters.discord.frontend import DiscordFrontend, attachment_options
from adapters.sms.frontend import SmsFrontend
from adapters.sms.render import sms_text
from adapters.telegram.frontend import TelegramFrontend
from core.attachments import Attachment, carrying
from core.commands import Command, Param, ParamType, Permission
from core.config import Config
from core.crypto import mask_phone
from core.engine import Engine
from core.identity import Caller
from core.replies import Button, Reply, ReplyField, ReplyImage
from core.storage.database import Database
from core.storage.models import Member as MemberRow
from snpd.app import build_engine
from tests.fakes.discord_api import (
    PERM_ADMINISTRATOR,
    PERM_MANAGE_MESSAGES,
    FakeChannel,
    FakeDiscord,
    FakeMember,
    FakeRole,
    RecordedMessage,
)
from tests.fakes.telegram_api import FakeChat, FakeTelegramAPI, FakeUser, SentMessage
from tests.fakes.twilio_api import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, FakeTwilioAPI, inbound_params, post_webhook

ERROR_TITLE = Reply.error("").title or ""
MakeConfig = Callable[..., Config]
#: files sent with a line: (filename, bytes)
Files = Sequence[tuple[str, bytes]]
SetEnv = Callable[[str, str], None]

#: Telegram has no per-user roles outside groups: these ids are listed in the bot's [permissions].
TELEGRAM_ADMIN_IDS = tuple(range(9001, 9011))
TELEGRAM_MOD_IDS = tuple(range(9101, 9111))


@dataclass(frozen=True)
class Member:
    """A caller handle: who says a line, as the engine sees them and as their platform's fake knows them."""

    name: str
    caller: Caller
    native: Any = None  # a FakeMember on Discord, a FakeUser on Telegram, the phone number on SMS

    @property
    def platform(self) -> str:
        return self.caller.platform

    @property
    def mention(self) -> str:
        return f"@{self.name}"


class Heard(Reply):
    """A reply read back from a platform's fake server; ``raw`` is the message the server recorded."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    raw: Any = Field(default=None, exclude=True)
    #: every photo the platform received, a chart included (so possibly one past a reply's ten)
    images: list[ReplyImage] = Field(default_factory=list)


def is_error(reply: Reply) -> bool:
    """An error reply, whether neutral (its title) or read back as text from a platform (SMS drops the emoji)."""
    return reply.title == ERROR_TITLE or reply.plain_text().startswith((ERROR_TITLE, sms_text(ERROR_TITLE) + "\n"))


class TestBot:
    """The engine with nothing in front of it: lines go to ``engine.dispatch_line``."""

    __test__ = False  # not a test class, whatever its name
    platform: ClassVar[str] = "shell"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.members: dict[str, Member] = {}
        self._ids = itertools.count(1001)

    def member(
        self,
        name: str,
        platform: str | None = None,
        role: Permission = Permission.MEMBER,
        *,
        is_bot: bool = False,
        origin: Mapping[str, object] | None = None,
        external_id: str | None = None,
    ) -> Member:
        """A new caller called ``name``; on this bot's own platform it also exists on the fake server.

        ``origin`` is where they speak from (a serialised target), for commands such as ``/feed bind``;
        ``external_id`` ties the handle to an account made elsewhere (a fake server's user, a phone).
        """
        platform = platform or self.platform
        if platform == self.platform:
            handle = self._native_member(name, role, is_bot=is_bot, external_id=external_id)
        else:
            handle = self._plain_member(name, platform, role, is_bot=is_bot, external_id=external_id)
        if origin is not None:
            handle = Member(name, replace(handle.caller, origin=dict(origin)), handle.native)
        self.members[name] = handle
        return handle

    def __getitem__(self, name: str) -> Member:
        """The member called ``name``, made earlier with ``member``."""
        try:
            return self.members[name]
        except KeyError:
            raise KeyError(f"no member {name!r}: make it first with bot.member({name!r})") from None

    def _who(self, who: Member | str) -> Member:
        return self[who] if isinstance(who, str) else who

    def _plain_member(
        self, name: str, platform: str, role: Permission, *, is_bot: bool, external_id: str | None
    ) -> Member:
        """A caller the engine is handed directly, with no account on any fake server."""
        caller = Caller(platform, external_id or str(next(self._ids)), name, platform_role=role, is_bot=is_bot)
        return Member(name, caller)

    def _native_member(self, name: str, role: Permission, *, is_bot: bool, external_id: str | None) -> Member:
        """A member of this bot's own platform; the shell has no server, so a plain caller."""
        return self._plain_member(name, self.platform, role, is_bot=is_bot, external_id=external_id)

    async def say(self, who: Member | str, line: str, *, attachments: Files = ()) -> Reply:
        """Run ``line`` as ``who`` (a handle, or the name of one), with ``attachments`` sent along as
        (filename, bytes) pairs, and return the reply."""
        with carrying(Attachment.from_bytes(name, data) for name, data in attachments):
            return await self.engine.dispatch_line(self._who(who).caller, line)

    async def ok(self, who: Member | str, line: str, *, attachments: Files = ()) -> Reply:
        """``say``, asserting the reply is not an error."""
        reply = await self.say(who, line, attachments=attachments)
        assert not is_error(reply), f"{line!r} failed: {reply.plain_text()}"
        return reply

    async def fails(self, who: Member | str, line: str, match: str | None = None, *, attachments: Files = ()) -> Reply:
        """``say``, asserting the reply is an error whose text contains ``match`` (a plain substring)."""
        reply = await self.say(who, line, attachments=attachments)
        assert is_error(reply), f"{line!r} did not fail: {reply.plain_text()}"
        if match is not None:
            assert match in reply.plain_text(), f"{match!r} not in {reply.plain_text()!r}"
        return reply

    async def press(self, who: Member | str, reply: Reply, label: str) -> Reply:
        """``who`` presses the action button labelled ``label`` under ``reply``."""
        button = _button(reply, label)
        assert button.action is not None, f"{label!r} is a link button"
        return await self.engine.dispatch_line(self._who(who).caller, button.action)

    async def join(self, *who: Member | str) -> None:
        """Make members known to the engine (a member must have spoken before ``@name`` finds them)."""
        for handle in who:
            await self.engine.identity.resolve(self._who(handle).caller)

    async def resolve(self, who: Member | str) -> MemberRow:
        """The stored member behind a handle, created on first use as a frontend would."""
        return await self.engine.identity.resolve(self._who(who).caller)

    async def member_id(self, who: Member | str) -> int:
        return (await self.resolve(who)).id


def _button(reply: Reply, label: str) -> Button:
    found = next((b for b in reply.buttons if b.label == label), None)
    assert found is not None, f"no button {label!r} in {[b.label for b in reply.buttons]}"
    return found


def _discord_value(param: Param, value: Any, members: Mapping[str, Member]) -> Any:
    """What Discord's client would send for a typed option; values it could not type go as text,
    since the server must not trust the client anyway."""
    if not isinstance(value, str):
        return value
    if param.type is ParamType.MEMBER and value.startswith("@"):
        known = members.get(value[1:])
        return known.native if known is not None and isinstance(known.native, FakeMember) else value
    if param.type is ParamType.BOOLEAN and value.lower() in {"true", "yes", "on", "1", "false", "no", "off", "0"}:
        return value.lower() in {"true", "yes", "on", "1"}
    converters: dict[ParamType, Callable[[str], Any]] = {ParamType.INTEGER: int, ParamType.NUMBER: float}
    convert = converters.get(param.type)
    if convert is None:
        return value
    try:
        return convert(value)
    except ValueError:
        return value


def _file_options(command: Command, attachments: Files) -> dict[str, tuple[str, bytes]]:
    """Files as Discord's client sends them: one attachment option each (``photo1``, ``photo2``…)."""
    if not attachments:
        return {}
    param = command.attachments
    assert param is not None, f"/{command.name} has no attachment options on Discord"
    names = attachment_options(param)
    assert len(attachments) <= len(names), f"/{command.name} takes at most {len(names)} files on Discord"
    return dict(zip(names, attachments, strict=False))


def heard_on_discord(message: RecordedMessage, uploads: Mapping[str, bytes] | None = None) -> Heard:
    """A Discord message read back as a neutral reply: embed title, description, fields and buttons;
    with the fake's ``uploads``, its attached files as ``images`` too."""
    attached = message.payload.get("attachments") or []
    files = [(item["filename"], uploads[item["url"]]) for item in attached if uploads and item.get("url") in uploads]
    embed = message.embeds[0] if message.embeds else {}
    buttons = [
        Button.model_construct(label=b.get("label", ""), url=b["url"], action=None)
        if b.get("url")
        else Button.model_construct(
            label=b.get("label", ""), url=None, action=str(b["custom_id"]).removeprefix("snpd:")
        )
        for b in message.buttons()
    ]
    return Heard(
        title=embed.get("title"),
        text=embed.get("description") or ("" if embed else message.content),
        fields=[
            ReplyField(name=f["name"], value=f["value"], inline=f.get("inline", True)) for f in embed.get("fields", [])
        ],
        footer=(embed.get("footer") or {}).get("text"),
        url=embed.get("url"),
        image_url=(embed.get("image") or {}).get("url"),
        color=embed.get("color"),
        ephemeral=message.ephemeral,
        buttons=buttons,
        images=files,
        raw=message,
    )


def heard_on_telegram(sent: SentMessage, album: Iterable[SentMessage] = ()) -> Heard:
    """A Telegram message read back as a neutral reply: a leading bold line is the title; the photos
    of the ``album`` sent before it are its ``images``."""
    files = [(f"photo{index}.jpg", data) for index, part in enumerate(album, 1) for data in part.uploads]
    title: str | None = None
    text = sent.text
    if sent.raw.startswith("<b>"):
        title, _, text = sent.text.partition("\n")
    buttons = [
        Button.model_construct(label=b.get("text", ""), url=b["url"], action=None)
        if b.get("url")
        else Button.model_construct(label=b.get("text", ""), url=None, action=b.get("callback_data"))
        for b in sent.buttons
    ]
    return Heard(title=title, text=text, buttons=buttons, images=files, raw=sent)


class DiscordTestBot(TestBot):
    """Lines become slash commands sent by the fake Discord gateway to the real discord.py client."""

    platform: ClassVar[str] = "discord"

    def __init__(self, engine: Engine, fake: FakeDiscord, frontend: DiscordFrontend) -> None:
        super().__init__(engine)
        self.fake = fake
        self.frontend = frontend
        self._roles: dict[Permission, FakeRole] = {}
        #: the guild owner: an admin on Discord without any role
        self.owner = Member("owner", Caller("discord", str(fake.owner.id), "owner"), fake.members[fake.owner.id])

    def _native_member(self, name: str, role: Permission, *, is_bot: bool, external_id: str | None) -> Member:
        roles = [] if role is Permission.MEMBER else [self._role(role)]
        if external_id is not None:
            native = self.fake.members[int(external_id)]
        else:
            native = self.fake.add_member(name, roles=roles, bot=is_bot)
        return Member(name, Caller("discord", str(native.user.id), name, platform_role=role, is_bot=is_bot), native)

    def _role(self, role: Permission) -> FakeRole:
        if role not in self._roles:
            bits = PERM_ADMINISTRATOR if role is Permission.ADMIN else PERM_MANAGE_MESSAGES
            self._roles[role] = self.fake.add_role(f"{role.label}s", bits)
        return self._roles[role]

    async def say(
        self, who: Member | str, line: str, *, attachments: Files = (), channel: FakeChannel | None = None
    ) -> Reply:
        who = self._who(who)
        if who.platform != self.platform:
            return await super().say(who, line, attachments=attachments)
        command, words, named = self.engine.registry.parse(line)
        values = self._values(command, command.raw_from_words(words, named)) | _file_options(command, attachments)
        interaction = await self.fake.send_command(command.name, values, user=who.native, channel=channel)
        return heard_on_discord(await self.fake.wait_for_reply(interaction), self.fake.uploads)

    def _values(self, command: Command, raw: Mapping[str, Any]) -> dict[str, Any]:
        params = {p.name: p for p in command.params}
        return {name: _discord_value(params[name], value, self.members) if name in params else value
                for name, value in raw.items()}  # fmt: skip

    async def press(self, who: Member | str, reply: Reply, label: str) -> Reply:
        who = self._who(who)
        if who.platform != self.platform or not isinstance(reply, Heard):
            return await super().press(who, reply, label)
        button = _button(reply, label)
        press = await self.fake.press_button(reply.raw, f"snpd:{button.action}", user=who.native)
        return heard_on_discord(await self.fake.wait_for_reply(press), self.fake.uploads)


class TelegramTestBot(TestBot):
    """Lines become updates queued on the fake Bot API, polled by the real python-telegram-bot."""

    platform: ClassVar[str] = "telegram"

    def __init__(self, engine: Engine, fake: FakeTelegramAPI, frontend: TelegramFrontend) -> None:
        super().__init__(engine)
        self.fake = fake
        self.frontend = frontend
        self._reserved = {Permission.ADMIN: iter(TELEGRAM_ADMIN_IDS), Permission.MOD: iter(TELEGRAM_MOD_IDS)}

    def _native_member(self, name: str, role: Permission, *, is_bot: bool, external_id: str | None) -> Member:
        ids = self._reserved.get(role)
        user_id = int(external_id) if external_id else next(ids) if ids is not None else next(self._ids)
        native = FakeUser(id=user_id, first_name=name.title(), username=name, is_bot=is_bot)
        return Member(name, Caller("telegram", str(user_id), name, is_bot=is_bot), native)

    async def say(
        self,
        who: Member | str,
        line: str,
        *,
        attachments: Files = (),
        chat: FakeChat | None = None,
        topic_id: int | None = None,
        as_documents: bool = False,
    ) -> Reply:
        """Sent in ``who``'s private chat unless ``chat`` is given; the reply is read from the same chat.
        A line without a leading ``/`` is plain text, as a member answering a guided form types it.
        With ``attachments`` the line is the caption of a photo, or of an album of them (of image files
        with ``as_documents``)."""
        who = self._who(who)
        if who.platform != self.platform:
            return await super().say(who, line, attachments=attachments)
        if attachments:
            assert topic_id is None, "photos in forum topics are not simulated"
            self.fake.user_photos(who.native, list(attachments), line, chat=chat, as_documents=as_documents)
        else:
            self.fake.user_message(who.native, line, chat=chat, topic_id=topic_id)  # plain text answers a form
        where = chat.id if chat is not None else who.native.id
        return await self.read_reply(where, topic_id)

    async def read_reply(self, chat_id: int, topic_id: int | None = None) -> Heard:
        """The next reply in a chat: its photo album, if it starts with one (caption-less photos), and
        the message after it."""
        album: list[SentMessage] = []
        sent = await self.fake.wait_for_message(chat_id, topic_id=topic_id)
        while sent.method in ("sendMediaGroup", "sendPhoto") and not sent.raw and not sent.buttons:
            album.append(sent)
            sent = await self.fake.wait_for_message(chat_id, topic_id=topic_id)
        return heard_on_telegram(sent, album)

    async def press(self, who: Member | str, reply: Reply, label: str) -> Reply:
        who = self._who(who)
        if who.platform != self.platform or not isinstance(reply, Heard):
            return await super().press(who, reply, label)
        sent: SentMessage = reply.raw
        self.fake.press_button(who.native, sent, _button(reply, label).action)
        return await self.read_reply(sent.chat_id, sent.topic_id)

    async def restart(self) -> None:
        """A new frontend object on the same engine and database, as after a process restart."""
        await self.frontend.stop()
        self.frontend = TelegramFrontend(self.engine)
        self.engine.attach(self.frontend)
        await self.frontend.start()


def sms_messages(xml: str) -> list[str]:
    """The bodies of a TwiML answer, one string per ``<Message>``."""
    root = ET.fromstring(xml)
    assert root.tag == "Response", xml
    return [element.text or "" for element in root.findall("Message")]


class SmsTestBot(TestBot):
    """Lines become signed Twilio webhooks posted to the real SMS frontend; the reply is its TwiML.

    A member's ``native`` is their phone number. ``Heard.raw`` is the list of messages (empty when
    the bot stays silent, as for an opted-out number).
    """

    platform: ClassVar[str] = "sms"

    def __init__(self, engine: Engine, twilio: FakeTwilioAPI, frontend: SmsFrontend, url: str, number: str) -> None:
        super().__init__(engine)
        self.twilio = twilio
        self.frontend = frontend
        self.url = url
        self.number = number

    def _native_member(self, name: str, role: Permission, *, is_bot: bool, external_id: str | None) -> Member:
        phone = external_id or f"+1415555{next(self._ids):04d}"
        return Member(name, Caller("sms", phone, mask_phone(phone), platform_role=role, is_bot=is_bot), phone)

    async def say(self, who: Member | str, line: str, *, attachments: Files = (), **extra: str) -> Reply:
        """Text ``line`` from ``who``'s phone; ``extra`` adds webhook fields (``OptOutType``, ``NumMedia``)."""
        who = self._who(who)
        if who.platform != self.platform:
            return await super().say(who, line, attachments=attachments)
        assert not attachments, "SMS brings no files to the bot (MMS media is not read)"
        return await self._text(who, line, extra)

    async def _text(self, who: Member, line: str, extra: Mapping[str, str]) -> Heard:
        status, xml = await self.post(inbound_params(who.native, line, to=self.number) | dict(extra))
        assert status == 200, xml
        messages = sms_messages(xml)
        return Heard(text="\n".join(messages), raw=messages)

    async def texts(self, who: Member | str, line: str, **extra: str) -> list[str]:
        """``say``, returning the answer as its messages (none when the bot stays silent)."""
        who = self._who(who)
        assert who.platform == self.platform, "only a member on SMS texts"
        messages: list[str] = (await self._text(who, line, extra)).raw
        return messages

    async def post(self, params: dict[str, str], **kwargs: Any) -> tuple[int, str]:
        """A webhook as Twilio would post it (signed unless ``signed=False``): status and body."""
        return await post_webhook(self.url, DEFAULT_AUTH_TOKEN, params, **kwargs)


# ------------------------------------------------------------------------------- starting bots


def _merge(sections: dict[str, dict[str, Any]], name: str, values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``values`` under the test's own settings for section ``name`` (lists are extended)."""
    given = dict(sections.get(name, {}))
    merged = dict(values)
    for key, value in given.items():
        merged[key] = [*merged[key], *value] if isinstance(value, list) and isinstance(merged.get(key), list) else value
    return {**sections, name: merged}


async def _started(config: Config, db: Database | None, commands: Iterable[Command]) -> Engine:
    engine = build_engine(config, db=db)
    engine.registry.add(*commands)
    await engine.start(migrate=db is None)  # a database fixture arrives migrated
    return engine


@asynccontextmanager
async def _serving(bot: DiscordTestBot | TelegramTestBot | SmsTestBot, db: Database | None) -> AsyncIterator[None]:
    """Attach and start the bot's frontend; on exit shut down as ``snpd run`` does: slice workers
    first, then the frontend (whichever one the bot has by then), then storage if the bot owns it."""
    bot.engine.attach(bot.frontend)
    await bot.frontend.start()
    try:
        yield
    finally:
        await bot.engine.stop_work()
        await bot.frontend.stop()
        if db is None:
            await bot.engine.db.dispose()


@asynccontextmanager
async def neutral_bot(
    make_config: MakeConfig, database: Database, *, commands: Iterable[Command] = (), **sections: dict[str, Any]
) -> AsyncIterator[TestBot]:
    """A started engine on ``database`` (already migrated), with ``commands`` added to its registry."""
    engine = build_engine(make_config(**sections), db=database)
    engine.registry.add(*commands)
    await engine.start(migrate=False)
    try:
        yield TestBot(engine)
    finally:
        await engine.stop_work()  # the database fixture disposes storage


@asynccontextmanager
async def discord_bot(
    fake: FakeDiscord,
    make_config: MakeConfig,
    setenv: SetEnv,
    *,
    db: Database | None = None,
    commands: Iterable[Command] = (),
    frontend: Mapping[str, Any] | None = None,
    **sections: dict[str, Any],
) -> AsyncIterator[DiscordTestBot]:
    """An engine serving the real Discord frontend, connected to ``fake``; on its own SQLite file
    unless ``db`` (a migrated database fixture) is given."""
    setenv("DISCORD_TOKEN", fake.token)
    sections = _merge(sections, "discord", {"api_base": fake.api_base, "guild_ids": [fake.guild_id]})
    engine = await _started(make_config(**sections), db, commands)
    options = {"defer_after": 0.5, "guild_ready_timeout": 0.05} | dict(frontend or {})
    bot = DiscordTestBot(engine, fake, DiscordFrontend(engine, **options))
    async with _serving(bot, db):
        yield bot


@asynccontextmanager
async def telegram_bot(
    fake: FakeTelegramAPI,
    make_config: MakeConfig,
    setenv: SetEnv,
    *,
    db: Database | None = None,
    commands: Iterable[Command] = (),
    frontend: Mapping[str, Any] | None = None,
    **sections: dict[str, Any],
) -> AsyncIterator[TelegramTestBot]:
    """An engine serving the real Telegram frontend, polling ``fake``; on its own SQLite file
    unless ``db`` is given. ``frontend`` passes options to ``TelegramFrontend`` (albums are gathered
    for 0.2 s here, not the default second)."""
    setenv("TELEGRAM_TOKEN", fake.token)
    sections = _merge(sections, "telegram", {"api_base": f"http://127.0.0.1:{fake.port}", "poll_timeout": 2})
    roles = {
        "admins": [f"telegram:{n}" for n in TELEGRAM_ADMIN_IDS],
        "mods": [f"telegram:{n}" for n in TELEGRAM_MOD_IDS],
    }
    sections = _merge(sections, "permissions", roles)
    engine = await _started(make_config(**sections), db, commands)
    bot = TelegramTestBot(engine, fake, TelegramFrontend(engine, **({"album_wait": 0.2} | dict(frontend or {}))))
    async with _serving(bot, db):
        yield bot


@asynccontextmanager
async def sms_bot(
    twilio: FakeTwilioAPI,
    make_config: MakeConfig,
    setenv: SetEnv,
    port: int,
    *,
    db: Database | None = None,
    commands: Iterable[Command] = (),
    number: str = "+14155550100",
    **sections: dict[str, Any],
) -> AsyncIterator[SmsTestBot]:
    """An engine serving the real SMS frontend's webhook on ``port``, sending through ``twilio``."""
    setenv("TWILIO_ACCOUNT_SID", DEFAULT_ACCOUNT_SID)
    setenv("TWILIO_AUTH_TOKEN", DEFAULT_AUTH_TOKEN)
    url = f"http://127.0.0.1:{port}/twilio/sms"
    wiring = {"from_number": number, "webhook_port": port, "public_url": url, "api_base": twilio.base_url}
    sections = _merge(sections, "sms", wiring)
    engine = await _started(make_config(**sections), db, commands)
    bot = SmsTestBot(engine, twilio, SmsFrontend(engine), url, number)
    async with _serving(bot, db):
        yield bot
