"""Guided commands on Telegram: a step-by-step conversation, one question per message.

A command with a ``Guide`` (``/alerts add``) sent with no arguments starts it. The bot asks each
guided parameter in turn, with an inline keyboard: one button per choice, Skip for optional fields,
and Cancel. Each answer is checked with the parameter's own converter, so a bad one is asked again
with the same field-named message the command would give. A summary with Save and Cancel ends it, and
Save runs the command through the engine with the collected values, like any typed command.

Where the member stands lives in the database (``core.conversations``), so any process may take the
next message, and a restart loses nothing. A Save that the command refuses for one field (say
``max_price`` below ``min_price``) goes back to that field. ``/cancel`` ends the conversation.

Telegram only delivers a group's non-command messages to bots with privacy mode off, so answers are
collected in the private chat: ``/alerts add`` sent in a group starts the conversation there, or
asks the member to open a chat with the bot first.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import structlog
from telegram import Chat, User
from telegram.constants import ChatType

from core.commands import Command, Param
from core.conversations import Conversation, ConversationKey, ConversationStore
from core.engine import Engine
from core.errors import BadArgument, UserError
from core.frontend import DeliveryRefused
from core.identity import Caller
from core.replies import Button, Reply, ReplyField

log = structlog.get_logger(__name__)

#: callback data of conversation buttons: ``guide:<version>:<verb>``; never a command line
CALLBACK_PREFIX = "guide:"
CANCEL_COMMAND = "cancel"
_GROUP_TYPES = {ChatType.GROUP, ChatType.SUPERGROUP}
#: ``BadArgument`` messages start with the parameter's name in backticks
_FIELD = re.compile(r"^`([a-z0-9_]+)`:")
#: a few retries when two updates race on one conversation; more means something else is wrong
_RACE_RETRIES = 3

Deliver = Callable[[int, int | None, Reply], Awaitable[None]]


def label_of(param: Param) -> str:
    return param.name.replace("_", " ").capitalize()


def prompt(command: Command, conversation: Conversation, *, problem: str | None = None) -> Reply:
    """The question for the conversation's current step, with its buttons."""
    params = command.guided
    param = params[conversation.step]
    title = command.guide.title if command.guide else command.name
    lines = [f"⚠️ {problem}", ""] if problem else []
    lines.append(f"**{label_of(param)}**: {param.description}")
    if param.choices:
        lines.append("Pick one below, or type it.")
    else:
        lines.append("Type your answer" + (", or press Skip." if not param.required else "."))
    action = f"{CALLBACK_PREFIX}{conversation.version}:"
    buttons = [Button(label=choice, action=f"{action}c{index}") for index, choice in enumerate(param.choices)]
    if not param.required:
        buttons.append(Button(label="Skip", action=f"{action}skip"))
    buttons.append(Button(label="Cancel", action=f"{action}cancel"))
    return Reply(
        title=f"{title} · {conversation.step + 1}/{len(params)}",
        text="\n".join(lines),
        buttons=buttons,
        footer="/cancel stops at any time; nothing is saved until you press Save.",
    )


def summary(command: Command, conversation: Conversation, *, hint: str | None = None) -> Reply:
    """What will be saved, with Save and Cancel."""
    answered = [p for p in command.guided if p.name in conversation.answers]
    skipped = [label_of(p) for p in command.guided if p.name not in conversation.answers]
    fields = [ReplyField(name=label_of(p), value=conversation.answers[p.name], inline=False) for p in answered]
    lines = [hint] if hint else []
    lines.append("Check your answers, then press Save." if answered else "You skipped every question.")
    if skipped:
        lines.append("Skipped: " + ", ".join(skipped) + ".")
    version = conversation.version
    title = command.guide.title if command.guide else command.name
    return Reply(
        title=f"{title}: check and save",
        text="\n".join(lines),
        fields=fields,
        buttons=[
            Button(label="Save", action=f"{CALLBACK_PREFIX}{version}:save"),
            Button(label="Cancel", action=f"{CALLBACK_PREFIX}{version}:cancel"),
        ],
    )


