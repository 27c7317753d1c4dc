"""A local fake of the Telegram Bot API, good enough for the real python-telegram-bot to talk to.

Why a fake server and not mocks: the adapter must be exercised through PTB's real HTTP stack (form
encoding, multipart uploads, long polling, error mapping to ``RetryAfter``/``Forbidden``), so tests
point ``ApplicationBuilder().base_url(fake.base_url)`` at this server on 127.0.0.1.

Wire format, as PTB v22 sends it (``telegram/request/_requestdata.py``): every call is a POST to
``{base_url}{token}/{method}``; parameters are ``application/x-www-form-urlencoded`` where strings go
raw and everything else is JSON-encoded, or ``multipart/form-data`` when a file is uploaded. The fake
also accepts a JSON body and query strings, as the real API does.

The fake is deliberately strict where Telegram is (empty text, 4,096/1,024 limits measured after HTML
parsing, unsupported HTML tags, 64-byte callback data) so rendering bugs fail here, not in production.
It is lenient in one place: an unknown chat id is created on first use instead of "chat not found".
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote

from aiohttp import BodyPartReader, web

from tests.fakes import WAIT_S

JSON = dict[str, Any]

DEFAULT_TOKEN = "123456789:AAFakeTokenForTestsOnly_abcdefghijk"
BOT_ID = 123456789

#: tags Telegram's HTML parse mode accepts (https://core.telegram.org/bots/api#html-style)
ALLOWED_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code", "pre",
    "blockquote", "tg-emoji",
}  # fmt: skip
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
#: getFile refuses files bigger than this (https://core.telegram.org/bots/api#getfile)
MAX_DOWNLOAD = 20 * 1024 * 1024
#: what a bot may upload in one file (https://core.telegram.org/bots/api#senddocument)
MAX_UPLOAD = 50 * 1024 * 1024

#: parameters whose form value is JSON (PTB json-encodes every non-string value)
_JSON_FIELDS = {
    "reply_markup", "entities", "caption_entities", "commands", "scope", "allowed_updates",
    "link_preview_options", "reply_parameters", "media",
}  # fmt: skip
_INT_FIELDS = {"message_thread_id", "message_id", "offset", "limit", "user_id", "cache_time"}
_FLOAT_FIELDS = {"timeout"}
_BOOL_FIELDS = {
    "disable_notification", "protect_content", "show_alert", "drop_pending_updates",
    "disable_web_page_preview", "allow_sending_without_reply", "has_spoiler", "show_caption_above_media",
}  # fmt: skip

@dataclass(frozen=True)
class FakeUser:
    id: int
    first_name: str
    username: str | None = None
    last_name: str | None = None
    is_bot: bool = False
    language_code: str = "en"

    def to_api(self) -> JSON:
        data: JSON = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if not self.is_bot:
            data["language_code"] = self.language_code
        return data


@dataclass(frozen=True)
class FakeChat:
    id: int
    type: str  # private | group | supergroup | channel
    title: str | None = None
    is_forum: bool = False
    username: str | None = None
    first_name: str | None = None

    def to_api(self) -> JSON:
        data: JSON = {"id": self.id, "type": self.type}
        if self.title:
            data["title"] = self.title
        if self.username:
            data["username"] = self.username
        if self.first_name:
            data["first_name"] = self.first_name
        if self.is_forum:
            data["is_forum"] = True
        return data


@dataclass
class ApiCall:
    """One request the bot made, after decoding; ``status`` is the HTTP status the fake answered."""

    method: str
    params: JSON
    files: dict[str, bytes]
    status: int = 200
    #: the uploaded parts' file names, by part name
    filenames: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)


@dataclass
class SentMessage:
    """A message the bot sent (sendMessage/sendPhoto), with both the raw HTML and the parsed text."""

    method: str
    chat_id: int
    topic_id: int | None
    text: str  # what the user sees: HTML parsed, entities unescaped (for photos: the caption)
    raw: str  # exactly what the bot sent in ``text``/``caption``
    params: JSON
    message: JSON  # the Message object returned to the bot
    #: the bytes of photos the bot uploaded with it (sendPhoto, or one item of sendMediaGroup), or of
    #: the file of a sendDocument
    uploads: list[bytes] = field(default_factory=list)
    #: the uploaded file's name (sendDocument)
    filename: str | None = None

    @property
    def message_id(self) -> int:
        return int(self.message["message_id"])

    @property
    def reply_markup(self) -> JSON | None:
        return self.params.get("reply_markup")

    @property
    def buttons(self) -> list[JSON]:
        """Inline keyboard buttons, flattened row by row."""
        markup = self.reply_markup or {}
        return [button for row in markup.get("inline_keyboard", []) for button in row]


class ApiError(Exception):
    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def to_response(self) -> web.Response:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return web.json_response(body, status=self.status)


class _TelegramHTML(HTMLParser):
    """Checks a text the way Telegram's HTML parse mode does and extracts the visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.parts: list[str] = []
        self.error: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.error = self.error or f'Unsupported start tag "{tag}"'
            return
        if tag == "a" and not dict(attrs).get("href"):
            self.error = self.error or 'Tag "a" must have attribute "href"'
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.error = self.error or f'Unmatched end tag "{tag}"'
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def parse_html(raw: str) -> str:
    """The visible text of an HTML-mode message; raises ``ApiError`` 400 like Telegram would."""
    # Telegram rejects a bare "<" or "&" that is not an entity; html.parser silently keeps them.
    index = raw.find("<")
    while index != -1:
        rest = raw[index + 1 : index + 2]
        if not (rest.isalpha() or rest == "/"):
            raise ApiError(400, f"Bad Request: can't parse entities: Unexpected character at byte offset {index}")
        index = raw.find("<", index + 1)
    parser = _TelegramHTML()
    parser.feed(raw)
    parser.close()
    if parser.error is None and parser.stack:
        parser.error = f'Can\'t find end tag corresponding to start tag "{parser.stack[-1]}"'
    if parser.error:
        raise ApiError(400, f"Bad Request: can't parse entities: {parser.error}")
    return "".join(parser.parts)


