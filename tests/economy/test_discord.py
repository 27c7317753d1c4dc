"""The economy on Discord end to end: real discord.py against the fake Discord on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from bot.economy import EconomyRuntime
from bot.economy.verify import verify
from core.storage.types import utcnow
from tests.fakes.discord_api import FakeDiscord, FakeRole
from tests.testbot import DiscordTestBot


@pytest.fixture
def og(fake_discord: FakeDiscord) -> FakeRole:
    return fake_discord.add_role("OG")


@pytest.fixture
async def dc(make_discord_bot: Any, og: FakeRole) -> AsyncIterator[DiscordTestBot]:
    shop = [
        {"sku": "og", "name": "OG role", "kind": "role", "price": 40, "value": str(og.id), "days": 30},
        {"sku": "ghost", "name": "Ghost role", "kind": "role", "price": 25, "value": "4242", "days": 30},
    ]
    bot: DiscordTestBot = await make_discord_bot(
        economy={"min_account_age_days": 0, "tip_pair_cooldown_seconds": 0, "shop": shop}
    )
    yield bot
    report = await verify(bot.engine.db)
    assert report.ok, report.render()


async def test_balance_and_tip_on_discord(dc: DiscordTestBot) -> None:
    alice, bob = dc.member("alice"), dc.member("bob")
    assert (await dc.say(bob, "/laces balance")).text == "**0 LACES**"
    await dc.say(alice, "/laces balance")
    granted = await dc.say(dc.owner, "/admin grant @alice 40 welcome")
    assert granted.title == "🛠️ Granted"

    tip = await dc.say(alice, "/laces tip @bob 15 for the W")
    assert tip.title == "💸 Tip sent" and not tip.ephemeral
    assert "**alice** tipped **bob** 15 LACES" in tip.text
    assert (await dc.say(bob, "/laces balance")).text == "**15 LACES**"
    shown = await dc.say(alice, "/laces balance @bob")
    assert shown.title == "👟 bob's LACES"

    too_much = await dc.fails(alice, "/laces tip @bob 26")
    assert too_much.ephemeral and "Not enough LACES: you have 25 LACES" in too_much.text
    zero = await dc.fails(alice, "/laces tip @bob 0")
    assert zero.ephemeral and "`amount`: must be at least 1" in zero.text
    await dc.fails(alice, "/laces tip @alice 1", match="can't tip yourself")
    robot = dc.member("robot", is_bot=True)
    await dc.say(robot, "/laces balance")
    await dc.fails(alice, "/laces tip @robot 1", match="Bots can't hold LACES")


async def test_role_from_the_shop_double_click_expiry_and_refund(dc: DiscordTestBot, og: FakeRole) -> None:
    alice = dc.member("alice")
    await dc.say(alice, "/laces balance")
    await dc.say(dc.owner, "/admin grant @alice 100 event prize")
    listing = await dc.say(alice, "/shop list")
    first = await dc.press(alice, listing, "Buy OG role")
    second = await dc.press(alice, listing, "Buy OG role")
    assert first.title == "🛍️ Bought"
    assert second.title == "🛒 Already done"
    assert og.id in dc.fake.members[alice.native.user.id].roles
    assert "60 LACES" in (await dc.say(alice, "/laces balance")).text

    shop = dc.engine.service(EconomyRuntime).shop
    assert await shop.expire(utcnow() + timedelta(days=29)) == 0
    assert await shop.expire(utcnow() + timedelta(days=31)) == 1
    assert og.id not in dc.fake.members[alice.native.user.id].roles

    refunded = await dc.say(alice, "/shop buy ghost")
    assert refunded.title == "↩️ Refunded"
    assert "no longer exists" in refunded.text
    assert "60 LACES" in (await dc.say(alice, "/laces balance")).text
