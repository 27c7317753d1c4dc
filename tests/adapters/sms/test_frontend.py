"""The SMS frontend end to end: signed webhooks in, TwiML out, and outbound through the real twilio
client to the fake Messages API. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from structlog.testing import capture_logs

from adapters.sms.frontend import SmsFrontend
from adapters.sms.render import TRIM_NOTE, sms_text
from core.commands import Command
from core.crypto import mask_phone
from core.engine import Engine
from core.frontend import DeliveryRefused
from core.identity import Caller
from core.replies import Reply
from core.storage import consent
from core.storage.database import Database
from core.storage.models import Member
from core.targets import TelegramChat
from tests.fakes.harness import free_port
from tests.fakes.twilio_api import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    FakeTwilioAPI,
    count_segments,
    inbound_params,
    post_webhook,
)

PHONE = "+14155550123"
OTHER = "+447700900123"
OUR_NUMBER = "+14155550100"
SHELL = Caller(platform="shell", external_id="local", display_name="tester")


@dataclass
class Harness:
    engine: Engine
    sms: SmsFrontend
    twilio: FakeTwilioAPI
    url: str

    async def text(self, body: str, *, sender: str = PHONE, **extra: str) -> list[str]:
        """Send an SMS to the bot as Twilio would; the bot's answer, one string per <Message>."""
        status, xml = await self.post(inbound_params(sender, body, to=OUR_NUMBER) | extra)
        assert status == 200, xml
        return self.messages(xml)

    async def post(self, params: dict[str, str], **kwargs: Any) -> tuple[int, str]:
        return await post_webhook(self.url, DEFAULT_AUTH_TOKEN, params, **kwargs)

    @staticmethod
    def messages(xml: str) -> list[str]:
        root = ET.fromstring(xml)
        assert root.tag == "Response"
        return [element.text or "" for element in root.findall("Message")]

    async def reason(self, phone: str = PHONE) -> str | None:
        assert self.engine.vault is not None
        async with self.engine.db.read() as session:
            return await consent.opt_out_reason(session, self.engine.vault.lookup_key(phone))


