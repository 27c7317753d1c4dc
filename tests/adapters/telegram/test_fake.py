"""The fake Bot API speaks the protocol the real python-telegram-bot expects.

These tests use PTB directly (no SNPD code) so a failure here points at the fake, not the adapter.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, RetryAfter
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, CommandHandler, ContextTypes
from telegram.warnings import PTBDeprecationWarning

from tests.fakes.telegram_api import FakeTelegramAPI, FakeUser

#: PTB itself reads the deprecated int ``retry_after`` while building ``RetryAfter``; not our warning.
pytestmark = pytest.mark.filterwarnings("ignore:.*attribute `retry_after`:DeprecationWarning")

ALICE = FakeUser(id=1001, first_name="Alice", username="alice")
BOB = FakeUser(id=1002, first_name="Bob", username="bob")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as server:
        yield server


def build_app(fake: FakeTelegramAPI) -> Application:  # type: ignore[type-arg]
    return ApplicationBuilder().token(fake.token).base_url(fake.base_url).base_file_url(fake.base_file_url).build()


async def running(app: Application, poll_timeout: int = 2) -> None:  # type: ignore[type-arg]
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=poll_timeout)


async def stopped(app: Application) -> None:  # type: ignore[type-arg]
    assert app.updater is not None
    if app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
    await app.shutdown()


def seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def test_application_polls_receives_command_and_replies(fake: FakeTelegramAPI) -> None:
    app = build_app(fake)

    async def ping(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"pong <b>{' '.join(context.args or [])}</b>", parse_mode="HTML")

    app.add_handler(CommandHandler("ping", ping))
    await running(app)
    try:
        assert app.bot.username == "snpd_test_bot"  # getMe ran during initialize
        fake.command(ALICE, "/ping hello world")
        reply = await fake.wait_for_message(ALICE.id)
        assert reply.text == "pong hello world"
        assert reply.raw == "pong <b>hello world</b>"
        group = fake.group(-100123, "Cooks")
        fake.command(BOB, "/ping@snpd_test_bot there", chat=group)
        assert (await fake.wait_for_message(group.id)).text == "pong there"
    finally:
        await stopped(app)
    assert fake.calls_of("deleteWebhook"), "start_polling bootstraps with deleteWebhook"
    assert fake.pending_updates == 0, "the final getUpdates confirmed every update"


async def test_long_polling_holds_and_honours_offset(fake: FakeTelegramAPI) -> None:
    async with Bot(fake.token, base_url=fake.base_url) as bot:
        started = time.monotonic()
        assert await bot.get_updates(timeout=1) == ()
        assert time.monotonic() - started >= 0.9

        async def later() -> None:
            await asyncio.sleep(0.3)
            fake.command(ALICE, "/start")

        started = time.monotonic()
        task = asyncio.create_task(later())
        updates = await bot.get_updates(timeout=5)
        await task
        assert time.monotonic() - started < 2
        assert len(updates) == 1 and updates[0].message is not None
        assert updates[0].message.text == "/start"

        fake.command(ALICE, "/two")
        again = await bot.get_updates(timeout=0)
        assert [u.update_id for u in again] == [updates[0].update_id, updates[0].update_id + 1]
        rest = await bot.get_updates(offset=again[-1].update_id + 1, timeout=0)
        assert rest == ()
        assert fake.pending_updates == 0


async def test_forum_topic_and_group_admin(fake: FakeTelegramAPI) -> None:
    forum = fake.group(-100777, "Cook HQ", forum=True)
    fake.set_member_status(forum.id, ALICE.id, "administrator")
    fake.command(ALICE, "/feed bind drops", chat=forum, topic_id=42)
    async with Bot(fake.token, base_url=fake.base_url) as bot:
        (update,) = await bot.get_updates(timeout=0)
        message = update.effective_message
        assert message is not None and message.is_topic_message and message.message_thread_id == 42
        assert message.chat.is_forum
        sent = await bot.send_message(forum.id, "in topic", message_thread_id=42)
        assert sent.message_thread_id == 42
        member = await bot.get_chat_member(forum.id, ALICE.id)
        assert member.status == "administrator"
        assert (await bot.get_chat_member(forum.id, BOB.id)).status == "member"
    got = await fake.wait_for_message(forum.id, topic_id=42)
    assert got.text == "in topic"


async def test_429_retry_after_then_success(fake: FakeTelegramAPI) -> None:
    fake.fail_next("sendMessage", retry_after=1)
    async with Bot(fake.token, base_url=fake.base_url) as bot:
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(ALICE.id, "hi")
        assert seconds(caught.value) == 1
        await asyncio.sleep(seconds(caught.value))
        await bot.send_message(ALICE.id, "hi")
    assert [c.status for c in fake.calls_of("sendMessage")] == [429, 200]
    assert (await fake.wait_for_message(ALICE.id)).text == "hi"


async def test_handler_retries_after_429_inside_application(fake: FakeTelegramAPI) -> None:
    app = build_app(fake)

    async def ping(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        for _ in range(3):
            try:
                await context.bot.send_message(update.effective_chat.id, "pong")
                return
            except RetryAfter as exc:
                await asyncio.sleep(seconds(exc))

    app.add_handler(CommandHandler("ping", ping))
    fake.fail_next("sendMessage", retry_after=1)
    fake.fail_next("getUpdates", retry_after=1)  # the updater's own retry loop must cope too
    await running(app)
    try:
        fake.command(ALICE, "/ping")
        reply = await fake.wait_for_message(ALICE.id, timeout=8)
        assert reply.text == "pong"
    finally:
        await stopped(app)
    failed, ok = fake.calls_of("sendMessage")
    assert (failed.status, ok.status) == (429, 200)
    assert ok.at - failed.at >= 0.95


async def test_blocked_user_is_forbidden(fake: FakeTelegramAPI) -> None:
    fake.block_chat(BOB.id)
    async with Bot(fake.token, base_url=fake.base_url) as bot:
        with pytest.raises(Forbidden, match="blocked by the user"):
            await bot.send_message(BOB.id, "hello?")
        await bot.send_message(ALICE.id, "still fine")
    assert fake.messages_to(BOB.id) == []


async def test_buttons_callback_edit_commands_photo(fake: FakeTelegramAPI) -> None:
    app = build_app(fake)
    pressed: list[str] = []

    async def menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        keyboard = InlineKeyboardMarkup(
            [
                [InlineKeyboardButton("Yes", callback_data="vote yes")],
                [InlineKeyboardButton("Site", url="https://example.com/")],
            ]
        )
        await update.effective_message.reply_text("Pick", reply_markup=keyboard)

    async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.data is not None
        pressed.append(query.data)
        await query.answer("noted")
        await query.edit_message_text("Picked")

    app.add_handler(CommandHandler("menu", menu))
    app.add_handler(CallbackQueryHandler(on_press))
    await running(app)
    try:
        await app.bot.set_my_commands([BotCommand("menu", "Show the menu")])
        assert [c.command for c in await app.bot.get_my_commands()] == ["menu"]
        fake.command(ALICE, "/menu")
        sent = await fake.wait_for_message(ALICE.id)
        assert [b.get("callback_data") or b.get("url") for b in sent.buttons] == [
            "vote yes",
            "https://example.com/",
        ]
        fake.press_button(BOB, sent)
        await fake.wait_for(lambda: fake.edits)
        assert pressed == ["vote yes"]
        assert fake.callback_answers[0]["text"] == "noted"
        assert fake.edits[0].params["text"] == "Picked"

        photo = await app.bot.send_photo(
            ALICE.id, "https://img.example/shoe.jpg", caption="<i>Jordan</i>", parse_mode="HTML"
        )
        assert photo.caption == "Jordan" and photo.photo
        upload = await app.bot.send_photo(ALICE.id, b"\x89PNG fake bytes", caption="uploaded")
        assert upload.caption == "uploaded"
        assert fake.calls_of("sendPhoto")[-1].files["photo"] == b"\x89PNG fake bytes"
    finally:
        await stopped(app)


async def test_fake_rejects_what_telegram_rejects(fake: FakeTelegramAPI) -> None:
    async with Bot(fake.token, base_url=fake.base_url) as bot:
        with pytest.raises(BadRequest, match="too long"):
            await bot.send_message(ALICE.id, "x" * 4097)
        await bot.send_message(ALICE.id, "&lt;" * 4096, parse_mode="HTML")  # measured after parsing
        with pytest.raises(BadRequest, match=r"(?i)unsupported start tag"):
            await bot.send_message(ALICE.id, "<div>x</div>", parse_mode="HTML")
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_message(ALICE.id, "1 < 2", parse_mode="HTML")
        with pytest.raises(BadRequest, match="caption is too long"):
            await bot.send_photo(ALICE.id, "https://img.example/a.jpg", caption="y" * 1025)
        with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
            markup = InlineKeyboardMarkup([[InlineKeyboardButton("b", callback_data="z" * 65)]])
            await bot.send_message(ALICE.id, "too much data", reply_markup=markup)
        with pytest.raises(BadRequest, match="empty"):
            await bot.send_message(ALICE.id, "<b></b>", parse_mode="HTML")
