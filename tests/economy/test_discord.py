"""The economy on Discord end to end: real discord.py against the fake Discord on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from adapters.discord.frontend import DiscordFrontend
from bot.economy import EconomyRuntime
from bot.economy.verify import verify
from bot.slices import load_models
from core.engine import Engine
from core.storage.types import utcnow
from snpd.app import build_engine
from tests.fakes.discord_api import FakeDiscord, FakeMember, FakeRole, RecordedMessage
from tests.fakes.harness import serving


@dataclass
class Harness:
    fake: FakeDiscord
    engine: Engine
    og: FakeRole


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


@pytest.fixture
async def dc(fake: FakeDiscord, make_config: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    monkeypatch.setenv("DISCORD_TOKEN", fake.token)
    load_models()
    og = fake.add_role("OG")
    shop = [
        {"sku": "og", "name": "OG role", "kind": "role", "price": 40, "value": str(og.id), "days": 30},
        {"sku": "ghost", "name": "Ghost role", "kind": "role", "price": 25, "value": "4242", "days": 30},
    ]
    config = make_config(
        discord={"api_base": fake.api_base, "guild_ids": [fake.guild_id]},
        economy={"min_account_age_days": 0, "tip_pair_cooldown_seconds": 0, "shop": shop},
    )
    engine = build_engine(config)
    await engine.start()
    async with serving(engine, [DiscordFrontend(engine, defer_after=0.5, guild_ready_timeout=0.05)]):
        yield Harness(fake, engine, og)
        report = await verify(engine.db)
        assert report.ok, report.render()


async def _say(dc: Harness, name: str, values: dict[str, Any] | None = None, user: FakeMember | None = None) -> Any:
    return await dc.fake.wait_for_reply(await dc.fake.send_command(name, values, user=user))


def _embed(message: RecordedMessage) -> dict[str, Any]:
    embed: dict[str, Any] = message.embeds[0]
    return embed


async def test_balance_and_tip_on_discord(dc: Harness) -> None:
    alice, bob = dc.fake.add_member("alice"), dc.fake.add_member("bob")
    assert _embed(await _say(dc, "laces balance", user=bob))["description"] == "**0 LACES**"
    await _say(dc, "laces balance", user=alice)
    granted = await _say(dc, "admin grant", {"member": alice, "amount": 40, "reason": "welcome"})  # the owner
    assert _embed(granted)["title"] == "🛠️ Granted"

    tip = await _say(dc, "laces tip", {"member": bob, "amount": 15, "note": "for the W"}, user=alice)
    assert _embed(tip)["title"] == "💸 Tip sent" and not tip.ephemeral
    assert "**alice** tipped **bob** 15 LACES" in _embed(tip)["description"]
    assert _embed(await _say(dc, "laces balance", user=bob))["description"] == "**15 LACES**"
    shown = await _say(dc, "laces balance", {"member": bob}, user=alice)
    assert _embed(shown)["title"] == "👟 bob's LACES"

    too_much = await _say(dc, "laces tip", {"member": bob, "amount": 26}, user=alice)
    assert too_much.ephemeral and "Not enough LACES: you have 25 LACES" in _embed(too_much)["description"]
    zero = await _say(dc, "laces tip", {"member": bob, "amount": 0}, user=alice)
    assert zero.ephemeral and "`amount`: must be at least 1" in _embed(zero)["description"]
    self_tip = await _say(dc, "laces tip", {"member": alice, "amount": 1}, user=alice)
    assert "can't tip yourself" in _embed(self_tip)["description"]
    robot = dc.fake.add_member("robot", bot=True)
    await _say(dc, "laces balance", user=robot)
    to_bot = await _say(dc, "laces tip", {"member": robot, "amount": 1}, user=alice)
    assert "Bots can't hold LACES" in _embed(to_bot)["description"]


async def test_role_from_the_shop_double_click_expiry_and_refund(dc: Harness) -> None:
    alice = dc.fake.add_member("alice")
    await _say(dc, "laces balance", user=alice)
    await _say(dc, "admin grant", {"member": alice, "amount": 100, "reason": "event prize"})
    listing = await _say(dc, "shop list", user=alice)
    buy = next(b["custom_id"] for b in listing.buttons() if b["label"] == "Buy OG role")
    first = await dc.fake.wait_for_reply(await dc.fake.press_button(listing, buy, user=alice))
    second = await dc.fake.wait_for_reply(await dc.fake.press_button(listing, buy, user=alice))
    assert _embed(first)["title"] == "🛍️ Bought"
    assert _embed(second)["title"] == "🛒 Already done"
    assert dc.og.id in dc.fake.members[alice.user.id].roles
    assert "60 LACES" in _embed(await _say(dc, "laces balance", user=alice))["description"]

    shop = dc.engine.service(EconomyRuntime).shop
    assert await shop.expire(utcnow() + timedelta(days=29)) == 0
    assert await shop.expire(utcnow() + timedelta(days=31)) == 1
    assert dc.og.id not in dc.fake.members[alice.user.id].roles

    refunded = await _say(dc, "shop buy", {"item": "ghost"}, user=alice)
    assert _embed(refunded)["title"] == "↩️ Refunded"
    assert "no longer exists" in _embed(refunded)["description"]
    assert "60 LACES" in _embed(await _say(dc, "laces balance", user=alice))["description"]
