"""Sends left in doubt by a dead worker, settled per platform, and fan-outs that provoke no 429: the
real delivery worker and frontends (discord.py, twilio) against the local fakes, on both databases.

A row in doubt is what a crash between a request and the ``sent`` commit leaves: ``sending``, its
lease run out. Whether its request arrived is down to timing, so the tests write that state
themselves, after a real send (it arrived) or without one (it never left), and let a fresh worker
find it. The kill-and-restart test in ``test_alerts_e2e.py`` makes the same state by killing.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from twilio.rest import Client

from adapters.discord.frontend import NONCE_WINDOW_S, DiscordFrontend, message_nonce
from adapters.sms.frontend import READ_BACK_PAGE, SmsFrontend, TwilioHttpClient
from adapters.sms.render import render_reply
from adapters.telegram.frontend import TelegramFrontend
from bot.delivery.addresses import EngineAddressBook
from core.delivery import DeliveryLimiter, DeliveryWorker, NewMessage, PlatformLimits, WorkerSettings, enqueue
from core.delivery.models import DEAD, EXPIRED, SENDING, SENT, OutboxMessage
from core.delivery.outbox import counts
from core.engine import Engine
from core.identity import Caller
from core.replies import Reply
from core.storage.database import Database
from core.storage.types import utcnow
from snpd.app import build_engine
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.harness import free_port, serving
from tests.fakes.strict_limits import StrictDiscord, StrictTelegram, StrictTwilio
from tests.fakes.twilio_api import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, FakeTwilioAPI

pytestmark = pytest.mark.filterwarnings("ignore:.*attribute `retry_after`:DeprecationWarning")

OUR_NUMBER = "+14155550100"
PHONE = "+14155550123"
LEASE_S = 0.3


@dataclass
class Stack:
    engine: Engine
    discord: FakeDiscord
    twilio: FakeTwilioAPI

    def worker(self, limiter: DeliveryLimiter | None = None, **settings: Any) -> DeliveryWorker:
        base: dict[str, Any] = {"lease_s": LEASE_S, "backoff_base_s": 0.01, "backoff_max_s": 0.02}
        base.update(settings)
        return DeliveryWorker(
            self.engine.db,
            self.engine.frontends,
            EngineAddressBook(self.engine),
            limiter or DeliveryLimiter(PlatformLimits(scale=20.0)),
            WorkerSettings(sms_sender=OUR_NUMBER, **base),
        )

    def dms_to(self, user_id: int) -> list[Any]:
        return [
            message
            for message in self.discord.messages
            if (channel := self.discord.channels.get(message.channel_id)) is not None
            and channel.recipient is not None
            and channel.recipient.id == user_id
        ]


def _config(make_config: Any, discord: FakeDiscord, twilio: FakeTwilioAPI, **delivery: Any) -> Any:
    return make_config(
        discord={"api_base": discord.api_base, "guild_ids": [discord.guild_id]},
        sms={"from_number": OUR_NUMBER, "webhook_port": free_port(), "public_url": "http://127.0.0.1/sms",
             "api_base": twilio.base_url},
        delivery=delivery,
    )


def _credentials(monkeypatch: pytest.MonkeyPatch, discord: FakeDiscord) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", discord.token)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", DEFAULT_ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", DEFAULT_AUTH_TOKEN)


@pytest.fixture
async def stack(make_config: Any, database: Database, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Stack]:
    """Discord and SMS frontends on an engine over ``database``; no scheduler, so no worker but ours."""
    async with FakeDiscord() as discord, FakeTwilioAPI() as twilio:
        _credentials(monkeypatch, discord)
        engine = build_engine(_config(make_config, discord, twilio), db=database)
        frontends = [DiscordFrontend(engine, guild_ready_timeout=0.05), SmsFrontend(engine)]
        async with serving(engine, frontends):
            yield Stack(engine, discord, twilio)


async def _enqueue(engine: Engine, caller: Caller, channel: str, ref: str = "e1") -> OutboxMessage:
    member = await engine.identity.resolve(caller)
    reply = Reply(title="🔔 Restock: Air Jordan 4 Retro Bred", text=f"Sizes 9, 10, 11 ({ref})")
    async with engine.db.transaction() as session:
        message = NewMessage(source="test", ref=ref, member_id=member.id, channels=[channel], reply=reply)
        await enqueue(session, [message])
    return await _row(engine, f"test:{ref}:{member.id}:{channel}")


async def _row(engine: Engine, key: str) -> OutboxMessage:
    async with engine.db.read() as session:
        return (await session.execute(select(OutboxMessage).where(OutboxMessage.key == key))).scalar_one()


async def _leave_in_doubt(engine: Engine, row: OutboxMessage, *, went_out_s_ago: float = LEASE_S) -> None:
    """What a worker that died mid-request leaves: ``sending`` under its lease, which has run out."""
    went_out = utcnow() - timedelta(seconds=went_out_s_ago)
    async with engine.db.transaction() as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id)
            .values(status=SENDING, lease_owner="worker-dead", lease_until=went_out + timedelta(seconds=LEASE_S),
                    sent_at=None)
        )


def _sms_body(row: OutboxMessage) -> str:
    return render_reply(Reply.model_validate(row.payload))


async def _until_sent(engine: Engine, count: int, *, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while (await counts(engine.db)).get(SENT, 0) < count:
        assert asyncio.get_running_loop().time() < deadline, f"not all sent: {await counts(engine.db)}"
        await asyncio.sleep(0.05)


# ---------------------------------------------------------------------------- Discord: the nonce


async def test_discord_resend_of_a_send_in_doubt_creates_no_second_message(stack: Stack) -> None:
    dana = stack.discord.add_member("dana")
    row = await _enqueue(stack.engine, Caller("discord", str(dana.user.id), "dana"), "discord")
    await stack.worker().run_until_idle()
    (first,) = stack.dms_to(dana.user.id)
    assert first.payload["nonce"] == message_nonce(row.key) and first.request["enforce_nonce"] is True
    assert len(message_nonce(row.key)) <= 25

    await _leave_in_doubt(stack.engine, row)  # it arrived, but the worker died before recording it
    restarted = stack.worker(resend_in_doubt=False)  # even at-most-once: a keyed resend is safe
    await restarted.run_until_idle()

    assert len(stack.dms_to(dana.user.id)) == 1, "Discord answered the repeated nonce with the first message"
    assert stack.discord.nonce_repeats == 1
    assert len(stack.discord.requests_to("POST /channels/{id}/messages")) == 2, "the resend did reach Discord"
    assert (await _row(stack.engine, row.key)).status == SENT
    assert restarted.stats.in_doubt_by_channel == {"discord": 1} and restarted.stats.resent_keyed == 1


async def test_discord_send_in_doubt_that_never_arrived_is_sent_once(stack: Stack) -> None:
    dana = stack.discord.add_member("dana")
    row = await _enqueue(stack.engine, Caller("discord", str(dana.user.id), "dana"), "discord")
    await _leave_in_doubt(stack.engine, row)  # the worker died before its request left
    await stack.worker().run_until_idle()
    assert len(stack.dms_to(dana.user.id)) == 1 and stack.discord.nonce_repeats == 0
    assert (await _row(stack.engine, row.key)).status == SENT


async def test_discord_send_in_doubt_past_the_nonce_window_follows_resend_in_doubt(stack: Stack) -> None:
    dana = stack.discord.add_member("dana")
    row = await _enqueue(stack.engine, Caller("discord", str(dana.user.id), "dana"), "discord")
    await _leave_in_doubt(stack.engine, row, went_out_s_ago=NONCE_WINDOW_S + 60)
    worker = stack.worker(resend_in_doubt=False)
    await worker.run_until_idle()
    after = await _row(stack.engine, row.key)
    assert after.status == DEAD and after.last_error is not None and after.last_error.startswith("in doubt")
    assert not stack.dms_to(dana.user.id) and worker.stats.resent_keyed == 0


# ---------------------------------------------------------------------------- SMS: reading back


async def test_sms_in_doubt_that_arrived_is_recorded_as_sent_without_a_second_text(stack: Stack) -> None:
    row = await _enqueue(stack.engine, Caller("sms", PHONE, "sam"), "sms")
    await stack.worker().run_until_idle()
    assert len(stack.twilio.sent) == 1

    await _leave_in_doubt(stack.engine, row)
    restarted = stack.worker()
    await restarted.run_until_idle()

    assert len(stack.twilio.sent) == 1, "Twilio's list showed the text had gone: not sent again"
    assert (await _row(stack.engine, row.key)).status == SENT
    assert restarted.stats.verified_delivered == 1 and restarted.stats.in_doubt_by_channel == {"sms": 1}
    (query,) = stack.twilio.reads
    assert query["To"] == PHONE and query["From"] == OUR_NUMBER
    assert not any(key.startswith("DateSent") for key in query), "a queued message has no send date yet"


async def test_sms_whose_answer_was_lost_is_checked_before_any_retry(stack: Stack) -> None:
    """A 5xx (or a timeout) after Twilio took the text is not a crash, but the doubt is the same: the
    retry reads Twilio's list first instead of texting the member twice."""
    row = await _enqueue(stack.engine, Caller("sms", PHONE, "sam"), "sms")
    stack.twilio.lose_next_answers(1)
    worker = stack.worker()
    deadline = asyncio.get_running_loop().time() + 10
    while (await _row(stack.engine, row.key)).status != SENT:
        assert asyncio.get_running_loop().time() < deadline, "never recorded as sent"
        await worker.run_until_idle()
        await asyncio.sleep(0.05)
    assert len(stack.twilio.sent) == 1, "the text went once"
    assert worker.stats.verified_delivered == 1 and len(stack.twilio.reads) == 1


