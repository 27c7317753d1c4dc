"""Every monitor event type, from the local store to a Discord channel and a Telegram group, through
the real discord.py and python-telegram-bot frontends and their fake servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from adapters.discord.frontend import DiscordFrontend
from adapters.telegram.frontend import TelegramFrontend
from bot.monitors.service import MonitorService
from core.engine import Engine
from core.targets import DiscordChannel, TelegramChat
from snpd.app import build_engine
from tests.fakes.discord_api import FakeDiscord, RecordedMessage
from tests.fakes.harness import serving
from tests.fakes.shopify_store import FakeShopifyStore
from tests.fakes.telegram_api import FakeTelegramAPI, SentMessage
from tests.monitors.test_engine import FAST

pytestmark = pytest.mark.filterwarnings("ignore:.*attribute `retry_after`:DeprecationWarning")
GROUP_ID = -1002200


@dataclass
class Rig:
    engine: Engine
    service: MonitorService
    store: FakeShopifyStore
    discord: FakeDiscord
    telegram: FakeTelegramAPI
    role_id: int
    monitor_id: int = 0

    async def poll(self) -> tuple[RecordedMessage, SentMessage]:
        outcome = await self.service.poll(self.monitor_id)
        assert outcome.error is None, outcome.error
        await self.engine.bus.drain()
        posted = await self.discord.wait_for_message(self.discord.general.id, predicate=lambda m: m.source == "channel")
        sent = await self.telegram.wait_for_message(GROUP_ID)
        return posted, sent


@pytest.fixture
async def rig(make_config: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    store = FakeShopifyStore()
    store.seed_catalogue(300)
    await store.start()
    try:
        async with FakeDiscord() as discord_fake, FakeTelegramAPI() as telegram_fake:
            monkeypatch.setenv("DISCORD_TOKEN", discord_fake.token)
            monkeypatch.setenv("TELEGRAM_TOKEN", telegram_fake.token)
            config = make_config(
                discord={"api_base": discord_fake.api_base, "guild_ids": [discord_fake.guild_id]},
                telegram={"api_base": f"http://127.0.0.1:{telegram_fake.port}", "poll_timeout": 2},
                monitors=FAST,
            )
            engine = build_engine(config)
            await engine.start()
            frontends = [
                DiscordFrontend(engine, defer_after=0.15, guild_ready_timeout=0.05),
                TelegramFrontend(engine),
            ]
            async with serving(engine, frontends):
                telegram_fake.group(GROUP_ID, "Cook Group")
                drops = discord_fake.add_role("Drops")
                await engine.feeds.bind(
                    "restocks", DiscordChannel(channel_id=discord_fake.general.id, role_id=drops.id), by=None
                )
                await engine.feeds.bind("restocks", TelegramChat(chat_id=GROUP_ID), by=None)
                service = engine.service(MonitorService)
                rig = Rig(engine, service, store, discord_fake, telegram_fake, drops.id)
                row, _probe, outcome = await service.add(store.base_url, interval=3600)
                assert outcome.status == "baseline"
                rig.monitor_id = row.id
                yield rig
    finally:
        await store.stop()


def embed(posted: RecordedMessage) -> dict[str, Any]:
    assert len(posted.embeds) == 1
    return posted.embeds[0]


def fields(posted: RecordedMessage) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed(posted).get("fields", [])}


async def test_every_event_type_reaches_discord_and_telegram(rig: Rig) -> None:
    store, base = rig.store, rig.store.base_url
    # nothing was posted for the baseline
    assert [m for m in rig.discord.messages if m.source == "channel"] == []
    assert rig.telegram.messages_to(GROUP_ID) == []

    product = store.add_product("Jordan 4 Retro Military Blue", available=["9", "10"], price=215.0, vendor="Jordan")
    nine, ten, eleven = (store.variant(product["id"], size)["id"] for size in ("9", "10", "11"))
    posted, sent = await rig.poll()
    assert embed(posted)["title"] == "🆕 New: Jordan 4 Retro Military Blue"
    assert embed(posted)["url"] == f"{base}/products/jordan-4-retro-military-blue"
    assert embed(posted)["image"]["url"].startswith("https://cdn.shopify.com/")
    assert fields(posted)["Price"] == "$215.00" and fields(posted)["Sizes in stock"] == "9, 10"
    assert fields(posted)["Store"] == base.split("//")[1]
    assert "monitor #1" in embed(posted)["footer"]["text"] and "UTC" in embed(posted)["footer"]["text"]
    assert posted.content == f"<@&{rig.role_id}>"
    assert [(b["label"], b["url"]) for b in posted.buttons()] == [
        ("🛒 9", f"{base}/cart/{nine}:1"),
        ("🛒 10", f"{base}/cart/{ten}:1"),
    ]
    assert sent.method == "sendPhoto" and sent.params["photo"].startswith("https://cdn.shopify.com/")
    assert "New: Jordan 4 Retro Military Blue" in sent.text and "$215.00" in sent.text
    assert [(b["text"], b["url"]) for b in sent.buttons] == [
        ("🛒 9", f"{base}/cart/{nine}:1"),
        ("🛒 10", f"{base}/cart/{ten}:1"),
    ]

    store.set_available(product["id"], "11", True)
    posted, sent = await rig.poll()
    assert embed(posted)["title"] == "🟢 Restock: Jordan 4 Retro Military Blue"
    assert "Back in stock: **11**" in embed(posted)["description"]
    assert posted.buttons()[0]["url"] == f"{base}/cart/{eleven}:1"  # the restocked size first
    assert {b["url"] for b in sent.buttons} == {f"{base}/cart/{v}:1" for v in (nine, ten, eleven)}
    assert "Back in stock: 11" in sent.text

    store.set_available(product["id"], "9", False)
    posted, sent = await rig.poll()
    assert embed(posted)["title"] == "🔴 Sold out: Jordan 4 Retro Military Blue"
    assert "Still in stock: 10, 11" in embed(posted)["description"]
    assert f"{base}/cart/{nine}:1" not in {b["url"] for b in posted.buttons()}
    assert "Sold out: 9" in sent.text

    store.set_price(product["id"], 189.0)
    posted, sent = await rig.poll()
    assert embed(posted)["title"] == "💲 Price change: Jordan 4 Retro Military Blue"
    assert "$215.00 → **$189.00**" in embed(posted)["description"] and fields(posted)["Price"] == "$189.00"
    assert "$215.00 → $189.00" in sent.text

    store.set_password(True)
    posted, sent = await rig.poll()
    host = base.split("//")[1]
    assert embed(posted)["title"] == f"🔒 Password page up: {host}"
    assert "password page" in sent.text

    store.set_password(False)
    posted, sent = await rig.poll()
    assert embed(posted)["title"] == f"🔓 Store open: {host}"
    assert posted.buttons()[0]["url"] == f"{base}/"
    assert "Store open" in sent.text

    # nothing else went out, and no duplicates on a quiet poll
    await rig.service.poll(rig.monitor_id)
    await rig.engine.bus.drain()
    assert len([m for m in rig.discord.messages if m.source == "channel"]) == 6
    assert len(rig.telegram.messages_to(GROUP_ID)) == 6


async def test_more_sizes_than_discord_buttons_put_every_cart_link_in_fields(rig: Rig) -> None:
    sizes = [f"{n / 2:g}" for n in range(8, 40)]  # 4 .. 19.5: 32 sizes
    product = rig.store.add_product("Crocs Classic Clog", sizes=sizes, available=False, vendor="Crocs")
    await rig.poll()  # the new product, nothing in stock
    rig.store.set_available(product["id"], sizes, True)
    posted, sent = await rig.poll()
    assert len(posted.buttons()) == 25
    links = "\n".join(v for k, v in fields(posted).items() if "cart links" in k.lower())
    for size in sizes:
        variant = rig.store.variant(product["id"], size)["id"]
        assert f"{size}: {rig.store.base_url}/cart/{variant}:1" in links
    assert len(sent.buttons) == 25
    assert embed(posted)["description"].startswith("Back in stock: **4, 4.5"), "the summary survives the link fields"


async def test_a_monitors_own_role_is_pinged_beside_the_feed_binding_role(rig: Rig) -> None:
    grails = rig.discord.add_role("Grails")
    await rig.service.remove(rig.monitor_id)  # one monitor per page and feed: this one pings Grails
    row, _probe, outcome = await rig.service.add(
        rig.store.base_url, keywords="+travis", interval=3600, role=f"<@&{grails.id}>"
    )
    assert outcome.status == "baseline"
    rig.monitor_id = row.id
    rig.store.add_product("Nike SB Dunk Low Travis Scott", available=["10"], price=150.0, vendor="Nike")
    posted, sent = await rig.poll()
    assert posted.content == f"<@&{rig.role_id}> <@&{grails.id}>"
    pinged = [int(role) for role in (posted.allowed_mentions or {}).get("roles", [])]
    assert pinged == [rig.role_id, grails.id]
    assert "<@&" not in sent.text, "Telegram has no roles: nothing leaks into the text"
