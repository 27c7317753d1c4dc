"""Alerts end to end: the real engine, the real discord.py, python-telegram-bot and twilio clients,
against the local fake Discord, Telegram Bot API and Twilio servers on loopback."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from adapters.discord.frontend import DiscordFrontend
from adapters.sms.frontend import SmsFrontend
from adapters.telegram.frontend import TelegramFrontend
from bot.alerts import AlertsRuntime
from core.delivery.models import DEAD, REFUSED, SENT, OutboxMessage
from core.engine import Engine
from snpd.app import build_engine
from tests.account.links import confirm_link
from tests.alerts.test_alerts import restock
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.harness import free_port, serving
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.twilio_api import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, FakeTwilioAPI, inbound_params, post_webhook
from tests.testbot import TestBot

pytestmark = pytest.mark.filterwarnings("ignore:.*attribute `retry_after`:DeprecationWarning")

OUR_NUMBER = "+14155550100"
SAM_PHONE = "+14155550123"


@dataclass
class World:
    engine: Engine
    discord: FakeDiscord
    telegram: FakeTelegramAPI
    twilio: FakeTwilioAPI
    webhook: str
    bot: TestBot

    async def text(self, phone: str, body: str) -> None:
        status, _xml = await post_webhook(self.webhook, DEFAULT_AUTH_TOKEN, inbound_params(phone, body, to=OUR_NUMBER))
        assert status == 200

    def sms_to(self, phone: str) -> list[str]:
        return [sms.body for sms in self.twilio.sent if sms.to == phone]


@pytest.fixture
async def world(make_config: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    port = free_port()
    webhook = f"http://127.0.0.1:{port}/twilio/sms"
    async with FakeDiscord() as discord, FakeTelegramAPI() as telegram, FakeTwilioAPI() as twilio:
        monkeypatch.setenv("DISCORD_TOKEN", discord.token)
        monkeypatch.setenv("TELEGRAM_TOKEN", telegram.token)
        monkeypatch.setenv("TWILIO_ACCOUNT_SID", DEFAULT_ACCOUNT_SID)
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", DEFAULT_AUTH_TOKEN)
        config = make_config(
            discord={"api_base": discord.api_base, "guild_ids": [discord.guild_id]},
            telegram={"api_base": f"http://127.0.0.1:{telegram.port}", "poll_timeout": 1},
            sms={"from_number": OUR_NUMBER, "webhook_port": port, "public_url": webhook, "api_base": twilio.base_url},
            delivery={
                "rate_scale": 20.0,
                "backoff_base_s": 0.05,
                "backoff_max_s": 0.2,
                "lease_s": 1.0,
                "send_timeout_s": 1.0,
            },
        )
        engine = build_engine(config)
        await engine.start()
        frontends = [
            DiscordFrontend(engine, defer_after=0.15, guild_ready_timeout=0.05),
            TelegramFrontend(engine),
            SmsFrontend(engine),
        ]
        async with serving(engine, frontends):
            yield World(engine, discord, telegram, twilio, webhook, TestBot(engine))


async def _rows(engine: Engine) -> list[OutboxMessage]:
    async with engine.db.read() as session:
        return list((await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())


async def _until(check: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def _all_settled(engine: Engine) -> bool:
    return all(row.status in {SENT, REFUSED, DEAD} for row in await _rows(engine))


async def test_a_restock_reaches_exactly_the_right_members_on_their_channels(world: World) -> None:
    engine = world.engine
    dana = world.discord.add_member("dana")
    closed = world.discord.add_member("closed")
    world.discord.refuse_dms(closed.user.id)
    dana_c = world.bot.member("dana", "discord", external_id=str(dana.user.id))
    closed_c = world.bot.member("closed", "discord", external_id=str(closed.user.id))
    tina_c = world.bot.member("tina", "telegram", external_id="7001")
    closed_tg = world.bot.member("closed_tg", "telegram", external_id="7002")
    sam_c = world.bot.member("sam", "sms", external_id=SAM_PHONE)
    nobody = world.bot.member("nobody", "telegram", external_id="7003")

    await world.bot.ok(dana_c, "/alerts add jordan 4 sizes:10")
    await world.bot.ok(tina_c, '/alerts add bred sizes:"EU 44"')
    await world.bot.ok(nobody, "/alerts add dunk panda")  # does not match
    await world.bot.ok(closed_c, "/alerts add jordan")
    code = (await world.bot.say(closed_c, "/link")).text.split("**")[1]
    await world.bot.ok(closed_tg, f"/link {code}")  # Discord DMs closed, Telegram linked: falls back
    await confirm_link(engine, closed_c.caller)
    assert "Accounts linked" in (await world.telegram.wait_for_message(7002)).text  # the joiner is told
    await world.text(SAM_PHONE, "PING")  # the number becomes a member
    await world.bot.ok(sam_c, "/alerts add jordan 4 priority:high")
    sam = await world.bot.resolve(sam_c)
    await engine.identity.update_settings(sam.id, sms_enabled=True)

    await engine.service(AlertsRuntime).start()
    await engine.bus.publish("monitor.event", restock())
    await engine.bus.drain()

    dm = await world.discord.wait_for_dm(dana.user.id)
    assert dm.embeds[0]["title"] == "🔔 Restock: Air Jordan 4 Retro Bred"
    tina = await world.telegram.wait_for_message(7001)
    assert "Restock: Air Jordan 4 Retro Bred" in tina.text
    fallback = await world.telegram.wait_for_message(7002)
    assert "Air Jordan 4" in fallback.text
    await _until(lambda: _async(bool(world.sms_to(SAM_PHONE))))
    (text,) = world.sms_to(SAM_PHONE)
    assert "Air Jordan 4 Retro Bred" in text
    assert world.twilio.sent[-1].validity_period is not None
    await _until(lambda: _all_settled(engine))
    assert not world.telegram.messages_to(7003)
    rows = [row for row in await _rows(engine) if row.source == "alert"]
    assert Counter(row.status for row in rows) == {SENT: 4, REFUSED: 1}


async def _async(value: bool) -> bool:
    return value


async def test_stop_ends_sms_alerts(world: World) -> None:
    engine = world.engine
    sam_c = world.bot.member("sam", "sms", external_id=SAM_PHONE)
    await world.text(SAM_PHONE, "PING")
    await world.bot.ok(sam_c, "/alerts add jordan priority:high")
    sam = await world.bot.resolve(sam_c)
    await engine.identity.update_settings(sam.id, sms_enabled=True)
    await engine.service(AlertsRuntime).start()
    await engine.bus.publish("monitor.event", restock("e1"))
    await _until(lambda: _async(len(world.sms_to(SAM_PHONE)) == 1))
    await world.text(SAM_PHONE, "STOP")
    await engine.bus.publish("monitor.event", restock("e2"))
    await engine.bus.drain()
    await asyncio.sleep(0.3)
    assert len(world.sms_to(SAM_PHONE)) == 1, "STOP means no more texts"
    assert [row.key.split(":")[1] for row in await _rows(engine)] == ["e1"]


async def test_a_kill_mid_fan_out_then_restart_loses_and_doubles_nothing(world: World) -> None:
    engine = world.engine
    runtime = engine.service(AlertsRuntime)
    # A running bot: its rule index is loaded before these members write their rules (a rule written
    # while the index is still loading is not this test's subject)
    await runtime.start()
    members = [world.bot.member(f"m{i}", "telegram", external_id=str(9000 + i)) for i in range(60)]
    members += [
        world.bot.member(f"d{i}", "discord", external_id=str(world.discord.add_member(f"d{i}").user.id))
        for i in range(40)
    ]
    phones = [f"+1415555{1000 + i}" for i in range(12)]
    for phone in phones:
        await world.text(phone, "PING")  # the number becomes a member
        members.append(world.bot.member(phone, "sms", external_id=phone))
    for caller in members:
        await world.bot.ok(caller, "/alerts add jordan" + (" priority:high" if caller.platform == "sms" else ""))
        if caller.platform == "sms":
            member = await world.bot.resolve(caller)
            await engine.identity.update_settings(member.id, sms_enabled=True)
    await engine.bus.publish("monitor.event", restock())
    await engine.bus.drain()
    await _until(lambda: _async(len(_received(world)) >= len(members) * 0.4))
    runtime.worker.kill()  # dies mid-fan-out: nothing in flight is awaited or recorded
    delivery = engine.config.section("delivery")
    await asyncio.sleep(delivery.lease_s + delivery.send_timeout_s + 0.1)
    await runtime.restart_worker()
    try:
        await _until(lambda: _all_settled(engine))
    except AssertionError:
        print(Counter((row.status, row.attempts, row.last_error) for row in await _rows(engine)), runtime.worker.stats)
        raise
    received = Counter(_received(world))
    expected = {(caller.platform, caller.caller.external_id) for caller in members}
    in_doubt = runtime.worker.stats.in_doubt_by_channel
    duplicates = Counter({platform: 0 for platform in ("discord", "telegram", "sms")})
    for (platform, _address), n in received.items():
        duplicates[platform] += n - 1
    rows = await _rows(engine)
    assert len(rows) == len(members), "one notification per member"
    assert not [(row.key, row.status, row.attempts, row.last_error) for row in rows if row.status != SENT]
    assert set(received) == expected, "nothing lost, nobody else reached"
    # Sends on the wire at the kill may or may not have arrived. Discord drops the repeated nonce and
    # Twilio's message list says which texts went, so neither doubles; Telegram offers neither, so
    # only its in-doubt sends can repeat, and there are at most send_concurrency of them.
    assert duplicates["discord"] == 0 and duplicates["sms"] == 0
    assert duplicates["telegram"] <= in_doubt.get("telegram", 0) <= delivery.worker_settings().send_concurrency


def _received(world: World) -> list[tuple[str, str]]:
    """(platform, address) of every alert that arrived, once per message."""
    found = [("telegram", str(message.chat_id)) for message in world.telegram.sent]
    found += [("sms", sms.to) for sms in world.twilio.sent if "Jordan" in sms.body]
    for message in world.discord.messages:
        channel = world.discord.channels.get(message.channel_id)
        if channel is not None and channel.type == 1 and channel.recipient is not None:
            found.append(("discord", str(channel.recipient.id)))
    return found


async def test_429_storms_5xx_and_refusals_end_delivered_or_dead_lettered_with_a_reason(world: World) -> None:
    engine = world.engine
    dana = world.discord.add_member("dana")
    dana_c = world.bot.member("dana", "discord", external_id=str(dana.user.id))
    tina_c = world.bot.member("tina", "telegram", external_id="7101")
    stuck_c = world.bot.member("stuck", "telegram", external_id="7102")
    sam_c = world.bot.member("sam", "sms", external_id=SAM_PHONE)
    for caller in (dana_c, tina_c, stuck_c):
        await world.bot.ok(caller, "/alerts add jordan 4")
    await world.text(SAM_PHONE, "PING")
    await world.bot.ok(sam_c, "/alerts add jordan 4 priority:high")
    sam = await world.bot.resolve(sam_c)
    await engine.identity.update_settings(sam.id, sms_enabled=True)

    world.discord.fail_next("POST /channels/{channel_id}/messages", status=502, count=2)
    world.telegram.fail_next("sendMessage", times=3, retry_after=1)  # a 429 storm
    world.telegram.fail_next_with("sendMessage", 502, "Bad Gateway", times=2)
    world.twilio.fail_next(503, 429)
    runtime = engine.service(AlertsRuntime)
    await runtime.start()
    world.telegram.block_chat(7102)  # blocked the bot, and no other channel: a dead letter
    await engine.bus.publish("monitor.event", restock())
    await engine.bus.drain()
    await _until(lambda: _all_settled(engine), timeout=20)

    assert (await world.discord.wait_for_dm(dana.user.id)).embeds[0]["title"].startswith("🔔 Restock")
    assert "Air Jordan 4" in (await world.telegram.wait_for_message(7101)).text
    assert len(world.sms_to(SAM_PHONE)) == 1
    rows = {row.channel + (":stuck" if row.status == DEAD else ""): row for row in await _rows(engine)}
    assert {row.status for key, row in rows.items() if not key.endswith(":stuck")} == {SENT}
    dead = rows["telegram:stuck"]
    assert dead.last_error is not None and "refused on every channel" in dead.last_error
    listed = await world.bot.say(world.bot.member("admin", "shell"), "/admin deadletters")
    assert "refused on every channel" in listed.fields[0].value


async def test_sms_opt_in_verifies_the_phone_with_a_texted_code(world: World) -> None:
    engine = world.engine
    dana_c = world.bot.member("dana", "discord", external_id="8801")
    phone = "+14155550177"
    bad = await world.bot.say(dana_c, "/sms verify 555-0177")
    assert "`phone`" in bad.text
    sent = await world.bot.say(dana_c, f"/sms verify {phone}")
    assert sent.title == "📱 Code sent" and phone not in sent.text and "0177" in sent.text
    (text,) = world.sms_to(phone)
    code = text.split("your code is ")[1][:6]
    wrong = await world.bot.say(dana_c, "/sms confirm 000000" if code != "000000" else "/sms confirm 111111")
    assert "`code`" in wrong.text and "4 tries left" in wrong.text
    done = await world.bot.say(dana_c, f"/sms confirm {code}")
    assert done.title == "✅ Phone verified"
    member = await world.bot.resolve(dana_c)
    assert await engine.identity.address_for(member.id, "sms") == phone
    assert (await engine.identity.get(member.id)).sms_enabled  # type: ignore[union-attr]
    again = await world.bot.say(world.bot.member("eve", "telegram", external_id="8802"), f"/sms verify {phone}")
    assert "already has an account" in again.text