async def test_sms_in_doubt_that_never_arrived_is_sent(stack: Stack) -> None:
    row = await _enqueue(stack.engine, Caller("sms", PHONE, "sam"), "sms")
    # An identical text long before this notification existed, and one Twilio failed to send, don't count.
    stack.twilio.sent.clear()
    await stack.engine.frontends["sms"].send_direct(PHONE, Reply.model_validate(row.payload))
    stack.twilio.sent[0].created_at -= timedelta(hours=3)
    await stack.engine.frontends["sms"].send_direct(PHONE, Reply.model_validate(row.payload))
    stack.twilio.sent[1].status = "failed"
    await _leave_in_doubt(stack.engine, row)
    restarted = stack.worker(resend_in_doubt=False)
    await restarted.run_until_idle()

    assert len(stack.twilio.sent) == 3, "not in Twilio's list, so it is sent"
    assert (await _row(stack.engine, row.key)).status == SENT
    assert restarted.stats.verified_delivered == 0 and restarted.stats.in_doubt == 1


async def test_sms_in_doubt_past_its_validity_is_sent_if_it_arrived_else_expired(stack: Stack) -> None:
    arrived = await _enqueue(stack.engine, Caller("sms", PHONE, "sam"), "sms", ref="e1")
    await stack.worker().run_until_idle()
    lost = await _enqueue(stack.engine, Caller("sms", PHONE, "sam"), "sms", ref="e2")
    for row in (arrived, lost):
        await _leave_in_doubt(stack.engine, row)
    async with stack.engine.db.transaction() as session:
        await session.execute(update(OutboxMessage).values(expires_at=utcnow() - timedelta(seconds=1)))
    await stack.worker().run_until_idle()
    assert (await _row(stack.engine, arrived.key)).status == SENT, "it did arrive: that is the record"
    assert (await _row(stack.engine, lost.key)).status == EXPIRED, "never arrived and now too late"
    assert len(stack.twilio.sent) == 1


