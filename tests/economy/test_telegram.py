"""The economy on Telegram end to end: real python-telegram-bot against the fake Bot API on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.telegram.frontend import TelegramFrontend
from bot.economy.verify import verify
from bot.slices import load_models
from snpd.app import build_engine
from tests.fakes.harness import serving
from tests.fakes.telegram_api import FakeTelegramAPI, FakeUser

pytestmark = pytest.mark.filterwarnings("ignore:.*attribute `retry_after`:DeprecationWarning")

ALICE = FakeUser(id=2001, first_name="Alice", username="alice")
BOB = FakeUser(id=2002, first_name="Bob", username="bob")
OWNER = FakeUser(id=2009, first_name="Owner", username="owner")
GROUP_ID = -1002500


@pytest.fixture
async def tg(make_config: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as fake:
        monkeypatch.setenv("TELEGRAM_TOKEN", fake.token)
        load_models()
        config = make_config(
            telegram={"api_base": f"http://127.0.0.1:{fake.port}", "poll_timeout": 2},
            permissions={"admins": [f"telegram:{OWNER.id}"]},
            economy={
                "min_account_age_days": 0,
                "tip_pair_cooldown_seconds": 0,
                "shop": [{"sku": "fire", "name": "Fire flair", "kind": "flair", "price": 5, "value": "🔥"}],
            },
        )
        engine = build_engine(config)
        await engine.start()
        async with serving(engine, [TelegramFrontend(engine)]):
            yield fake
            report = await verify(engine.db)
            assert report.ok, report.render()


async def test_balance_and_tip_on_telegram(tg: FakeTelegramAPI) -> None:
    tg.command(BOB, "/laces balance")
    assert "0 LACES" in (await tg.wait_for_message(BOB.id)).text
    tg.command(ALICE, "/laces balance")
    await tg.wait_for_message(ALICE.id)
    tg.command(OWNER, "/admin grant @alice 40 welcome to the group")
    assert "Granted 40 LACES to alice" in (await tg.wait_for_message(OWNER.id)).text

    group = tg.group(GROUP_ID, "Cooks")
    tg.command(ALICE, "/laces tip @bob 15 for the early link", chat=group)
    tipped = await tg.wait_for_message(GROUP_ID)
    assert "alice tipped bob 15 LACES" in tipped.text and "for the early link" in tipped.text
    tg.command(BOB, "/laces balance")
    assert "15 LACES" in (await tg.wait_for_message(BOB.id)).text

    for line, problem in [
        ("/laces tip @bob 2.5", "amount: expected a whole number, got 2.5"),
        ("/laces tip @bob 0", "amount: must be at least 1"),
        ("/laces tip @bob 26", "Not enough LACES: you have 25 LACES and the tip is 26 LACES."),
        ("/laces tip @zed 1", "No member called @zed"),
    ]:
        tg.command(ALICE, line)
        assert problem in (await tg.wait_for_message(ALICE.id)).text, line


async def test_buy_button_pressed_twice_on_telegram_buys_once(tg: FakeTelegramAPI) -> None:
    tg.command(ALICE, "/laces balance")
    await tg.wait_for_message(ALICE.id)
    tg.command(OWNER, "/admin grant @alice 12 contest")
    await tg.wait_for_message(OWNER.id)
    tg.command(ALICE, "/shop list")
    listing = await tg.wait_for_message(ALICE.id)
    tg.press_button(ALICE, listing)
    assert "Bought" in (await tg.wait_for_message(ALICE.id)).text
    tg.press_button(ALICE, listing)
    assert "already bought" in (await tg.wait_for_message(ALICE.id)).text
    tg.command(ALICE, "/laces balance")
    balance = await tg.wait_for_message(ALICE.id)
    assert "7 LACES" in balance.text and "🔥" in balance.text
