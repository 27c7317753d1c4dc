"""The economy on Telegram end to end: real python-telegram-bot against the fake Bot API on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.economy.verify import verify
from core.commands import Permission
from tests.testbot import TelegramTestBot

pytestmark = pytest.mark.filterwarnings("ignore:.*attribute `retry_after`:DeprecationWarning")

GROUP_ID = -1002500


@pytest.fixture
async def tg(make_telegram_bot: Any) -> AsyncIterator[TelegramTestBot]:
    bot: TelegramTestBot = await make_telegram_bot(
        economy={
            "min_account_age_days": 0,
            "tip_pair_cooldown_seconds": 0,
            "shop": [{"sku": "fire", "name": "Fire flair", "kind": "flair", "price": 5, "value": "🔥"}],
        },
    )
    bot.member("alice")
    bot.member("bob")
    bot.member("owner", role=Permission.ADMIN)  # listed in [permissions] admins
    yield bot
    report = await verify(bot.engine.db)
    assert report.ok, report.render()


async def test_balance_and_tip_on_telegram(tg: TelegramTestBot) -> None:
    assert "0 LACES" in (await tg.say("bob", "/laces balance")).plain_text()
    await tg.say("alice", "/laces balance")
    granted = await tg.say("owner", "/admin grant @alice 40 welcome to the group")
    assert "Granted 40 LACES to alice" in granted.plain_text()

    group = tg.fake.group(GROUP_ID, "Cooks")
    tipped = (await tg.say("alice", "/laces tip @bob 15 for the early link", chat=group)).plain_text()
    assert "alice tipped bob 15 LACES" in tipped and "for the early link" in tipped
    assert "15 LACES" in (await tg.say("bob", "/laces balance")).plain_text()

    for line, problem in [
        ("/laces tip @bob 2.5", "amount: expected a whole number, got 2.5"),
        ("/laces tip @bob 0", "amount: must be at least 1"),
        ("/laces tip @bob 26", "Not enough LACES: you have 25 LACES and the tip is 26 LACES."),
        ("/laces tip @zed 1", "No member called @zed"),
    ]:
        await tg.fails("alice", line, match=problem)


async def test_buy_button_pressed_twice_on_telegram_buys_once(tg: TelegramTestBot) -> None:
    await tg.say("alice", "/laces balance")
    await tg.say("owner", "/admin grant @alice 12 contest")
    listing = await tg.say("alice", "/shop list")
    assert "Bought" in (await tg.press("alice", listing, "Buy Fire flair")).plain_text()
    assert "already bought" in (await tg.press("alice", listing, "Buy Fire flair")).plain_text()
    balance = (await tg.say("alice", "/laces balance")).plain_text()
    assert "7 LACES" in balance and "🔥" in balance