async def test_sms_in_doubt_when_twilio_cannot_say_follows_resend_in_doubt(stack: Stack) -> None:
    first = await _enqueue(stack.engine, Caller("sms", PHONE, "sam"), "sms", ref="e1")
    await _leave_in_doubt(stack.engine, first)
    stack.twilio.fail_next_reads(500)
    await stack.worker(resend_in_doubt=False).run_until_idle()
    dead = await _row(stack.engine, first.key)
    assert dead.status == DEAD and dead.last_error is not None and "could not say" in dead.last_error
    second = await _enqueue(stack.engine, Caller("sms", PHONE, "sam"), "sms", ref="e2")
    await _leave_in_doubt(stack.engine, second)
    stack.twilio.fail_next_reads(503)
    await stack.worker(resend_in_doubt=True).run_until_idle()
    assert (await _row(stack.engine, second.key)).status == SENT
    assert [sms.body for sms in stack.twilio.sent] == [_sms_body(second)]


async def test_twilio_message_list_pages_newest_first_through_the_library() -> None:
    async with FakeTwilioAPI() as twilio:
        http = TwilioHttpClient(twilio.base_url)
        client = Client(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, http_client=http)
        try:
            for n in range(READ_BACK_PAGE * 2 + 5):
                await client.messages.create_async(to=PHONE, from_=OUR_NUMBER, body=f"text {n}")
            await client.messages.create_async(to="+14155550999", from_=OUR_NUMBER, body="someone else")
            listed = await client.messages.list_async(to=PHONE, from_=OUR_NUMBER, page_size=READ_BACK_PAGE)
            assert [m.body for m in listed] == [f"text {n}" for n in reversed(range(READ_BACK_PAGE * 2 + 5))]
            assert [query.get("Page", "0") for query in twilio.reads] == ["0", "1", "2"]
            assert all(query.get("PageToken", "").startswith("PA") for query in twilio.reads[1:])
            assert listed[0].date_created is not None and listed[0].status == "queued"
            # DateSent filters only see sent messages: queued ones have no send date
            assert await client.messages.list_async(to=PHONE, date_sent_after=utcnow() - timedelta(days=1)) == []
        finally:
            await http.close()


