"""Guided `/alerts add` on Telegram: a step-by-step conversation through the real python-telegram-bot
against the fake Bot API, with its state in the database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from adapters.telegram.frontend import TelegramFrontend
from bot.alerts.models import AlertRule
from core.conversations import ConversationRow
from core.engine import Engine
from core.storage.database import Database
from core.storage.types import utcnow
from snpd.app import build_engine
from tests.fakes.telegram_api import FakeTelegramAPI, FakeUser, SentMessage

pytestmark = pytest.mark.filterwarnings("ignore:.*attribute `retry_after`:DeprecationWarning")

ALICE = FakeUser(id=2001, first_name="Alice", username="alice")
BOB = FakeUser(id=2002, first_name="Bob", username="bob")
GROUP_ID = -1002500


@dataclass
class Harness:
    fake: FakeTelegramAPI
    engine: Engine
    frontend: TelegramFrontend

    async def restart(self) -> None:
        """A new frontend object on the same database, as after a process restart."""
        await self.frontend.stop()
        self.frontend = TelegramFrontend(self.engine)
        self.engine.attach(self.frontend)
        await self.frontend.start()

    async def say(self, user: FakeUser, text: str) -> SentMessage:
        self.fake.user_message(user, text)
        return await self.fake.wait_for_message(user.id)

    async def press(self, user: FakeUser, sent: SentMessage, label: str) -> SentMessage:
        self.fake.press_button(user, sent, _button(sent, label))
        return await self.fake.wait_for_message(user.id)


def _button(sent: SentMessage, label: str) -> str:
    found = [b["callback_data"] for b in sent.buttons if b["text"] == label]
    assert found, f"no {label!r} button in {[b['text'] for b in sent.buttons]}"
    return str(found[0])


@pytest.fixture
async def tg(database: Database, make_config: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    async with FakeTelegramAPI() as fake:
        monkeypatch.setenv("TELEGRAM_TOKEN", fake.token)
        config = make_config(telegram={"api_base": f"http://127.0.0.1:{fake.port}", "poll_timeout": 2})
        engine = build_engine(config, db=database)
        await engine.start(migrate=False)
        harness = Harness(fake, engine, TelegramFrontend(engine))
        engine.attach(harness.frontend)
        await harness.frontend.start()
        try:
            yield harness
        finally:
            await engine.stop_work()
            await harness.frontend.stop()
            await engine.stop()


async def _rules(db: Database) -> list[AlertRule]:
    async with db.read() as session:
        return list((await session.execute(select(AlertRule).order_by(AlertRule.id))).scalars())


async def test_full_conversation_stores_the_rule_and_survives_a_restart(tg: Harness) -> None:
    fake = tg.fake
    fake.command(ALICE, "/alerts add")
    first = await fake.wait_for_message(ALICE.id)
    assert first.text.startswith("New alert · 1/8\nKeywords: Words that must all be in the title")
    assert [b["text"] for b in first.buttons] == ["Skip", "Cancel"]

    sizes = await tg.say(ALICE, "jordan 4 bred")
    assert "2/8" in sizes.text and "Sizes:" in sizes.text
    price = await tg.say(ALICE, "10, 10.5")
    assert "Max price:" in price.text

    again = await tg.say(ALICE, "abc")  # bad answer: asked again, with the field named
    assert "3/8" in again.text and "⚠️ max_price: expected a number, got abc" in again.text
    stores = await tg.say(ALICE, "$250")
    assert "4/8" in stores.text
    priority = await tg.press(ALICE, stores, "Skip")
    assert [b["text"] for b in priority.buttons] == ["normal", "high", "Skip", "Cancel"]
    brands = await tg.press(ALICE, priority, "high")
    assert "6/8" in brands.text and "Brands:" in brands.text

    await tg.restart()  # the conversation lives in the database, not in the frontend
    minimum = await tg.press(ALICE, brands, "Skip")
    assert "Min price:" in minimum.text
    exclude = await tg.say(ALICE, "300")  # above max_price: the command itself will refuse it
    check = await tg.press(ALICE, exclude, "Skip")
    assert check.text.startswith("New alert: check and save")
    assert "Keywords: jordan 4 bred" in check.text and "Priority: high" in check.text
    assert "Skipped: Stores, Brands, Exclude." in check.text
    assert [b["text"] for b in check.buttons] == ["Save", "Cancel"]

    fix = await tg.press(ALICE, check, "Save")  # refused for one field: that field is asked again
    assert "Max price:" in fix.text and "max_price: 250 is below min_price 300" in fix.text
    assert await _rules(tg.engine.db) == []
    check = await tg.say(ALICE, "350")  # then straight back to the summary
    assert check.text.startswith("New alert: check and save") and "Max price: 350" in check.text

    saved = await tg.press(ALICE, check, "Save")
    (rule,) = await _rules(tg.engine.db)
    assert saved.text.startswith(f"🔔 Alert #{rule.id} added: jordan 4 bred")
    assert (rule.keywords, rule.price_min, rule.price_max, rule.high_priority) == (
        ["jordan", "4", "bred"], 300, 350, True,
    )  # fmt: skip
    assert len(rule.sizes) == 2

    fake.press_button(ALICE, check, _button(check, "Save"))  # a second tap stores nothing more
    await fake.wait_for(lambda: any(a.get("text") == "This form is closed." for a in fake.callback_answers))
    assert len(await _rules(tg.engine.db)) == 1


async def test_cancel_button_and_command_store_nothing(tg: Harness) -> None:
    fake = tg.fake
    fake.command(ALICE, "/alerts add")
    first = await fake.wait_for_message(ALICE.id)
    sizes = await tg.say(ALICE, "dunk low")
    cancelled = await tg.press(ALICE, sizes, "Cancel")
    assert cancelled.text == "Cancelled. Nothing was saved."

    fake.command(ALICE, "/alerts add")
    await fake.wait_for_message(ALICE.id)
    assert (await tg.say(ALICE, "/cancel")).text == "Cancelled. Nothing was saved."
    assert (await tg.say(ALICE, "/cancel")).text == "Nothing to cancel."
    fake.press_button(ALICE, first, _button(first, "Skip"))  # a button from a closed form
    await fake.wait_for(lambda: any(a.get("text") == "This form is closed." for a in fake.callback_answers))
    assert await _rules(tg.engine.db) == []


async def test_plain_text_without_a_conversation_gets_no_answer(tg: Harness) -> None:
    tg.fake.user_message(ALICE, "hello there")
    tg.fake.command(ALICE, "/ping")
    assert "Pong" in (await tg.fake.wait_for_message(ALICE.id)).text  # the next thing said is the pong


async def test_typed_arguments_still_run_at_once(tg: Harness) -> None:
    reply = await tg.say(ALICE, "/alerts add yeezy 350 max_price:300")
    assert "added: yeezy 350" in reply.text
    assert [r.keywords for r in await _rules(tg.engine.db)] == [["yeezy", "350"]]


async def test_every_answer_skipped_ends_with_the_commands_own_error(tg: Harness) -> None:
    tg.fake.command(BOB, "/alerts add")
    sent = await tg.fake.wait_for_message(BOB.id)
    while "check and save" not in sent.text:
        sent = await tg.press(BOB, sent, "Skip")
    assert "You skipped every question." in sent.text
    refused = await tg.press(BOB, sent, "Save")
    assert "A rule needs at least one criterion" in refused.text
    assert (await tg.say(BOB, "/cancel")).text == "Nothing to cancel."


async def test_in_a_group_the_questions_go_by_dm(tg: Harness) -> None:
    fake = tg.fake
    group = fake.group(GROUP_ID)
    fake.command(ALICE, "/alerts add", chat=group)
    assert "1/8" in (await fake.wait_for_message(ALICE.id)).text
    note = await fake.wait_for_message(GROUP_ID)
    assert note.text == "📬 Alice, I sent you the questions in a private chat."
    assert "2/8" in (await tg.say(ALICE, "jordan 1")).text  # answered in the private chat

    fake.block_chat(BOB.id)
    fake.command(BOB, "/alerts add", chat=group)
    hint = await fake.wait_for_message(GROUP_ID)
    assert hint.text.startswith("🔒 Bob, I can't message you yet.")
    async with tg.engine.db.read() as session:
        assert await session.get(ConversationRow, ("telegram", str(BOB.id), str(BOB.id))) is None


async def test_an_expired_conversation_says_so(tg: Harness) -> None:
    tg.fake.command(ALICE, "/alerts add")
    await tg.fake.wait_for_message(ALICE.id)
    async with tg.engine.db.transaction() as session:
        await session.execute(update(ConversationRow).values(expires_at=utcnow() - timedelta(seconds=1)))
    timed_out = await tg.say(ALICE, "jordan 4")
    assert timed_out.text.startswith("⌛ That form timed out; nothing was saved.")
    assert (await tg.say(ALICE, "/cancel")).text == "Nothing to cancel."
    assert await _rules(tg.engine.db) == []