def utf16_len(text: str) -> int:
    """Telegram measures lengths in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


class FakeTelegramAPI:
    """The fake Bot API server. Use as ``async with FakeTelegramAPI() as fake:``."""

    def __init__(self, *, token: str = DEFAULT_TOKEN, bot_username: str = "snpd_test_bot") -> None:
        self.token = token
        self.bot = FakeUser(id=BOT_ID, first_name="SNPD", username=bot_username, is_bot=True)
        self.port = 0
        self.calls: list[ApiCall] = []
        self.sent: list[SentMessage] = []
        self.edits: list[ApiCall] = []
        self.callback_answers: list[JSON] = []
        self.commands: dict[str, list[JSON]] = {}
        self.chats: dict[int, FakeChat] = {}
        self.member_status: dict[tuple[int, int], str] = {}
        self.users: dict[int, FakeUser] = {}
        self._open_queries: set[str] = set()
        self.blocked_chats: set[int] = set()
        self._faults: dict[str, list[ApiError]] = {}
        self._updates: list[JSON] = []
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._callback_ids = itertools.count(1000)
        self._messages: dict[tuple[int, int], JSON] = {}
        self._consumed: set[int] = set()
        #: files members sent, by file_id: (file_path, bytes); served by getFile and /file/bot…
        self.files: dict[str, tuple[str, bytes]] = {}
        #: file paths the bot downloaded, in order
        self.downloads: list[str] = []
        self._file_ids = itertools.count(1)
        self._media_groups = itertools.count(10_000_000_000)
        self._changed = asyncio.Condition()
        self._closing = False
        self._runner: web.AppRunner | None = None

    # ----------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        """Pass to ``ApplicationBuilder().base_url``: PTB appends the token, then ``/method``."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    async def start(self) -> None:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.*}", self._download)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        """Release held long polls first so shutdown never waits on a ``getUpdates`` timeout."""
        self._closing = True
        async with self._changed:
            self._changed.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegramAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ----------------------------------------------------------------- chats and users

    def private_chat(self, user: FakeUser) -> FakeChat:
        chat = FakeChat(id=user.id, type="private", first_name=user.first_name, username=user.username)
        self.chats[chat.id] = chat
        return chat

    def group(self, chat_id: int, title: str = "Cook Group", *, forum: bool = False) -> FakeChat:
        """A supergroup (ids are negative, ``-100…`` like the real thing); ``forum`` enables topics."""
        chat = FakeChat(id=chat_id, type="supergroup", title=title, is_forum=forum)
        self.chats[chat.id] = chat
        return chat

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """``creator``, ``administrator``, ``member``, ``restricted``, ``left`` or ``kicked``."""
        self.member_status[(chat_id, user_id)] = status

    def _chat(self, chat_id: int) -> FakeChat:
        chat = self.chats.get(chat_id)
        if chat is None:
            if chat_id < 0:
                chat = FakeChat(id=chat_id, type="supergroup", title=f"Chat {chat_id}")
            else:
                chat = FakeChat(id=chat_id, type="private", first_name=f"User {chat_id}")
            self.chats[chat_id] = chat
        return chat

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    # ----------------------------------------------------------------- injecting updates

    def _push(self, update: JSON) -> JSON:
        update["update_id"] = next(self._update_ids)
        self._updates.append(update)
        asyncio.get_running_loop().create_task(self._notify())
        return update

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def user_message(
        self,
        user: FakeUser,
        text: str,
        *,
        chat: FakeChat | None = None,
        topic_id: int | None = None,
        sender_chat: FakeChat | None = None,
    ) -> JSON:
        """A user writes ``text`` in ``chat`` (default: their private chat with the bot).

        A leading ``/command`` (optionally ``/command@botname``) gets a ``bot_command`` entity, which
        is what PTB's ``CommandHandler`` looks for. ``sender_chat`` sends it on behalf of a chat, as an
        anonymous group admin does (Telegram then names ``GroupAnonymousBot`` as the sender). Returns
        the Update as queued.
        """
        chat = chat or self.private_chat(user)
        self.chats.setdefault(chat.id, chat)
        self.users[user.id] = user
        message: JSON = {
            "message_id": self._next_message_id(chat.id),
            "from": user.to_api(),
            "chat": chat.to_api(),
            "date": int(time.time()),
            "text": text,
        }
        if sender_chat is not None:
            message["sender_chat"] = sender_chat.to_api()
        if topic_id is not None:
            message["message_thread_id"] = topic_id
            message["is_topic_message"] = True
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]
        self._messages[(chat.id, message["message_id"])] = message
        return self._push({"message": message})

    def add_file(self, data: bytes, path: str) -> JSON:
        """A file on Telegram's servers; returns its ``file_id``/``file_unique_id``/``file_size``."""
        number = next(self._file_ids)
        file_id = f"BQACAgEAAx{number:08d}"
        self.files[file_id] = (f"{path}/file_{number}", data)
        return {"file_id": file_id, "file_unique_id": f"AgAD{number:06d}", "file_size": len(data)}

    def user_photos(
        self,
        user: FakeUser,
        files: list[tuple[str, bytes]],
        caption: str | None = None,
        *,
        chat: FakeChat | None = None,
        as_documents: bool = False,
    ) -> list[JSON]:
        """A user sends photos: one file is one message, several are an album (one update per file,
        sharing a ``media_group_id``, the caption on the first), as Telegram delivers them.

        A photo comes as Telegram's ``PhotoSize`` list: a small thumbnail (other bytes) first and the
        full picture last. ``as_documents`` sends them as files instead (name and type kept).
        Returns the queued updates."""
        chat = chat or self.private_chat(user)
        self.chats.setdefault(chat.id, chat)
        self.users[user.id] = user
        group = str(next(self._media_groups)) if len(files) > 1 else None
        updates: list[JSON] = []
        for index, (name, data) in enumerate(files):
            message: JSON = {
                "message_id": self._next_message_id(chat.id),
                "from": user.to_api(),
                "chat": chat.to_api(),
                "date": int(time.time()),
            }
            if as_documents:
                kind = "image/png" if name.lower().endswith(".png") else "image/jpeg"
                message["document"] = {**self.add_file(data, "documents"), "file_name": name, "mime_type": kind}
            else:
                thumb = {**self.add_file(b"thumbnail:" + name.encode(), "photos"), "width": 90, "height": 90}
                message["photo"] = [thumb, {**self.add_file(data, "photos"), "width": 1280, "height": 960}]
            if group is not None:
                message["media_group_id"] = group
            if caption and index == 0:
                message["caption"] = caption
                if caption.startswith("/"):
                    command = caption.split(maxsplit=1)[0]
                    message["caption_entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]
            self._messages[(chat.id, message["message_id"])] = message
            updates.append(self._push({"message": message}))
        return updates

    def redeliver(self, update: JSON) -> None:
        """Queue ``update`` again under its own ``update_id``, as Telegram does when a bot restarted
        before confirming it; a poller whose offset is past it (the old process) would skip it."""
        self._updates.append(json.loads(json.dumps(update)))
        self._updates.sort(key=lambda u: u["update_id"])
        asyncio.get_running_loop().create_task(self._notify())

    def command(
        self,
        user: FakeUser,
        line: str,
        *,
        chat: FakeChat | None = None,
        topic_id: int | None = None,
        sender_chat: FakeChat | None = None,
    ) -> JSON:
        """Shorthand: ``fake.command(alice, "/feed bind drops", chat=group)``."""
        text = line if line.startswith("/") else f"/{line}"
        return self.user_message(user, text, chat=chat, topic_id=topic_id, sender_chat=sender_chat)

    def press_button(self, user: FakeUser, sent: SentMessage, data: str | None = None) -> JSON:
        """``user`` presses a callback button under a message the bot sent (first one by default).

        Returns the Update; its ``callback_query.id`` is what ``answerCallbackQuery`` must answer.
        """
        if data is None:
            callbacks = [b["callback_data"] for b in sent.buttons if "callback_data" in b]
            if not callbacks:
                raise AssertionError("that message has no callback buttons")
            data = callbacks[0]
        message = self._messages.get((sent.chat_id, sent.message_id), sent.message)
        self.users[user.id] = user
        query_id = str(next(self._callback_ids))
        self._open_queries.add(query_id)
        query = {
            "id": query_id,
            "from": user.to_api(),
            "message": message,
            "chat_instance": str(abs(sent.chat_id) * 7 + 1),
            "data": data,
        }
        return self._push({"callback_query": query})

    # ----------------------------------------------------------------- faults

    def fail_next(self, method: str, times: int = 1, *, retry_after: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer 429 Too Many Requests with ``retry_after``."""
        error = ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})
        self._faults.setdefault(method, []).extend([error] * times)

    def fail_next_with(self, method: str, status: int, description: str, times: int = 1) -> None:
        """Any other error, e.g. ``fail_next_with("sendMessage", 400, "Bad Request: chat not found")``."""
        self._faults.setdefault(method, []).extend([ApiError(status, description)] * times)

    def block_chat(self, chat_id: int) -> None:
        """The user blocked the bot: every send to this chat answers 403."""
        self.blocked_chats.add(chat_id)

    # ----------------------------------------------------------------- observing

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = WAIT_S) -> Any:
        """Wait until ``predicate()`` returns something truthy and return it."""

        async def check() -> Any:
            async with self._changed:
                while not (result := predicate()):
                    await self._changed.wait()
                return result

        return await asyncio.wait_for(check(), timeout)

    async def wait_for_message(
        self,
        chat_id: int,
        timeout: float = WAIT_S,
        *,
        topic_id: int | None = None,
        any_topic: bool = False,
        contains: str | None = None,
    ) -> SentMessage:
        """The oldest message to ``chat_id`` not yet returned by an earlier call; waits if none yet.

        Topic must match (``None`` = the chat itself) unless ``any_topic``. Consuming messages in
        order lets a test read a conversation step by step.
        """

        def find() -> SentMessage | None:
            for index, sent in enumerate(self.sent):
                if index in self._consumed or sent.chat_id != chat_id:
                    continue
                if not any_topic and sent.topic_id != topic_id:
                    continue
                if contains is not None and contains not in sent.text:
                    continue
                self._consumed.add(index)
                return sent
            return None

        try:
            result: SentMessage = await self.wait_for(find, timeout)
        except TimeoutError:
            seen = [(s.chat_id, s.topic_id, s.text[:60]) for s in self.sent]
            raise AssertionError(
                f"no message to chat {chat_id} topic {topic_id} within {timeout}s; sent: {seen}"
            ) from None
        return result

    async def wait_for_call(self, method: str, timeout: float = WAIT_S, *, after: int = 0) -> ApiCall:
        """The first successful call of ``method`` with index >= ``after`` in ``calls``."""

        def find() -> ApiCall | None:
            return next((c for c in self.calls[after:] if c.method == method and c.status == 200), None)

        try:
            result: ApiCall = await self.wait_for(find, timeout)
        except TimeoutError:
            raise AssertionError(f"no successful {method} within {timeout}s") from None
        return result

    def messages_to(self, chat_id: int, *, topic_id: int | None = None, any_topic: bool = True) -> list[SentMessage]:
        return [s for s in self.sent if s.chat_id == chat_id and (any_topic or s.topic_id == topic_id)]

    def my_commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """What ``setMyCommands`` stored for a scope (default scope when ``None``)."""
        return self.commands.get(self._scope_key({"scope": scope, "language_code": language_code}), [])

    def calls_of(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method]

    @property
    def pending_updates(self) -> int:
        return len(self._updates)

    # ----------------------------------------------------------------- HTTP

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return ApiError(401, "Unauthorized").to_response()
        method = request.match_info["method"]
        try:
            params, files, filenames = await self._read_params(request)
        except ApiError as error:
            self.calls.append(ApiCall(method=method, params={}, files={}, status=error.status))
            return error.to_response()
        call = ApiCall(method=method, params=params, files=files, filenames=filenames)
        self.calls.append(call)
        try:
            handler = getattr(self, f"_api_{method}", None)
            if handler is None:
                raise ApiError(404, "Not Found")
            faults = self._faults.get(method)
            if faults:
                raise faults.pop(0)
            result = await handler(params, files)
        except ApiError as error:
            call.status = error.status
            await self._notify()
            return error.to_response()
        await self._notify()
        return web.json_response({"ok": True, "result": result})

    async def _download(self, request: web.Request) -> web.StreamResponse:
        """``/file/bot<token>/<file_path>``: the bytes of a file ``getFile`` described."""
        if request.match_info["token"] != self.token:
            return web.Response(status=401, text="Unauthorized")
        path = request.match_info["path"]
        found = next((data for file_path, data in self.files.values() if file_path == path), None)
        if found is None:
            return web.Response(status=404, text="Not Found")
        self.downloads.append(path)
        return web.Response(body=found, content_type="application/octet-stream")

    async def _read_params(self, request: web.Request) -> tuple[JSON, dict[str, bytes], dict[str, str]]:
        raw: dict[str, Any] = dict(request.query)
        files: dict[str, bytes] = {}
        filenames: dict[str, str] = {}
        if request.can_read_body:
            if request.content_type == "application/json":
                raw.update(await request.json())
                return raw, files, filenames
            if request.content_type == "multipart/form-data":
                reader = await request.multipart()
                async for part in reader:
                    if not isinstance(part, BodyPartReader):
                        continue
                    name = part.name or ""
                    if part.filename is not None:
                        filenames[name] = unquote(part.filename)  # PTB percent-encodes names (spaces)
                        files[name] = bytes(await part.read())
                    else:
                        raw[name] = await part.text()
            else:
                raw.update(await request.post())
        return {key: _decode(key, value) for key, value in raw.items()}, files, filenames

    # ----------------------------------------------------------------- Bot API methods

    def _check_chat(self, params: JSON) -> FakeChat:
        if "chat_id" not in params:
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat_id = params["chat_id"]
        if not isinstance(chat_id, int):
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self.blocked_chats:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return self._chat(chat_id)

    def _check_markup(self, params: JSON) -> None:
        markup = params.get("reply_markup")
        if markup is None:
            return
        rows = markup.get("inline_keyboard")
        if rows is None:
            return
        for row in rows:
            for button in row:
                if not button.get("text"):
                    raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                if data is None and not button.get("url"):
                    raise ApiError(400, "Bad Request: can't parse inline keyboard button")

    def _visible(self, raw: str, parse_mode: str | None) -> str:
        if parse_mode and parse_mode.upper() == "HTML":
            return parse_html(raw)
        return raw

    def _store(self, method: str, chat: FakeChat, params: JSON, raw: str, text: str, extra: JSON) -> JSON:
        topic_id = params.get("message_thread_id")
        if topic_id is not None and not chat.is_forum:
            topic_id = None  # Telegram ignores the thread id outside forum supergroups
        message: JSON = {
            "message_id": self._next_message_id(chat.id),
            "from": self.bot.to_api(),
            "chat": chat.to_api(),
            "date": int(time.time()),
            **extra,
        }
        if topic_id is not None:
            message["message_thread_id"] = topic_id
            message["is_topic_message"] = True
        if params.get("reply_markup") is not None:
            message["reply_markup"] = params["reply_markup"]
        self._messages[(chat.id, message["message_id"])] = message
        self.sent.append(SentMessage(method, chat.id, topic_id, text, raw, params, message))
        return message

    async def _api_getMe(self, params: JSON, files: dict[str, bytes]) -> JSON:
        return {
            **self.bot.to_api(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _api_deleteWebhook(self, params: JSON, files: dict[str, bytes]) -> bool:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _api_getWebhookInfo(self, params: JSON, files: dict[str, bytes]) -> JSON:
        return {"url": "", "has_custom_certificate": False, "pending_update_count": len(self._updates)}

    async def _api_logOut(self, params: JSON, files: dict[str, bytes]) -> bool:
        return True

    async def _api_close(self, params: JSON, files: dict[str, bytes]) -> bool:
        return True

    async def _api_getUpdates(self, params: JSON, files: dict[str, bytes]) -> list[JSON]:
        """Real long polling: confirm everything below ``offset``, then hold up to ``timeout`` seconds."""
        offset = params.get("offset")
        limit = max(1, min(100, params.get("limit") or 100))
        timeout = max(0.0, float(params.get("timeout") or 0))
        allowed = params.get("allowed_updates") or None
        if offset is not None:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

        def ready() -> list[JSON]:
            updates = self._updates
            if allowed:
                updates = [u for u in updates if any(kind in u for kind in allowed)]
            return updates[:limit]

        deadline = time.monotonic() + timeout
        async with self._changed:
            while not (found := ready()) and not self._closing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    await asyncio.wait_for(self._changed.wait(), remaining)
                except TimeoutError:
                    break
        return [json.loads(json.dumps(u)) for u in found]

    async def _api_sendMessage(self, params: JSON, files: dict[str, bytes]) -> JSON:
        chat = self._check_chat(params)
        raw = str(params.get("text") or "")
        text = self._visible(raw, params.get("parse_mode"))
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        self._check_markup(params)
        return self._store("sendMessage", chat, params, raw, text, {"text": text})

    async def _api_sendPhoto(self, params: JSON, files: dict[str, bytes]) -> JSON:
        chat = self._check_chat(params)
        photo = params.get("photo")
        if photo is None and "photo" not in files:
            raise ApiError(400, "Bad Request: there is no photo in the request")
        raw = str(params.get("caption") or "")
        caption = self._visible(raw, params.get("parse_mode"))
        if utf16_len(caption) > MAX_CAPTION:
            raise ApiError(400, "Bad Request: message caption is too long")
        self._check_markup(params)
        file_id = f"AgAC{abs(hash((photo, len(self.sent)))) % 10**12:012d}"
        sizes = [
            {
                "file_id": file_id + s,
                "file_unique_id": "AQAD" + s,
                "width": w,
                "height": w,
                "file_size": w * 40,
            }
            for s, w in (("s", 90), ("m", 320), ("x", 800))
        ]
        extra: JSON = {"photo": sizes}
        if caption:
            extra["caption"] = caption
        sent = self._store("sendPhoto", chat, params, raw, caption, extra)
        self.sent[-1].params = {**params, "photo_source": photo if photo is not None else "<upload>"}
        if "photo" in files:
            self.sent[-1].uploads = [files["photo"]]
        return sent

    async def _api_sendDocument(self, params: JSON, files: dict[str, bytes]) -> JSON:
        """A file: uploaded as multipart (its bytes and name kept on the sent message) or by
        file_id/URL; an optional caption with its keyboard, as for photos."""
        filename = self.calls[-1].filenames.get("document")  # read before any await: this request's call
        chat = self._check_chat(params)
        source = params.get("document")
        if source is None and "document" not in files:
            raise ApiError(400, "Bad Request: there is no document in the request")
        if "document" in files and len(files["document"]) > MAX_UPLOAD:
            raise ApiError(413, "Request Entity Too Large")
        raw = str(params.get("caption") or "")
        caption = self._visible(raw, params.get("parse_mode"))
        if utf16_len(caption) > MAX_CAPTION:
            raise ApiError(400, "Bad Request: message caption is too long")
        self._check_markup(params)
        data = files.get("document", b"")
        document: JSON = {
            "file_id": f"BQAC{len(self.sent):08d}",
            "file_unique_id": f"AgAD{len(self.sent):06d}",
            "file_name": filename or "document",
            "file_size": len(data),
        }
        extra: JSON = {"document": document}
        if caption:
            extra["caption"] = caption
        sent = self._store("sendDocument", chat, params, raw, caption, extra)
        self.sent[-1].uploads = [data] if "document" in files else []
        self.sent[-1].filename = filename
        return sent

    async def _api_sendMediaGroup(self, params: JSON, files: dict[str, bytes]) -> list[JSON]:
        """An album: 2-10 photos, each uploaded (``attach://name``) or by file_id/URL; one message each,
        sharing a ``media_group_id``. Media groups take no keyboard."""
        chat = self._check_chat(params)
        media = params.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise ApiError(400, "Bad Request: wrong number of media items, must be 2-10")
        if "reply_markup" in params:
            raise ApiError(400, "Bad Request: media groups can't have a reply markup")
        group = str(next(self._media_groups))
        sent: list[JSON] = []
        for item in media:
            if item.get("type") != "photo":
                raise ApiError(400, "Bad Request: this test fake takes photo albums only")
            source = str(item.get("media") or "")
            upload = files.get(source.removeprefix("attach://")) if source.startswith("attach://") else None
            if source.startswith("attach://") and upload is None:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            raw = str(item.get("caption") or "")
            caption = self._visible(raw, item.get("parse_mode"))
            if utf16_len(caption) > MAX_CAPTION:
                raise ApiError(400, "Bad Request: message caption is too long")
            size = {"file_id": f"AgAC{len(self.sent):08d}", "file_unique_id": f"AQAD{len(self.sent):06d}",
                    "width": 800, "height": 800, "file_size": len(upload or b"")}  # fmt: skip
            extra: JSON = {"photo": [size], "media_group_id": group}
            if caption:
                extra["caption"] = caption
            sent.append(self._store("sendMediaGroup", chat, params, raw, caption, extra))
            self.sent[-1].uploads = [upload] if upload is not None else []
        return sent

    async def _api_getFile(self, params: JSON, files: dict[str, bytes]) -> JSON:
        file_id = str(params.get("file_id") or "")
        found = self.files.get(file_id)
        if found is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        path, data = found
        if len(data) > MAX_DOWNLOAD:
            raise ApiError(400, "Bad Request: file is too big")
        return {"file_id": file_id, "file_unique_id": "AgAD" + file_id[-6:], "file_size": len(data), "file_path": path}

    async def _api_editMessageText(self, params: JSON, files: dict[str, bytes]) -> JSON | bool:
        chat = self._check_chat(params)
        message = self._messages.get((chat.id, params.get("message_id") or 0))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        raw = str(params.get("text") or "")
        text = self._visible(raw, params.get("parse_mode"))
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        if message.get("text") == text and message.get("reply_markup") == params.get("reply_markup"):
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message",
            )
        self._check_markup(params)
        message["text"] = text
        message["edit_date"] = int(time.time())
        if params.get("reply_markup") is not None:
            message["reply_markup"] = params["reply_markup"]
        else:
            message.pop("reply_markup", None)
        self.edits.append(self.calls[-1])
        return message

    async def _api_editMessageCaption(self, params: JSON, files: dict[str, bytes]) -> JSON:
        chat = self._check_chat(params)
        message = self._messages.get((chat.id, params.get("message_id") or 0))
        if message is None or not ("photo" in message or "document" in message):
            raise ApiError(400, "Bad Request: message to edit not found")
        raw = str(params.get("caption") or "")
        caption = self._visible(raw, params.get("parse_mode"))
        if utf16_len(caption) > MAX_CAPTION:
            raise ApiError(400, "Bad Request: message caption is too long")
        self._check_markup(params)
        message["caption"] = caption
        message["edit_date"] = int(time.time())
        if params.get("reply_markup") is not None:
            message["reply_markup"] = params["reply_markup"]
        self.edits.append(self.calls[-1])
        return message

    async def _api_editMessageReplyMarkup(self, params: JSON, files: dict[str, bytes]) -> JSON:
        chat = self._check_chat(params)
        message = self._messages.get((chat.id, params.get("message_id") or 0))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if params.get("reply_markup") is not None:
            message["reply_markup"] = params["reply_markup"]
        else:
            message.pop("reply_markup", None)
        self.edits.append(self.calls[-1])
        return message

    async def _api_deleteMessage(self, params: JSON, files: dict[str, bytes]) -> bool:
        chat = self._check_chat(params)
        if self._messages.pop((chat.id, params.get("message_id") or 0), None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        return True

    async def _api_sendChatAction(self, params: JSON, files: dict[str, bytes]) -> bool:
        self._check_chat(params)
        return True

    async def _api_answerCallbackQuery(self, params: JSON, files: dict[str, bytes]) -> bool:
        if params.get("callback_query_id") not in self._open_queries:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        text = params.get("text")
        if text is not None and len(text) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._open_queries.discard(params["callback_query_id"])
        self.callback_answers.append(params)
        return True

    async def _api_setMyCommands(self, params: JSON, files: dict[str, bytes]) -> bool:
        commands = params.get("commands") or []
        if len(commands) > 100:
            raise ApiError(400, "Bad Request: too many commands")
        for command in commands:
            name = command.get("command", "")
            if not (1 <= len(name) <= 32) or not all(c.islower() or c.isdigit() or c == "_" for c in name):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description", "")) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._scope_key(params)] = commands
        return True

    async def _api_getMyCommands(self, params: JSON, files: dict[str, bytes]) -> list[JSON]:
        return self.commands.get(self._scope_key(params), [])

    async def _api_deleteMyCommands(self, params: JSON, files: dict[str, bytes]) -> bool:
        self.commands.pop(self._scope_key(params), None)
        return True

    @staticmethod
    def _scope_key(params: JSON) -> str:
        scope = params.get("scope") or {"type": "default"}
        return f"{json.dumps(scope, sort_keys=True)}|{params.get('language_code') or ''}"

    async def _api_getChat(self, params: JSON, files: dict[str, bytes]) -> JSON:
        chat = self._chat(params.get("chat_id") or 0)
        return {**chat.to_api(), "accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": {
            "unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
            "premium_subscription": False}}  # fmt: skip

    async def _api_getChatMember(self, params: JSON, files: dict[str, bytes]) -> JSON:
        chat = self._chat(params.get("chat_id") or 0)
        user_id = params.get("user_id") or 0
        status = self.member_status.get((chat.id, user_id))
        if status is None:
            status = "creator" if chat.type == "private" and chat.id == user_id else "member"
        known = self.users.get(user_id)
        user = known.to_api() if known else {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
        member: JSON = {"status": status, "user": user}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(
                can_be_edited=False, is_anonymous=False, can_manage_chat=True, can_delete_messages=True,
                can_manage_video_chats=True, can_restrict_members=True, can_promote_members=False,
                can_change_info=True, can_invite_users=True, can_post_stories=False,
                can_edit_stories=False, can_delete_stories=False,
            )  # fmt: skip
        elif status == "restricted":
            member.update(is_member=True, until_date=0)
        elif status == "kicked":
            member["until_date"] = 0
        return member


def _decode(key: str, value: Any) -> Any:
    """Undo PTB's form encoding: strings raw, every other type JSON-encoded."""
    if not isinstance(value, str):
        return value
    try:
        if key == "chat_id":
            return int(value) if value.lstrip("-").isdigit() else value
        if key in _JSON_FIELDS:
            return json.loads(value)
        if key in _INT_FIELDS:
            return int(value)
        if key in _FLOAT_FIELDS:
            return float(value)
        if key in _BOOL_FIELDS:
            return value.lower() in ("true", "1")
    except ValueError:
        raise ApiError(400, f"Bad Request: can't parse {key}") from None
    return value


__all__ = [
    "DEFAULT_TOKEN",
    "ApiCall",
    "FakeChat",
    "FakeTelegramAPI",
    "FakeUser",
    "SentMessage",
    "parse_html",
]