# ---------------------------------------------------------------------------- no 429s


async def test_a_fan_out_at_the_limits_provokes_no_429(
    make_config: Any, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each request holds a place in our window from when it leaves until a second after its answer
    (a first DM is two requests), against servers that count strictly in one-second windows with the
    same scale: not one request is refused. SMS runs at its limit here (4/s); Discord and Telegram
    as fast as one event loop running the bot and all three servers allows."""
    scale = 4.0
    async with StrictDiscord(scale) as discord, StrictTelegram(scale) as telegram, StrictTwilio(scale) as twilio:
        _credentials(monkeypatch, discord)
        monkeypatch.setenv("TELEGRAM_TOKEN", telegram.token)
        config = make_config(
            discord={"api_base": discord.api_base, "guild_ids": [discord.guild_id]},
            telegram={"api_base": f"http://127.0.0.1:{telegram.port}", "poll_timeout": 1},
            sms={"from_number": OUR_NUMBER, "webhook_port": free_port(), "public_url": "http://127.0.0.1/sms",
                 "api_base": twilio.base_url},
            delivery={"rate_scale": scale, "discord_requests_per_dm": 2},
        )
        engine = build_engine(config, db=database)
        frontends = [DiscordFrontend(engine, guild_ready_timeout=0.05), TelegramFrontend(engine), SmsFrontend(engine)]
        async with serving(engine, frontends):
            stack = Stack(engine, discord, twilio)
            plan = [("discord", str(discord.add_member(f"d{i}").user.id)) for i in range(150)]
            plan += [("telegram", str(9000 + i)) for i in range(150)]
            plan += [("sms", f"+1415700{i:04d}") for i in range(10)]
            for n, (platform, address) in enumerate(plan):
                await _enqueue(engine, Caller(platform, address, f"m{n}"), platform, ref="fanout")
            delivery = engine.config.section("delivery")
            worker = stack.worker(DeliveryLimiter(delivery.limits()), send_concurrency=delivery.send_concurrency)
            await worker.start()
            try:
                await _until_sent(engine, len(plan), timeout=30)
            finally:
                await worker.stop()

        assert {"discord": discord.rejected, "telegram": telegram.rejected, "sms": twilio.rejected} == {
            "discord": 0, "telegram": 0, "sms": 0,
        }
        assert len(discord.sends) == 300, "each first DM: open the channel, then post"
        received = Counter([("telegram", str(m.chat_id)) for m in telegram.sent] + [("sms", s.to) for s in twilio.sent])
        received.update(("discord", str(discord.channels[m.channel_id].recipient.id)) for m in discord.messages)  # type: ignore[union-attr]
        assert received == Counter(plan)