@pytest.fixture
async def harness(make_config: Any, database: Database, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    from snpd.app import build_engine

    monkeypatch.setenv("TWILIO_ACCOUNT_SID", DEFAULT_ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", DEFAULT_AUTH_TOKEN)
    port = free_port()
    public_url = f"http://127.0.0.1:{port}/twilio/sms"
    async with FakeTwilioAPI() as twilio:
        config = make_config(
            sms={"from_number": OUR_NUMBER, "webhook_port": port, "public_url": public_url, "api_base": twilio.base_url}
        )
        engine = build_engine(config, db=database)
        await engine.start(migrate=False)
        frontend = SmsFrontend(engine)
        engine.attach(frontend)
        await frontend.start()
        try:
            yield Harness(engine, frontend, twilio, public_url)
        finally:
            await frontend.stop()
            await engine.scheduler.stop()
            await engine.bus.drain()


def _no_numbers(text: str) -> str:
    return re.sub(r"\d+(\.\d+)?", "N", text)


# --------------------------------------------------------------------------- inbound


async def test_ping_says_what_every_frontend_says(harness: Harness) -> None:
    (answer,) = await harness.text("PING")
    shell = await harness.engine.dispatch_line(SHELL, "/ping")
    assert _no_numbers(answer) == _no_numbers(sms_text(shell.plain_text()))
    assert answer.startswith("Pong\nEngine up.")
    assert count_segments(answer) == ("GSM-7", 1)


async def test_keywords_are_case_insensitive_and_slash_commands_work(harness: Harness) -> None:
    (lower,) = await harness.text("  ping ")
    (slashed,) = await harness.text("/ping")
    assert lower.startswith("Pong") and slashed.startswith("Pong")


async def test_help_keyword_lists_keywords_and_how_to_stop(harness: Harness) -> None:
    (answer,) = await harness.text("HELP")
    for word in ("PING", "PROFILE", "LINK <code>", "STOP", "START"):
        assert word in answer
    assert answer.startswith(harness.engine.config.bot.name)
    assert count_segments(answer)[1] <= 2


async def test_help_keeps_the_opt_out_sentence_however_many_keywords(harness: Harness) -> None:
    async def noop(_ctx: Any) -> Reply:
        return Reply(text="ok")

    harness.engine.registry.add(
        *(Command(f"extra{i}", "A command with a keyword.", noop, sms_keyword=f"KEYWORD{i:02d}") for i in range(40))
    )
    (answer,) = await harness.text("HELP")
    assert answer.endswith("Reply STOP to opt out, START to opt back in.")
    assert ", ..." in answer and count_segments(answer)[1] <= 2
    (unknown,) = await harness.text("WHAT")
    assert unknown.startswith("Unknown keyword WHAT.") and unknown.endswith("START to opt back in.")
    assert count_segments(unknown)[1] <= 2


async def test_slash_help_for_one_command_matches_the_shell(harness: Harness) -> None:
    (answer,) = await harness.text("/help ping")
    shell = await harness.engine.dispatch_line(SHELL, "/help ping")
    assert answer == sms_text(shell.plain_text())
    assert "Check that the bot is alive." in answer


async def test_long_reply_is_trimmed_to_two_segments(harness: Harness) -> None:
    (answer,) = await harness.text("/help")
    assert answer.endswith(TRIM_NOTE)
    assert count_segments(answer) == ("GSM-7", 2)
    assert answer.startswith(f"{harness.engine.config.bot.name} commands\n/")
    same = await harness.engine.dispatch_line(Caller("sms", PHONE, mask_phone(PHONE)), "/help")
    assert answer == sms_text(same.plain_text())


async def test_unknown_keyword_gets_the_keyword_list(harness: Harness) -> None:
    (answer,) = await harness.text("BALANCEZ please")
    assert answer.startswith("Unknown keyword BALANCEZ.")
    assert "PING" in answer and "STOP" in answer


async def test_an_empty_text_gets_the_keyword_list(harness: Harness) -> None:
    (answer,) = await harness.text("", NumMedia="1")
    assert answer.startswith(f"{harness.engine.config.bot.name} SMS. Text ")


async def test_bad_arguments_get_a_short_error(harness: Harness) -> None:
    (answer,) = await harness.text("/settings timezone:Mars/Olympus")
    assert answer.startswith("Not done\n")
    assert "unknown timezone" in answer


async def test_profile_shows_the_masked_number_never_the_number(harness: Harness) -> None:
    with capture_logs() as logs:
        (answer,) = await harness.text("PROFILE")
        await harness.text("STOP")
    assert f"Phone: {sms_text(mask_phone(PHONE))}" in answer and "+1******0123" in answer
    assert PHONE not in answer
    assert logs and PHONE not in repr(logs) and DEFAULT_AUTH_TOKEN not in repr(logs)


@pytest.mark.parametrize(
    "how",
    [
        {"signed": False},
        {"signature": "bm90IGEgc2lnbmF0dXJl"},
    ],
)
async def test_unsigned_or_forged_webhooks_are_refused(harness: Harness, how: dict[str, Any]) -> None:
    status, body = await harness.post(inbound_params(PHONE, "PING", to=OUR_NUMBER), **how)
    assert status == 403 and "Response" not in body


async def test_signature_for_other_params_or_token_is_refused(harness: Harness) -> None:
    params = inbound_params(PHONE, "PING", to=OUR_NUMBER)
    wrong_token = await post_webhook(harness.url, "some-other-token", params)
    from twilio.request_validator import RequestValidator

    signature = RequestValidator(DEFAULT_AUTH_TOKEN).compute_signature(harness.url, params)
    tampered = await harness.post(params | {"Body": "STOP"}, signature=signature)
    assert wrong_token[0] == 403 and tampered[0] == 403
    assert await harness.reason() is None


async def test_a_retried_webhook_is_answered_once(harness: Harness) -> None:
    member = await harness.engine.identity.resolve(Caller("discord", "8001", "alice"))
    code = await harness.engine.identity.issue_link_code(member.id, "discord")
    params = inbound_params(PHONE, f"LINK {code.code}", to=OUR_NUMBER)
    first = await harness.post(params)
    again = await harness.post(params)
    assert first == again
    assert "Accounts linked" in harness.messages(first[1])[0]


async def test_messages_from_short_codes_are_ignored(harness: Harness) -> None:
    assert await harness.text("PING", sender="SNPDALERT") == []


# --------------------------------------------------------------------------- /link


async def test_link_code_merges_the_phone_into_a_discord_member(harness: Harness) -> None:
    identity = harness.engine.identity
    alice = await identity.resolve(Caller("discord", "8001", "alice"))
    code = await identity.issue_link_code(alice.id, "discord")
    (answer,) = await harness.text(f"link {code.code.lower()}")
    assert answer.startswith("Accounts linked\nThis member now owns: Discord, Phone.")
    platforms = {i.platform for i in await identity.identities(alice.id)}
    assert platforms == {"discord", "sms"}
    assert await identity.address_for(alice.id, "sms") == PHONE
    (again,) = await harness.text(f"LINK {code.code}")
    assert "already used" in again


# --------------------------------------------------------------------------- STOP / START


async def test_stop_ends_sms_until_start(harness: Harness) -> None:
    identity = harness.engine.identity
    alice = await identity.resolve(Caller("discord", "8001", "alice"))
    code = await identity.issue_link_code(alice.id, "discord")
    await harness.text(f"LINK {code.code}")
    await identity.update_settings(alice.id, sms_enabled=True)

    (confirmation,) = await harness.text("STOP")
    assert "unsubscribed" in confirmation and "START" in confirmation
    assert await harness.reason() == "STOP"
    assert (await identity.get(alice.id)).sms_enabled is False  # type: ignore[union-attr]
    with pytest.raises(DeliveryRefused) as refused:
        await harness.sms.send_direct(PHONE, Reply(text="Restock!"))
    assert refused.value.permanent and "0123" in str(refused.value) and PHONE not in str(refused.value)
    assert harness.twilio.requests == []
    assert await harness.text("PING") == []  # opted out: silence, not a reply
    (help_answer,) = await harness.text("HELP")  # HELP is always answered
    assert "START" in help_answer

    (welcome,) = await harness.text("start")
    assert "subscribed" in welcome
    assert await harness.reason() is None
    assert (await identity.get(alice.id)).sms_enabled is True  # type: ignore[union-attr]
    await harness.sms.send_direct(PHONE, Reply(text="Restock!"))
    assert [m.body for m in harness.twilio.sent] == ["Restock!"]


@pytest.mark.parametrize("word", ["stop", "Unsubscribe", " QUIT. ", "StopAll", "cancel", "END"])
async def test_stop_synonyms(harness: Harness, word: str) -> None:
    await harness.text(word)
    assert await harness.reason() == "STOP"


async def test_stop_inside_a_sentence_is_not_an_opt_out(harness: Harness) -> None:
    await harness.text("stop sending me jordans")
    assert await harness.reason() is None


@pytest.mark.parametrize("word", ["YES", "unstop"])
async def test_start_synonyms(harness: Harness, word: str) -> None:
    await harness.text("STOP")
    await harness.text(word)
    assert await harness.reason() is None


async def test_twilio_advanced_opt_out_already_answered(harness: Harness) -> None:
    assert await harness.text("STOP", OptOutType="STOP") == []
    assert await harness.reason() == "STOP"
    assert await harness.text("START", OptOutType="START") == []
    assert await harness.reason() is None


# --------------------------------------------------------------------------- outbound


async def test_send_direct_goes_through_twilio_with_validity_period(harness: Harness) -> None:
    reply = Reply(title="🔥 Restock", text="**Jordan 4 Bred** at Kith NYC — $210", url="https://kith.test/j4")
    await harness.sms.send_direct(PHONE, reply)
    (sent,) = harness.twilio.sent
    assert sent.to == PHONE and sent.from_ == OUR_NUMBER
    assert sent.body == "Restock\nJordan 4 Bred at Kith NYC - $210\nhttps://kith.test/j4"
    assert sent.encoding == "GSM-7" and sent.num_segments == 1
    assert sent.validity_period == harness.sms.validity_period == 900
    assert sent.status_callback == harness.url + "/status"


async def test_long_outbound_fits_two_segments(harness: Harness) -> None:
    await harness.sms.send_direct(PHONE, Reply(text="Jordan 4 restock at 40 stores. " * 30))
    (sent,) = harness.twilio.sent
    assert sent.num_segments == 2 and sent.body.endswith(TRIM_NOTE)


@pytest.mark.parametrize(
    ("code", "reason"), [(21610, "twilio-21610"), (30006, "twilio-30006"), (21614, "twilio-21614")]
)
async def test_permanent_twilio_errors_stop_sms_for_good(harness: Harness, code: int, reason: str) -> None:
    member = await harness.engine.identity.resolve(Caller("sms", PHONE, mask_phone(PHONE)))
    await harness.engine.identity.update_settings(member.id, sms_enabled=True)
    harness.twilio.fail_recipient(PHONE, code)
    with pytest.raises(DeliveryRefused) as refused:
        await harness.sms.send_direct(PHONE, Reply(text="Restock!"))
    assert refused.value.permanent and str(code) in refused.value.reason
    assert await harness.reason() == reason
    async with harness.engine.db.read() as session:
        stored = await session.get(Member, member.id)
        assert stored is not None and stored.sms_enabled is False
    tried = len(harness.twilio.requests)
    with pytest.raises(DeliveryRefused):
        await harness.sms.send_direct(PHONE, Reply(text="Again"))
    assert len(harness.twilio.requests) == tried  # refused before reaching Twilio
    await harness.sms.send_direct(OTHER, Reply(text="Others still get theirs"))


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_rate_limits_and_outages_are_retryable(harness: Harness, status: int) -> None:
    harness.twilio.fail_next(status)
    with pytest.raises(DeliveryRefused) as refused:
        await harness.sms.send_direct(PHONE, Reply(text="Restock!"))
    assert refused.value.permanent is False
    assert await harness.reason() is None
    await harness.sms.send_direct(PHONE, Reply(text="Restock!"))
    assert len(harness.twilio.sent) == 1


async def test_invalid_numbers_are_refused_without_an_opt_out(harness: Harness) -> None:
    harness.twilio.fail_recipient(PHONE, 21211)
    with pytest.raises(DeliveryRefused) as refused:
        await harness.sms.send_direct(PHONE, Reply(text="x"))
    assert refused.value.permanent and await harness.reason() is None
    with pytest.raises(DeliveryRefused):
        await harness.sms.send_direct("0123", Reply(text="x"))


async def test_a_late_status_callback_records_a_landline(harness: Harness) -> None:
    await harness.sms.send_direct(PHONE, Reply(text="Restock!"))
    (sent,) = harness.twilio.sent
    assert await harness.twilio.deliver_status(sent, "delivered") == 204
    assert await harness.reason() is None
    assert await harness.twilio.deliver_status(sent, "undelivered", error_code=30006) == 204
    assert await harness.reason() == "twilio-30006"
    assert sent.status_callback is not None
    forged = await post_webhook(sent.status_callback, "wrong", {"To": OTHER, "ErrorCode": "21610"})
    assert forged[0] == 403 and await harness.reason(OTHER) is None


async def test_feeds_do_not_post_to_sms(harness: Harness) -> None:
    with pytest.raises(DeliveryRefused, match="no channels"):
        await harness.sms.post(TelegramChat(chat_id=1), Reply(text="x"))


# --------------------------------------------------------------------------- wiring and config


def _sms_config(make_config: Any, monkeypatch: pytest.MonkeyPatch, **sms: Any) -> Any:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", DEFAULT_ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", DEFAULT_AUTH_TOKEN)
    return make_config(sms=sms)


def test_snpd_run_starts_sms_when_twilio_is_configured(make_config: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from snpd.app import build_engine, chat_frontends

    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.delenv("TELEGRAM_TOKEN", raising=False)
    engine = build_engine(_sms_config(make_config, monkeypatch, from_number=OUR_NUMBER))
    (frontend,) = chat_frontends(engine)
    assert isinstance(frontend, SmsFrontend) and frontend.name == "sms"
    assert frontend.inbound_path == "/sms" and frontend.status_path == "/sms/status"


def test_bad_sms_setup_is_a_config_error(make_config: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.errors import ConfigError
    from snpd.app import build_engine

    with pytest.raises(ConfigError, match="from_number"):
        SmsFrontend(build_engine(_sms_config(make_config, monkeypatch)))
    engine = build_engine(_sms_config(make_config, monkeypatch, from_number=OUR_NUMBER))
    assert SmsFrontend(engine, validity_period=60).validity_period == 60
    with pytest.raises(ConfigError, match="1-36000"):
        SmsFrontend(engine, validity_period=36_001)
