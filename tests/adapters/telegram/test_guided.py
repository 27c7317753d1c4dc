"""Guided `/alerts add` on Telegram: a step-by-step conversation through the real python-telegram-bot
against the fake Bot API, with its state in the database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.alerts.models import AlertRule
from core.conversations import ConversationRow
from core.replies import Reply
from core.storage.database import Database
from core.storage.types import utcnow
from tests.testbot import TelegramTestBot

pytestmark = pytest.mark.filterwarnings("ignore:.*attribute `retry_after`:DeprecationWarning")

GROUP_ID = -1002500


@pytest.fixture
async def tg(make_telegram_bot: Any, database: Database) -> TelegramTestBot:
    """Alice and Bob on Telegram; the bot's state on each database."""
    bot: TelegramTestBot = await make_telegram_bot(db=database)
    bot.member("alice")
    bot.member("bob")
    return bot


def _action(reply: Reply, label: str) -> str:
    """The callback data of the button labelled ``label``, to press it again by hand."""
    return next(str(b.action) for b in reply.buttons if b.label == label)


async def _rules(db: Database) -> list[AlertRule]:
    async with db.read() as session:
        return list((await session.execute(select(AlertRule).order_by(AlertRule.id))).scalars())


async def test_full_conversation_stores_the_rule_and_survives_a_restart(tg: TelegramTestBot) -> None:
    fake = tg.fake
    first = await tg.say("alice", "/alerts add")
    assert first.plain_text().startswith("New alert · 1/8\nKeywords: Words that must all be in the title")
    assert [b.label for b in first.buttons] == ["Skip", "Cancel"]

    sizes = await tg.say("alice", "jordan 4 bred")
    assert "2/8" in sizes.plain_text() and "Sizes:" in sizes.plain_text()
    price = await tg.say("alice", "10, 10.5")
    assert "Max price:" in price.plain_text()

    again = await tg.say("alice", "abc")  # bad answer: asked again, with the field named
    assert "3/8" in again.plain_text() and "⚠️ max_price: expected a number, got abc" in again.plain_text()
    stores = await tg.say("alice", "$250")
    assert "4/8" in stores.plain_text()
    priority = await tg.press("alice", stores, "Skip")
    assert [b.label for b in priority.buttons] == ["normal", "high", "Skip", "Cancel"]
    brands = await tg.press("alice", priority, "high")
    assert "6/8" in brands.plain_text() and "Brands:" in brands.plain_text()

    await tg.restart()  # the conversation lives in the database, not in the frontend
    minimum = await tg.press("alice", brands, "Skip")
    assert "Min price:" in minimum.plain_text()
    exclude = await tg.say("alice", "300")  # above max_price: the command itself will refuse it
    check = await tg.press("alice", exclude, "Skip")
    assert check.plain_text().startswith("New alert: check and save")
    assert "Keywords: jordan 4 bred" in check.plain_text() and "Priority: high" in check.plain_text()
    assert "Skipped: Stores, Brands, Exclude." in check.plain_text()
    assert [b.label for b in check.buttons] == ["Save", "Cancel"]

    fix = await tg.press("alice", check, "Save")  # refused for one field: that field is asked again
    assert "Max price:" in fix.plain_text() and "max_price: 250 is below min_price 300" in fix.plain_text()
    assert await _rules(tg.engine.db) == []
    check = await tg.say("alice", "350")  # then straight back to the summary
    assert check.plain_text().startswith("New alert: check and save") and "Max price: 350" in check.plain_text()

    saved = await tg.press("alice", check, "Save")
    (rule,) = await _rules(tg.engine.db)
    assert saved.plain_text().startswith(f"🔔 Alert #{rule.id} added: jordan 4 bred")
    assert (rule.keywords, rule.price_min, rule.price_max, rule.high_priority) == (
        ["jordan", "4", "bred"], 300, 350, True,
    )  # fmt: skip
    assert len(rule.sizes) == 2

    fake.press_button(tg["alice"].native, check.raw, _action(check, "Save"))  # a second tap stores nothing more
    await fake.wait_for(lambda: any(a.get("text") == "This form is closed." for a in fake.callback_answers))
    assert len(await _rules(tg.engine.db)) == 1


