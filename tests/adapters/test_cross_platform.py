"""One engine, every frontend at once, wired exactly as ``snpd run`` wires them.

The same command must say the same thing on Discord, Telegram, SMS and the shell; a feed item must
reach a Discord channel and a Telegram chat; ``/link`` must merge a Discord and a Telegram account.
"""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from adapters.discord.frontend import DiscordFrontend
from adapters.shell.frontend import ShellFrontend
from adapters.telegram.frontend import TelegramFrontend
from core.engine import Engine
from core.markup import to_plain
from core.replies import Reply
from core.targets import DiscordChannel, TelegramChat
from snpd.app import build_engine, chat_frontends
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.harness import free_port, serving
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.twilio_api import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, FakeTwilioAPI, inbound_params, post_webhook
from tests.testbot import DiscordTestBot, TelegramTestBot, heard_on_discord

pytestmark = pytest.mark.filterwarnings("ignore:.*attribute `retry_after`:DeprecationWarning")

OUR_NUMBER = "+14155550100"
PHONE = "+14155550123"


@dataclass
class World:
    engine: Engine
    discord: FakeDiscord
    telegram: FakeTelegramAPI
    twilio: FakeTwilioAPI
    sms_url: str
    shell: ShellFrontend
    dc: DiscordTestBot  # the same engine, spoken to through the Discord frontend
    tg: TelegramTestBot  # and through the Telegram one

    async def sms(self, body: str) -> str:
        status, xml = await post_webhook(self.sms_url, DEFAULT_AUTH_TOKEN, inbound_params(PHONE, body, to=OUR_NUMBER))
        assert status == 200, xml
        found = re.search(r"<Message>(.*)</Message>", xml, re.DOTALL)
        assert found is not None, xml
        return found.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@pytest.fixture
async def world(make_config: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    port = free_port()
    sms_url = f"http://127.0.0.1:{port}/twilio/sms"
    async with FakeDiscord() as discord_fake, FakeTelegramAPI() as telegram_fake, FakeTwilioAPI() as twilio_fake:
        monkeypatch.setenv("DISCORD_TOKEN", discord_fake.token)
        monkeypatch.setenv("TELEGRAM_TOKEN", telegram_fake.token)
        monkeypatch.setenv("TWILIO_ACCOUNT_SID", DEFAULT_ACCOUNT_SID)
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", DEFAULT_AUTH_TOKEN)
        config = make_config(
            discord={"api_base": discord_fake.api_base, "guild_ids": [discord_fake.guild_id]},
            telegram={"api_base": f"http://127.0.0.1:{telegram_fake.port}", "poll_timeout": 2},
            sms={"from_number": OUR_NUMBER, "webhook_port": port, "public_url": sms_url,
                 "api_base": twilio_fake.base_url},
        )  # fmt: skip
        assert config.frontends_enabled() == {
            "discord": "on", "telegram": "on", "sms": "on", "shell": "off: a chat frontend is configured",
        }  # fmt: skip
        engine = build_engine(config)
        await engine.start()
        frontends = chat_frontends(engine)
        assert [f.name for f in frontends] == ["discord", "telegram", "sms"]
        async with serving(engine, frontends):
            shell = ShellFrontend(engine, stdin=io.StringIO(), stdout=io.StringIO())
            discord_front, telegram_front, _sms = frontends
            assert isinstance(discord_front, DiscordFrontend) and isinstance(telegram_front, TelegramFrontend)
            dc = DiscordTestBot(engine, discord_fake, discord_front)
            tg = TelegramTestBot(engine, telegram_fake, telegram_front)
            tg.member("alice")
            yield World(engine, discord_fake, telegram_fake, twilio_fake, sms_url, shell, dc, tg)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in to_plain(text).splitlines() if line.strip()]


async def test_same_command_same_content_on_every_frontend(world: World) -> None:
    expected = _lines(Reply.plain_text(await world.engine.dispatch_line(world.shell.caller, "/help link")))
    assert expected[0] == "/link" and "Usage: /link [code]" in expected

    embed = (await world.dc.say(world.dc.owner, "/help link")).raw.embeds[0]
    discord_lines = _lines("\n".join([embed["title"], embed["description"]] + [
        f"{field['name']}: {field['value']}" for field in embed.get("fields", [])
    ]))  # fmt: skip

    telegram_lines = _lines((await world.tg.say("alice", "/help link")).raw.text)

    sms_lines = _lines(await world.sms("/help link"))
    shell_lines = _lines((await world.shell.handle_line("/help link") or "").replace("== /link ==", "/link"))

    assert discord_lines == expected
    assert telegram_lines == expected
    assert shell_lines == expected
    # SMS keeps to two segments, so it may trim the tail, never change the start.
    assert sms_lines[:3] == expected[:3]


async def test_a_feed_item_reaches_discord_and_telegram(world: World) -> None:
    await world.engine.feeds.bind("restocks", DiscordChannel(channel_id=world.discord.general.id), by=None)
    alice = world.tg["alice"].native
    await world.engine.feeds.bind("restocks", TelegramChat(chat_id=alice.id), by=None)
    await world.engine.feeds.publish("restocks", Reply(title="RESTOCK Dunk Low Panda", text="US 9, 10, 11 — $115"))
    await world.engine.bus.drain()
    on_discord = await world.discord.wait_for_message(world.discord.general.id)
    on_telegram = await world.telegram.wait_for_message(alice.id)
    assert on_discord.embeds[0]["title"] == "RESTOCK Dunk Low Panda"
    assert on_telegram.text == "RESTOCK Dunk Low Panda\nUS 9, 10, 11 — $115"


async def test_link_merges_a_discord_and_a_telegram_account(world: World) -> None:
    issued = await world.dc.say(world.dc.owner, "/link")
    assert issued.ephemeral
    code = re.search(r"Your code: \*\*([A-Z2-9]{5}-[A-Z2-9]{5})\*\*", issued.text)
    assert code is not None
    asked = await world.tg.say("alice", f"/link {code.group(1)}")
    assert "Link requested" in asked.plain_text() and "Discord @owner" in asked.plain_text()
    ask = heard_on_discord(await world.discord.wait_for_dm(world.discord.owner.id))
    assert "Telegram @alice wants to join your account" in ask.text
    assert [button.label for button in ask.buttons] == ["Confirm", "Refuse"]
    merged = await world.dc.press(world.dc.owner, ask, "Confirm")
    assert "This member now owns: Discord, Telegram." in merged.plain_text()
    told = await world.telegram.wait_for_message(world.tg["alice"].native.id)
    assert "Your Telegram @alice account is now part of Discord @owner" in told.text
    assert "already used" in (await world.tg.say("alice", f"/link {code.group(1)}")).plain_text()
    profile = await world.dc.say(world.dc.owner, "/profile")
    accounts = next(f.value for f in profile.fields if f.name == "Accounts")
    assert "Discord:" in accounts and "Telegram: alice" in accounts