def _is_error(reply: Reply) -> bool:
    return reply == Reply.error(reply.text)


class TelegramConversations:
    """Runs guided commands for the Telegram frontend; it calls in from its handlers."""

    platform = "telegram"

    def __init__(self, engine: Engine, deliver: Deliver, *, store: ConversationStore | None = None) -> None:
        self.engine = engine
        self.deliver = deliver
        self.store = store or ConversationStore(engine.db)

    # ------------------------------------------------------------------ entry points

    @staticmethod
    def owns(data: str | None) -> bool:
        """Whether a button press belongs to a conversation rather than being a command line."""
        return bool(data) and str(data).startswith(CALLBACK_PREFIX)

    async def on_command(self, caller: Caller, chat: Chat, user: User, text: str) -> bool:
        """``/cancel``, or a guided command with no arguments; True if handled here."""
        first = text.split(maxsplit=1)[0].lstrip("/").split("@", 1)[0].lower()
        if first == CANCEL_COMMAND and not self._is_command(CANCEL_COMMAND):
            await self._cancel(self._key(chat.id, user.id), chat.id)
            return True
        command = self._guided(caller, text)
        if command is None:
            return False
        if chat.type not in _GROUP_TYPES:
            await self._start(command, self._key(chat.id, user.id), chat.id)
            return True
        # answers can only be read in the private chat (see module doc)
        try:
            await self._start(command, self._key(user.id, user.id), user.id)
        except DeliveryRefused:
            await self.store.cancel(self._key(user.id, user.id))
            note = (
                f"🔒 {user.first_name}, I can't message you yet. Open a private chat with me, press Start, "
                f"then send /{command.name} again."
            )
        else:
            note = f"📬 {user.first_name}, I sent you the questions in a private chat."
        await self.deliver(chat.id, None, Reply(text=note))
        return True

    async def on_text(self, chat: Chat, user: User, text: str) -> bool:
        """A plain message in a private chat: the answer to the current question, if one is open."""
        key = self._key(chat.id, user.id)
        for _ in range(_RACE_RETRIES):
            conversation = await self.store.get(key)
            if conversation is None:
                return False
            command = await self._live(conversation, chat.id)
            if command is None:
                return True
            if conversation.step >= len(command.guided):
                await self.deliver(chat.id, None, summary(command, conversation, hint="Press Save or Cancel."))
                return True
            if await self._answer(command, conversation, chat.id, text):
                return True
        log.warning("telegram.conversation_contended", chat=chat.id)
        return True

    async def on_button(self, caller: Caller, chat: Chat, user: User, data: str) -> str | None:
        """A conversation button; returns a short alert for the presser, if there is something to say."""
        version_text, _, verb = data.removeprefix(CALLBACK_PREFIX).partition(":")
        key = self._key(chat.id, user.id)
        conversation = await self.store.get(key)
        if conversation is not None and verb == "cancel" and str(conversation.version) == version_text:
            await self._cancel(key, chat.id)
            return None
        if conversation is None or str(conversation.version) != version_text:
            return "That question was already answered." if conversation else "This form is closed."
        command = await self._live(conversation, chat.id)
        if command is None:
            return None
        params = command.guided
        if verb == "save" and conversation.step >= len(params):
            await self._save(command, conversation, caller, chat.id)
            return None
        if conversation.step >= len(params):
            return "Press Save or Cancel."
        param = params[conversation.step]
        if verb == "skip" and not param.required:
            answers = {k: v for k, v in conversation.answers.items() if k != param.name}
            if not await self._move(command, conversation, answers, chat.id):
                return "That question was already answered."
            return None
        if verb.startswith("c") and verb[1:].isdigit() and int(verb[1:]) < len(param.choices):
            if not await self._answer(command, conversation, chat.id, param.choices[int(verb[1:])]):
                return "That question was already answered."
            return None
        return "That button is no longer valid."

    # ------------------------------------------------------------------ steps

    async def _start(self, command: Command, key: ConversationKey, chat_id: int) -> None:
        conversation = await self.store.start(key, command.name)
        await self.deliver(chat_id, None, prompt(command, conversation))

    async def _answer(self, command: Command, conversation: Conversation, chat_id: int, value: str) -> bool:
        """Check ``value`` for the current step, then move on. False if another update moved first."""
        param = command.guided[conversation.step]
        try:
            converted = param.convert(value)
        except BadArgument as exc:
            await self.deliver(chat_id, None, prompt(command, conversation, problem=str(exc)))
            return True
        stored = str(converted) if param.choices else value.strip()
        answers = {**conversation.answers, param.name: stored}
        return await self._move(command, conversation, answers, chat_id)

    async def _move(self, command: Command, conversation: Conversation, answers: dict[str, str], chat_id: int) -> bool:
        """On to the next question, or to the summary after the last one or after a fix."""
        step = len(command.guided) if conversation.fixing else conversation.step + 1
        moved = await self.store.advance(conversation, step=step, answers=answers)
        if moved is None:
            return False
        if step >= len(command.guided):
            await self.deliver(chat_id, None, summary(command, moved))
        else:
            await self.deliver(chat_id, None, prompt(command, moved))
        return True

    async def _save(self, command: Command, conversation: Conversation, caller: Caller, chat_id: int) -> None:
        """Run the command with the answers. Only the update that claims the conversation saves, so a
        double-tapped Save stores once. A refusal naming a guided field asks that field again."""
        if not await self.store.claim(conversation):
            return
        reply = await self.engine.dispatch(caller, command.name, dict(conversation.answers))
        if _is_error(reply):
            found = _FIELD.match(reply.text)
            steps = [p.name for p in command.guided]
            if found and found.group(1) in steps:
                step = steps.index(found.group(1))
                answers = {k: v for k, v in conversation.answers.items() if k != found.group(1)}
                retry = await self.store.start(
                    conversation.key, command.name, step=step, answers=answers, fixing=True
                )
                await self.deliver(chat_id, None, prompt(command, retry, problem=reply.text))
                return
        await self.deliver(chat_id, None, reply)

    async def _cancel(self, key: ConversationKey, chat_id: int) -> None:
        cancelled = await self.store.cancel(key)
        text = "Cancelled. Nothing was saved." if cancelled else "Nothing to cancel."
        await self.deliver(chat_id, None, Reply(text=text))

    async def _live(self, conversation: Conversation, chat_id: int) -> Command | None:
        """The conversation's command, or None (and the member told why) if it timed out or the
        command no longer exists."""
        if conversation.expired:
            await self.store.cancel(conversation.key)
            text = f"⌛ That form timed out; nothing was saved. Send /{conversation.command} to start again."
            await self.deliver(chat_id, None, Reply(text=text))
            return None
        try:
            command = self.engine.registry.get(conversation.command)
        except UserError:
            command = None
        if command is None or not command.guided:
            await self.store.cancel(conversation.key)
            text = f"/{conversation.command} can no longer be filled in step by step."
            await self.deliver(chat_id, None, Reply(text=text))
            return None
        return command

    # ------------------------------------------------------------------ helpers

    def _guided(self, caller: Caller, text: str) -> Command | None:
        """The command if ``text`` is a guided command with no arguments that the caller may run."""
        try:
            command, words, named = self.engine.registry.parse(text)
        except UserError:
            return None
        if command.guide is None or words or named or self.platform not in command.frontends:
            return None
        if command.permission > self.engine.identity.role_for(caller):
            return None  # the engine refuses it with its usual message
        return command

    def _is_command(self, name: str) -> bool:
        try:
            self.engine.registry.get(name)
        except UserError:
            return False
        return True

    def _key(self, chat_id: int, user_id: int) -> ConversationKey:
        return ConversationKey(self.platform, str(chat_id), str(user_id))