async def test_cancel_button_and_command_store_nothing(tg: TelegramTestBot) -> None:
    fake = tg.fake
    first = await tg.say("alice", "/alerts add")
    sizes = await tg.say("alice", "dunk low")
    cancelled = await tg.press("alice", sizes, "Cancel")
    assert cancelled.plain_text() == "Cancelled. Nothing was saved."

    fake.command(tg["alice"].native, "/alerts add")
    await fake.wait_for_message(tg["alice"].native.id)
    assert (await tg.say("alice", "/cancel")).plain_text() == "Cancelled. Nothing was saved."
    assert (await tg.say("alice", "/cancel")).plain_text() == "Nothing to cancel."
    fake.press_button(tg["alice"].native, first.raw, _action(first, "Skip"))  # a button from a closed form
    await fake.wait_for(lambda: any(a.get("text") == "This form is closed." for a in fake.callback_answers))
    assert await _rules(tg.engine.db) == []


async def test_plain_text_without_a_conversation_gets_no_answer(tg: TelegramTestBot) -> None:
    tg.fake.user_message(tg["alice"].native, "hello there")
    tg.fake.command(tg["alice"].native, "/ping")
    assert "Pong" in (await tg.fake.wait_for_message(tg["alice"].native.id)).text  # the next thing said is the pong


async def test_typed_arguments_still_run_at_once(tg: TelegramTestBot) -> None:
    reply = await tg.say("alice", "/alerts add yeezy 350 max_price:300")
    assert "added: yeezy 350" in reply.plain_text()
    assert [r.keywords for r in await _rules(tg.engine.db)] == [["yeezy", "350"]]


async def test_every_answer_skipped_ends_with_the_commands_own_error(tg: TelegramTestBot) -> None:
    sent = await tg.say("bob", "/alerts add")
    while "check and save" not in sent.plain_text():
        sent = await tg.press("bob", sent, "Skip")
    assert "You skipped every question." in sent.plain_text()
    refused = await tg.press("bob", sent, "Save")
    assert "A rule needs at least one criterion" in refused.plain_text()
    assert (await tg.say("bob", "/cancel")).plain_text() == "Nothing to cancel."


async def test_in_a_group_the_questions_go_by_dm(tg: TelegramTestBot) -> None:
    fake = tg.fake
    group = fake.group(GROUP_ID)
    fake.command(tg["alice"].native, "/alerts add", chat=group)
    assert "1/8" in (await fake.wait_for_message(tg["alice"].native.id)).text
    note = await fake.wait_for_message(GROUP_ID)
    assert note.text == "📬 Alice, I sent you the questions in a private chat."
    assert "2/8" in (await tg.say("alice", "jordan 1")).plain_text()  # answered in the private chat

    fake.block_chat(tg["bob"].native.id)
    fake.command(tg["bob"].native, "/alerts add", chat=group)
    hint = await fake.wait_for_message(GROUP_ID)
    assert hint.text.startswith("🔒 Bob, I can't message you yet.")
    async with tg.engine.db.read() as session:
        assert (
            await session.get(ConversationRow, ("telegram", str(tg["bob"].native.id), str(tg["bob"].native.id))) is None
        )


async def test_an_expired_conversation_says_so(tg: TelegramTestBot) -> None:
    tg.fake.command(tg["alice"].native, "/alerts add")
    await tg.fake.wait_for_message(tg["alice"].native.id)
    async with tg.engine.db.transaction() as session:
        await session.execute(update(ConversationRow).values(expires_at=utcnow() - timedelta(seconds=1)))
    timed_out = await tg.say("alice", "jordan 4")
    assert timed_out.plain_text().startswith("⌛ That form timed out; nothing was saved.")
    assert (await tg.say("alice", "/cancel")).plain_text() == "Nothing to cancel."
    assert await _rules(tg.engine.db) == []
