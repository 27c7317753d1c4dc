"""The Telegram frontend: python-telegram-bot v22 long polling in front of the engine.

Why it looks the way it does:

* Commands are text. ``/feed bind drops`` reaches the ``feed`` CommandHandler and the whole line goes
  to ``Engine.dispatch_line``, which resolves sub-commands, validates and turns errors into replies, so
  Telegram answers exactly like the shell and SMS. Unknown commands fall through to a catch-all that
  lets the engine say "Unknown command" (except ``/cmd@other_bot``, which is not ours).
* Action buttons carry their command line as ``callback_data``; a press dispatches it for the presser.
* A guided command sent bare (``/alerts add``) becomes a conversation, run by
  ``adapters.telegram.conversations``: its buttons (``guide:…``) and plain-text answers in private chats
  go there, as does ``/cancel``.
* Telegram has no ephemeral messages. An ephemeral reply to a command sent in a group goes to the
  caller by DM with a short note in the group. If the DM fails (the user never pressed Start, or
  blocked the bot): for commands declared ``private`` the group only gets a hint to start a chat with
  the bot; any other ephemeral reply (errors, confirmations) carries no private data and is posted in
  the group as a reply. For button presses a short ephemeral reply is shown as an alert that only the
  presser sees.
* Roles come only from the community's own chats (``[telegram] community_chat_ids``): the creator of
  one is ``Permission.ADMIN``, its administrators get ``chat_admin_role``, looked up with
  ``getChatMember`` in those chats whatever chat the command is sent from (cached a minute per chat
  and user). A command sent in any other group gets member rights: anyone can create a group and
  be its owner. Admins and mods listed in ``[permissions]`` are applied by the engine.
* Sends retry after a 429 for the ``retry_after`` Telegram asks for; a 403 (blocked, kicked) becomes
  ``DeliveryRefused`` so callers can fall back to another channel.
* Photos: a photo or an image file whose caption is a command line runs that command with the file
  attached (``adapters.telegram.media``). An album arrives as one update per photo sharing a
  ``media_group_id``, the caption on the first: the parts are gathered until none has come for
  ``album_wait`` seconds, then the command runs once with all of them, keyed on the album's
  ``media_group_id`` so a redelivered album (or its last parts alone) does nothing twice.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import structlog
from telegram import (
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeChat,
    Chat,
    InputMediaPhoto,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBDeprecationWarning, PTBUserWarning

from adapters.telegram.conversations import TelegramConversations
from adapters.telegram.http import AiohttpRequest
from adapters.telegram.media import Albums, attachments_of, media_request_id
from adapters.telegram.render import (
    OutgoingMessage,
    document_caption,
    html_to_text,
    keyboard,
    photo_albums,
    render,
)
from core.attachments import carrying
from core.commands import Command, Permission
from core.errors import ConfigError, UserError
from core.frontend import DeliveryRefused, FrontendRejected, request_slot
from core.identity import Caller
from core.markup import clip, to_plain
from core.replies import Reply
from core.targets import DiscordChannel, ShellConsole, TelegramChat

if TYPE_CHECKING:
    from core.engine import Engine

log = structlog.get_logger(__name__)

#: what Telegram accepts as a command name; others stay reachable through the catch-all handler
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
#: answerCallbackQuery text limit
_ALERT_LIMIT = 200
#: the user id Telegram puts on messages an anonymous admin sends "as the group"
_ANONYMOUS_ADMIN = 1087968824
#: looked-up roles kept at most (a minute each); the oldest goes first
_ROLE_CACHE_SIZE = 50_000
_GROUP_TYPES = {ChatType.GROUP, ChatType.SUPERGROUP}
#: ``_send_message`` calls the Bot API method by name on purpose; PTB's nudge towards ``send_message``
#: (one warning per call site) does not apply to it
_SEND_MESSAGE = "sendMessage"
warnings.filterwarnings("ignore", message=rf"Please use 'Bot\.{_SEND_MESSAGE}' instead", category=PTBUserWarning)

AnyTarget = DiscordChannel | TelegramChat | ShellConsole


def api_urls(api_base: str) -> tuple[str, str] | None:
    """``(base_url, base_file_url)`` for PTB from ``[telegram] api_base``, or ``None`` for Telegram's own.

    Accepts a server root (``http://127.0.0.1:8081``) or PTB's prefix form (``…/bot``); PTB appends
    the token and then ``/method``.
    """
    base = api_base.strip().rstrip("/")
    if not base:
        return None
    root = base.removesuffix("/bot")
    return f"{root}/bot", f"{root}/file/bot"


def retry_seconds(exc: RetryAfter) -> float:
    """``RetryAfter.retry_after`` is an int today and a timedelta in PTB 23; accept both quietly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramFrontend:
    name = "telegram"

    def __init__(
        self,
        engine: Engine,
        *,
        max_retries: int = 3,
        max_retry_wait: float = 60.0,
        role_cache_seconds: float = 60.0,
        concurrent_updates: int = 16,
        album_wait: float = 1.0,
    ) -> None:
        token = engine.config.secrets.TELEGRAM_TOKEN
        if token is None or not token.get_secret_value():
            raise ConfigError("TELEGRAM_TOKEN is not set: the Telegram frontend needs a bot token")
        self._engine = engine
        self._poll_timeout = engine.config.telegram.poll_timeout
        self._max_retries = max_retries
        self._max_retry_wait = max_retry_wait
        self._role_cache_seconds = role_cache_seconds
        #: (community chat, user) → (valid until, the role that chat gives the user)
        self._roles: dict[tuple[int, int], tuple[float, Permission]] = {}
        self._community = tuple(engine.config.telegram.community_chat_ids)
        self._chat_admin_role = Permission[engine.config.telegram.chat_admin_role.upper()]
        builder = (
            ApplicationBuilder()
            .token(token.get_secret_value())
            .concurrent_updates(concurrent_updates)
            .request(AiohttpRequest())  # the bot's calls; long polling keeps PTB's own transport
        )
        urls = api_urls(engine.config.telegram.api_base)
        if urls is not None:
            builder = builder.base_url(urls[0]).base_file_url(urls[1])
        self.app: Application[Any, Any, Any, Any, Any, Any] = builder.build()
        self._started = False
        #: guided commands (``/alerts add`` with no arguments), asked step by step
        self.conversations = TelegramConversations(engine, self.deliver)
        #: album parts waiting for the rest of their album
        self.albums = Albums(self._on_album, wait=album_wait)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Register handlers for the commands known now (slices register before frontends start),
        publish the command menu, then start long polling."""
        names = self._top_level_names()
        if names:
            self.app.add_handler(CommandHandler(names, self._on_command, filters=filters.UpdateType.MESSAGE))
        self.app.add_handler(MessageHandler(filters.COMMAND & filters.UpdateType.MESSAGE, self._on_unknown))
        answers = filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
        self.app.add_handler(MessageHandler(answers, self._on_text))
        media = (filters.PHOTO | filters.Document.ALL) & filters.UpdateType.MESSAGE
        self.app.add_handler(MessageHandler(media, self._on_media))
        self.app.add_handler(CallbackQueryHandler(self._on_button))
        self.app.add_error_handler(self._on_error)
        try:
            await self.app.initialize()
        except InvalidToken:
            raise FrontendRejected("Telegram refused TELEGRAM_TOKEN: copy it again from @BotFather") from None
        await self._publish_commands()
        await self.app.start()
        assert self.app.updater is not None
        await self.app.updater.start_polling(
            poll_interval=0,
            timeout=timedelta(seconds=self._poll_timeout),
            allowed_updates=[Update.MESSAGE, Update.CALLBACK_QUERY],
        )
        self._started = True
        log.info("telegram.started", bot=self.app.bot.username, commands=len(names))

    @property
    def connected(self) -> bool:
        """Long polling is running (``/healthz``)."""
        return self._started and self.app.updater is not None and self.app.updater.running

    async def stop(self) -> None:
        await self.albums.close()
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()
        self._started = False

    # ------------------------------------------------------------------ Frontend protocol

    async def post(self, target: AnyTarget, item: Reply) -> None:
        """Post a feed item to a chat, or to a forum topic when the target has one."""
        await self.post_ref(target, item)

    async def post_ref(self, target: AnyTarget, item: Reply) -> str:
        """Post a feed item; returns its messages as ``t:ID`` (text) or ``p:ID`` (photo) joined by
        commas, for ``edit_post`` (``EditablePosts``)."""
        if not isinstance(target, TelegramChat):
            raise ValueError(f"the Telegram frontend cannot post to {target.describe()}")
        return ",".join(await self._deliver_refs(target.chat_id, target.topic_id, item))

    async def edit_post(self, target: AnyTarget, ref: str, item: Reply) -> str:
        """Edit a feed post in place: editMessageText for text, editMessageCaption for a photo's
        caption. A new version longer than the old one's messages continues in new messages; one
        that is shorter leaves the extra old messages as they were."""
        if not isinstance(target, TelegramChat):
            raise ValueError(f"the Telegram frontend cannot edit in {target.describe()}")
        album = [part for part in ref.split(",") if part.startswith("m:")]  # photos stay as they were
        old = [part.split(":", 1) for part in ref.split(",") if ":" in part and not part.startswith("m:")]
        messages = render(item, photo=bool(old) and old[0][0] == "p")
        if old and old[0][0] == "p" and messages[0].photo is None:
            messages = render(item, photo=False)
        refs: list[str] = []
        for index, message in enumerate(messages):
            if index >= len(old):
                refs.append(await self._send(target.chat_id, target.topic_id, message))
                continue
            kind, message_id = old[index]
            common: dict[str, Any] = {
                "chat_id": target.chat_id,
                "message_id": int(message_id),
                "reply_markup": message.keyboard,
                "parse_mode": ParseMode.HTML,
            }
            try:
                if kind == "p":
                    await self._call(self.app.bot.edit_message_caption, caption=message.html, **common)
                else:
                    preview = LinkPreviewOptions(is_disabled=True)
                    await self._call(
                        self.app.bot.edit_message_text, text=message.html, link_preview_options=preview, **common
                    )
            except BadRequest as exc:
                if "not modified" not in exc.message.lower():
                    raise
            refs.append(f"{kind}:{message_id}")
        return ",".join(album + refs + [f"{kind}:{mid}" for kind, mid in old[len(refs) :]])

    async def send_direct(self, external_id: str, reply: Reply, *, idempotency_key: str | None = None) -> None:
        """A private message. ``idempotency_key`` is not used: the Bot API has no idempotency key and a
        bot cannot read back what it sent, so a send in doubt can only be repeated or dropped (the
        delivery worker's ``resend_in_doubt``)."""
        try:
            chat_id = int(external_id)
        except ValueError:
            raise DeliveryRefused(self.name, f"not a Telegram user id: {external_id!r}") from None
        await self.deliver(chat_id, None, reply)

    # ------------------------------------------------------------------ incoming

    def _top_level_names(self) -> list[str]:
        names = {command.path[0] for command in self._engine.registry.all(frontend=self.name)}
        valid = sorted(name for name in names if _COMMAND_NAME.match(name))
        for skipped in sorted(names - set(valid)):
            log.warning("telegram.command_name_invalid", command=skipped)
        return valid

    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or not message.text:
            return
        caller = await self._caller(user, message.chat, _topic_of(message), message.sender_chat)
        if await self.conversations.on_command(caller, message.chat, user, message.text):
            return
        reply = await self._engine.dispatch_line(caller, message.text, request_id=str(update.update_id))
        await self._answer(message.chat, _topic_of(message), user, reply, message.text, message.message_id)

    async def _on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Plain text in a private chat: an answer in a guided conversation, or nothing to us."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or not message.text:
            return
        await self.conversations.on_text(message.chat, user, message.text)

    async def _on_media(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A photo or a file: one part of an album waits for the rest, a single one runs now."""
        message = update.effective_message
        if message is None or update.effective_user is None:
            return
        if message.media_group_id is not None:
            self.albums.add(message)
            return
        await self._on_album([message])

    async def _on_album(self, messages: list[Message]) -> None:
        """Photos sent together (one, or an album's parts in order): if their caption is a command line
        for us, run it once with all of them attached. Photos without a command are not ours; in a
        private chat the sender is told how to send photos to a command."""
        first = messages[0]
        user = first.from_user
        if user is None:
            return
        caption = next((m.caption for m in messages if m.caption), None) or ""
        if not caption and first.media_group_id is not None:
            # the last parts of an album redelivered without its captioned first: answered already?
            answer = await self._engine.requests.answered(f"{self.name}:{media_request_id(first)}")
            if answer is not None:
                await self._answer(first.chat, _topic_of(first), user, Reply.model_validate(answer), "", None)
                return
        if not caption.startswith("/"):
            if first.chat.type == ChatType.PRIVATE:
                hint = "To send photos to a command, write the command as the photo's caption (e.g. /lc submit …)."
                await self.deliver(first.chat.id, None, Reply.info(hint))
            return
        _, at, addressee = caption.split(maxsplit=1)[0].partition("@")
        if at and addressee.lower() != (self.app.bot.username or "").lower():
            return  # a command for another bot
        caller = await self._caller(user, first.chat, _topic_of(first), first.sender_chat)
        files = [attachment for message in messages for attachment in attachments_of(message)]
        with carrying(files):
            reply = await self._engine.dispatch_line(caller, caption, request_id=media_request_id(first))
        await self._answer(first.chat, _topic_of(first), user, reply, caption, first.message_id)

    async def _on_unknown(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Commands no handler took. ``/cmd@other_bot`` belongs to another bot: stay quiet."""
        message = update.effective_message
        if message is None or not message.text:
            return
        first = message.text.split(maxsplit=1)[0]
        _, at, addressee = first.partition("@")
        if at and addressee.lower() != (self.app.bot.username or "").lower():
            return
        await self._on_command(update, context)

    async def _on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Dispatch the button's command line for the presser, then answer the query so the button's
        spinner stops (always, even if delivery failed)."""
        query = update.callback_query
        if query is None:
            return
        alert: str | None = None
        try:
            if not query.data:
                return
            user = query.from_user
            message = query.message
            chat: Chat = message.chat if message is not None else Chat(user.id, ChatType.PRIVATE)
            topic = _topic_of(message) if isinstance(message, Message) else None
            caller = await self._caller(user, chat, topic, None)
            if self.conversations.owns(query.data):
                alert = await self.conversations.on_button(caller, chat, user, query.data)
                return
            line = query.data if query.data.startswith("/") else f"/{query.data}"
            reply = await self._engine.dispatch_line(caller, line, request_id=str(update.update_id))
            shown = to_plain(reply.plain_text())
            if reply.ephemeral and not self._is_private(line) and len(shown) <= _ALERT_LIMIT:
                alert = shown  # only the presser sees an alert: Telegram's one real "ephemeral"
            else:
                await self._answer(chat, topic, user, reply, line, None)
        finally:
            await self._call(query.answer, text=alert, show_alert=alert is not None)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram.handler_failed", exc_info=context.error)

    async def _caller(self, user: User, chat: Chat, topic_id: int | None, sender_chat: Chat | None) -> Caller:
        return Caller(
            platform=self.name,
            external_id=str(user.id),
            display_name=user.username or user.full_name,
            platform_role=await self.role_of(user, chat, sender_chat),
            is_bot=user.is_bot or user.id == _ANONYMOUS_ADMIN,
            origin=TelegramChat(chat_id=chat.id, topic_id=topic_id).model_dump(),
        )

    async def role_of(self, user: User, chat: Chat, sender_chat: Chat | None) -> Permission:
        """What the community's chats say ``user`` may do, for a command sent in ``chat``.

        Sent in a group that is not one of the community's, member rights: its owner is whoever
        created it. Sent in a community chat or in private, the best role any community chat gives.
        An anonymous admin posting as a community chat speaks for that chat."""
        if chat.type in _GROUP_TYPES and chat.id not in self._community:
            return Permission.MEMBER
        if sender_chat is not None and sender_chat.id == chat.id:  # an anonymous admin of this community chat
            return self._chat_admin_role
        if chat.type not in _GROUP_TYPES and chat.type != ChatType.PRIVATE:
            return Permission.MEMBER  # a channel post: nobody in particular
        best = Permission.MEMBER
        for community_chat in self._community:
            best = max(best, await self._role_in(community_chat, user.id))
            if best is Permission.ADMIN:
                break
        return best

    async def _role_in(self, chat_id: int, user_id: int) -> Permission:
        """The role one community chat gives ``user_id``; a failed lookup gives none (and is not cached)."""
        now = time.monotonic()
        cached = self._roles.get((chat_id, user_id))
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            member = await self.app.bot.get_chat_member(chat_id, user_id)
        except TelegramError as exc:
            log.warning("telegram.role_check_failed", chat=chat_id, error=str(exc))
            return Permission.MEMBER
        if member.status == ChatMemberStatus.OWNER:
            role = Permission.ADMIN
        elif member.status == ChatMemberStatus.ADMINISTRATOR:
            role = self._chat_admin_role
        else:
            role = Permission.MEMBER
        if len(self._roles) >= _ROLE_CACHE_SIZE:
            self._roles.pop(next(iter(self._roles)))
        self._roles[(chat_id, user_id)] = (now + self._role_cache_seconds, role)
        return role

    def _is_private(self, line: str) -> bool:
        try:
            command, _, _ = self._engine.registry.parse(line)
        except UserError:
            return False
        return command.private

    async def _answer(
        self, chat: Chat, topic: int | None, user: User, reply: Reply, line: str, reply_to: int | None
    ) -> None:
        """Answer where the command came from; ephemeral replies from groups go by DM (see module doc)."""
        if chat.type not in _GROUP_TYPES or not reply.ephemeral:
            await self.deliver(chat.id, topic, reply, reply_to=reply_to if chat.type in _GROUP_TYPES else None)
            return
        mention = f'<a href="tg://user?id={user.id}">{html.escape(user.first_name, quote=False)}</a>'
        try:
            await self.deliver(user.id, None, reply)
        except DeliveryRefused:
            if not self._is_private(line):
                await self.deliver(chat.id, topic, reply, reply_to=reply_to)
                return
            bot = html.escape(self.app.bot.username or "the bot", quote=False)
            note = (
                f"🔒 {mention}, that answer is private and I can't message you yet. "
                f"Open a chat with @{bot}, press Start, then try again."
            )
        else:
            note = f"📬 {mention}, I sent you the answer in a private chat."
        await self._send(chat.id, topic, OutgoingMessage(note), reply_to=reply_to)

    # ------------------------------------------------------------------ outgoing

    async def deliver(self, chat_id: int, topic_id: int | None, reply: Reply, *, reply_to: int | None = None) -> None:
        """Send ``reply`` as one or more messages (paginated under 4,096 characters). A photo Telegram
        cannot fetch falls back to text with a link to the image."""
        await self._deliver_refs(chat_id, topic_id, reply, reply_to=reply_to)

    async def _deliver_refs(
        self, chat_id: int, topic_id: int | None, reply: Reply, *, reply_to: int | None = None
    ) -> list[str]:
        """``deliver``, returning the messages sent (``t:ID`` for text, ``p:ID`` for a photo, ``m:ID`` for
        each photo of an album sent before the text)."""
        sent = await self._send_albums(chat_id, topic_id, reply, reply_to=reply_to) if reply.images else []
        if sent:  # the photos went as an album (albums take no buttons); the text follows with them
            reply, reply_to = reply.model_copy(update={"image": None, "images": []}), None
            if not (_has_text(reply) or reply.files):
                return sent
        if reply.files:
            caption = document_caption(reply)
            documents = await self._send_documents(chat_id, topic_id, reply, caption=caption, reply_to=reply_to)
            sent += documents
            if documents and caption is not None:
                return sent  # the lone file carried the whole reply as its caption
            reply = reply.model_copy(update={"files": []})
            reply_to = None if documents else reply_to
            if not (_has_text(reply) or reply.image is not None):
                return sent
        messages = render(reply)
        if messages[0].photo is not None:
            try:
                sent.append(await self._send(chat_id, topic_id, messages[0], reply_to=reply_to))
                messages, reply_to = messages[1:], None  # an uploaded chart may be followed by its text
            except BadRequest as exc:
                log.warning("telegram.photo_failed", chat=chat_id, error=exc.message)
                messages = render(reply, photo=False)
        for index, message in enumerate(messages):
            sent.append(await self._send(chat_id, topic_id, message, reply_to=reply_to if index == 0 else None))
        return sent

    async def _send_albums(
        self, chat_id: int, topic_id: int | None, reply: Reply, *, reply_to: int | None = None
    ) -> list[str]:
        """The reply's photos as albums of up to ten (a lone photo as a plain photo), ``m:ID`` each.
        Photos Telegram refuses are logged and left out: the text still goes."""
        sent: list[str] = []
        for album in photo_albums(reply):
            common: dict[str, Any] = {
                "chat_id": chat_id,
                "message_thread_id": topic_id,
                "reply_parameters": (
                    ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to is not None else None
                ),
            }
            try:
                if len(album) == 1:
                    [(name, data)] = album
                    photo = await self._call(self.app.bot.send_photo, photo=data, filename=name, **common)
                    sent.append(f"m:{photo.message_id}")
                else:
                    media = [InputMediaPhoto(media=data, filename=name) for name, data in album]
                    messages = await self._call(self.app.bot.send_media_group, media=media, **common)
                    sent += [f"m:{message.message_id}" for message in messages]
            except BadRequest as exc:
                log.warning("telegram.album_failed", chat=chat_id, error=exc.message)
            reply_to = None
        return sent

    async def _send_documents(
        self, chat_id: int, topic_id: int | None, reply: Reply, *, caption: str | None, reply_to: int | None = None
    ) -> list[str]:
        """The reply's files, one ``sendDocument`` each: with ``caption`` (the lone file carrying the
        whole reply and its buttons) as ``p:ID``, whose caption an edit can change; else bare, as
        ``m:ID``, left alone by edits. Files Telegram refuses are logged and left out: the text still goes."""
        sent: list[str] = []
        for item in reply.files:
            common: dict[str, Any] = {
                "chat_id": chat_id,
                "message_thread_id": topic_id,
                "reply_parameters": (
                    ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to is not None else None
                ),
            }
            if caption is not None:
                common |= {"caption": caption, "parse_mode": ParseMode.HTML, "reply_markup": keyboard(reply)}
            try:
                message = await self._call(self.app.bot.send_document, document=item.data, filename=item.name, **common)
            except BadRequest as exc:
                log.warning("telegram.document_failed", chat=chat_id, file=item.name, error=exc.message)
                continue
            sent.append(f"{'p' if caption is not None else 'm'}:{message.message_id}")
            reply_to = None
        return sent

    async def _send(
        self, chat_id: int, topic_id: int | None, message: OutgoingMessage, *, reply_to: int | None = None
    ) -> str:
        """One message; ``t:ID`` or ``p:ID`` (a photo) of what was sent."""
        bot = self.app.bot
        common: dict[str, Any] = {
            "chat_id": chat_id,
            "message_thread_id": topic_id,
            "reply_markup": message.keyboard,
            "parse_mode": ParseMode.HTML,
            "reply_parameters": (
                ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to is not None else None
            ),
        }
        if message.photo is not None:
            photo = await self._call(
                bot.send_photo, photo=message.photo, filename=message.filename, caption=message.html, **common
            )
            return f"p:{photo.message_id}"
        preview = (
            LinkPreviewOptions(url=message.preview_url, prefer_large_media=True, show_above_text=True)
            if message.preview_url
            else LinkPreviewOptions(is_disabled=True)
        )
        try:
            sent = await self._call(self._send_message, text=message.html, link_preview_options=preview, **common)
        except BadRequest as exc:
            if "parse entities" not in exc.message.lower():
                raise
            # Our renderer produced HTML Telegram refused: say it plainly rather than not at all.
            log.error("telegram.html_rejected", error=exc.message)
            common["parse_mode"] = None
            text = html_to_text(message.html)
            sent = await self._call(self._send_message, text=text, link_preview_options=preview, **common)
        return f"t:{sent['message_id']}"

    async def _send_message(self, **kwargs: Any) -> Any:
        """``sendMessage`` through PTB's ``do_api_request``: the same request, transport and error
        mapping (``RetryAfter``, ``Forbidden``, ``BadRequest``, ``ChatMigrated``) as ``send_message``,
        but the answer stays the Bot API's JSON. Reading it back into a ``Message`` cost about a fifth
        of the CPU of each send in a fan-out, and nothing here reads more than its ``message_id``."""
        parameters = {name: value for name, value in kwargs.items() if value is not None}
        return await self.app.bot.do_api_request(_SEND_MESSAGE, api_kwargs=parameters)

    async def _call(self, method: Callable[..., Awaitable[Any]], **kwargs: Any) -> Any:
        """One Bot API call with Telegram's error contract applied: wait out 429s, follow a group that
        became a supergroup, and turn "will not deliver" answers into ``DeliveryRefused``."""
        attempt = 0
        while True:
            try:
                async with request_slot():
                    return await method(**kwargs)
            except RetryAfter as exc:
                wait = retry_seconds(exc)
                attempt += 1
                if attempt > self._max_retries or wait > self._max_retry_wait:
                    raise DeliveryRefused(self.name, f"rate limited for {wait:.0f}s", permanent=False) from exc
                log.warning("telegram.rate_limited", retry_after=wait, attempt=attempt)
                await asyncio.sleep(wait)
            except ChatMigrated as exc:
                attempt += 1
                if "chat_id" not in kwargs or attempt > self._max_retries:
                    raise
                kwargs["chat_id"] = exc.new_chat_id
            except Forbidden as exc:
                raise DeliveryRefused(self.name, exc.message, permanent=True) from exc
            except BadRequest as exc:
                if "chat not found" in exc.message.lower() or "user not found" in exc.message.lower():
                    raise DeliveryRefused(self.name, exc.message, permanent=True) from exc
                raise

    # ------------------------------------------------------------------ command menu

    async def _publish_commands(self) -> None:
        """The ``/`` menu: member commands for everyone, everything for group admins and for the
        admins listed in the config (in their private chat). A failure here is logged, not fatal."""
        registry = self._engine.registry
        everyone = _menu(registry.all(frontend=self.name, role=Permission.MEMBER))
        admins = _menu(registry.all(frontend=self.name, role=Permission.ADMIN))
        bot = self.app.bot
        try:
            await self._call(bot.set_my_commands, commands=everyone)
            await self._call(bot.set_my_commands, commands=admins, scope=BotCommandScopeAllChatAdministrators())
        except (TelegramError, DeliveryRefused) as exc:
            log.warning("telegram.set_commands_failed", error=str(exc))
            return
        for entry in self._engine.config.permissions.admins:
            platform, _, ident = entry.partition(":")
            if platform != self.name or not ident.lstrip("-").isdigit():
                continue
            try:
                await self._call(bot.set_my_commands, commands=admins, scope=BotCommandScopeChat(int(ident)))
            except (TelegramError, DeliveryRefused) as exc:  # the admin never started the bot
                log.info("telegram.admin_menu_skipped", admin=ident, error=str(exc))


def _has_text(reply: Reply) -> bool:
    """Whether anything of ``reply`` is left to say as text once its uploads went."""
    return bool(reply.title or reply.text or reply.fields or reply.footer or reply.url or reply.buttons)


def _menu(commands: list[Command]) -> list[BotCommand]:
    """One menu entry per top-level name; groups (``feed bind``/``feed list``) list their sub-commands."""
    grouped: dict[str, list[Command]] = {}
    for command in commands:
        if _COMMAND_NAME.match(command.path[0]):
            grouped.setdefault(command.path[0], []).append(command)
    entries = []
    for name, members in sorted(grouped.items()):
        if len(members) == 1 and members[0].name == name:
            description = members[0].description
        else:
            description = "Sub-commands: " + ", ".join(" ".join(c.path[1:]) for c in members)
        entries.append(BotCommand(name, clip(to_plain(description), 256)))
    return entries[:100]


def _topic_of(message: Message) -> int | None:
    """Only forum topics count: in ordinary groups ``message_thread_id`` marks a reply thread."""
    return message.message_thread_id if message.is_topic_message else None
