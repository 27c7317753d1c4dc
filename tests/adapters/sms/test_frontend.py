"""The SMS frontend end to end: signed webhooks in, TwiML out, and outbound through the real twilio
client to the fake Messages API. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

import pytest
from structlog.testing import capture_logs

from adapters.sms.frontend import SmsFrontend
from adapters.sms.render import TRIM_NOTE, sms_text
from bot.delivery import Delivery
from core.commands import Command
from core.crypto import mask_phone
from core.frontend import DeliveryRefused
from core.replies import Reply
from core.storage import consent
from core.storage.database import Database
from core.storage.models import Member
from core.targets import TelegramChat
from tests.account.links import confirm_link
from tests.fakes.twilio_api import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    count_segments,
    inbound_params,
    post_webhook,
)
from tests.testbot import SmsTestBot, sms_messages

PHONE = "+14155550123"
OTHER = "+447700900123"
OUR_NUMBER = "+14155550100"


@pytest.fixture
async def bot(make_sms_bot: Any, database: Database) -> SmsTestBot:
    """Sam texts from PHONE; the bot's state on each database."""
    sms: SmsTestBot = await make_sms_bot(db=database, number=OUR_NUMBER)
    sms.member("sam", external_id=PHONE)
    return sms


async def opt_out_reason(bot: SmsTestBot, phone: str = PHONE) -> str | None:
    """Why ``phone`` is opted out of SMS, if it is."""
    assert bot.engine.vault is not None
    async with bot.engine.db.read() as session:
        return await consent.opt_out_reason(session, bot.engine.vault.lookup_key(phone))


def _no_numbers(text: str) -> str:
    return re.sub(r"\d+(\.\d+)?", "N", text)


# --------------------------------------------------------------------------- inbound


async def test_ping_says_what_every_frontend_says(bot: SmsTestBot) -> None:
    (answer,) = await bot.texts("sam", "PING")
    shell = await bot.say(bot.member("tester", "shell"), "/ping")
    assert _no_numbers(answer) == _no_numbers(sms_text(shell.plain_text()))
    assert answer.startswith("Pong\nEngine up.")
    assert count_segments(answer) == ("GSM-7", 1)


async def test_keywords_are_case_insensitive_and_slash_commands_work(bot: SmsTestBot) -> None:
    (lower,) = await bot.texts("sam", "  ping ")
    (slashed,) = await bot.texts("sam", "/ping")
    assert lower.startswith("Pong") and slashed.startswith("Pong")


async def test_help_keyword_lists_keywords_and_how_to_stop(bot: SmsTestBot) -> None:
    (answer,) = await bot.texts("sam", "HELP")
    for word in ("PING", "PROFILE", "LINK <code>", "STOP", "START"):
        assert word in answer
    assert answer.startswith(bot.engine.config.bot.name)
    assert count_segments(answer)[1] <= 2


async def test_help_keeps_the_opt_out_sentence_however_many_keywords(bot: SmsTestBot) -> None:
    async def noop(_ctx: Any) -> Reply:
        return Reply(text="ok")

    bot.engine.registry.add(
        *(Command(f"extra{i}", "A command with a keyword.", noop, sms_keyword=f"KEYWORD{i:02d}") for i in range(40))
    )
    (answer,) = await bot.texts("sam", "HELP")
    assert answer.endswith("Reply STOP to opt out, START to opt back in.")
    assert ", ..." in answer and count_segments(answer)[1] <= 2
    (unknown,) = await bot.texts("sam", "WHAT")
    assert unknown.startswith("Unknown keyword WHAT.") and unknown.endswith("START to opt back in.")
    assert count_segments(unknown)[1] <= 2


async def test_slash_help_for_one_command_matches_the_shell(bot: SmsTestBot) -> None:
    (answer,) = await bot.texts("sam", "/help ping")
    shell = await bot.say(bot.member("tester", "shell"), "/help ping")
    assert answer == sms_text(shell.plain_text())
    assert "Check that the bot is alive." in answer


async def test_long_reply_is_trimmed_to_two_segments(bot: SmsTestBot) -> None:
    async def guide(_ctx: Any) -> Reply:
        return Reply(title="Guide", text="\n".join(f"/step{i} - one more thing to read" for i in range(30)))

    bot.engine.registry.add(Command("guide", "A reply too long for two segments.", guide))
    (answer,) = await bot.texts("sam", "/guide")
    assert answer.endswith(TRIM_NOTE)
    assert count_segments(answer) == ("GSM-7", 2)
    assert answer.startswith("Guide\n/step0")
    same = await bot.engine.dispatch_line(bot["sam"].caller, "/guide")
    assert answer == sms_text(same.plain_text())


async def test_unknown_keyword_gets_the_keyword_list(bot: SmsTestBot) -> None:
    (answer,) = await bot.texts("sam", "BALANCEZ please")
    assert answer.startswith("Unknown keyword BALANCEZ.")
    assert "PING" in answer and "STOP" in answer


async def test_an_empty_text_gets_the_keyword_list(bot: SmsTestBot) -> None:
    (answer,) = await bot.texts("sam", "", NumMedia="1")
    assert answer.startswith(f"{bot.engine.config.bot.name} SMS. Text ")


async def test_bad_arguments_get_a_short_error(bot: SmsTestBot) -> None:
    (answer,) = await bot.texts("sam", "/settings timezone:Mars/Olympus")
    assert answer.startswith("Not done\n")
    assert "unknown timezone" in answer


async def test_profile_shows_the_masked_number_never_the_number(bot: SmsTestBot) -> None:
    with capture_logs() as logs:
        (answer,) = await bot.texts("sam", "PROFILE")
        await bot.say("sam", "STOP")
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
async def test_unsigned_or_forged_webhooks_are_refused(bot: SmsTestBot, how: dict[str, Any]) -> None:
    status, body = await bot.post(inbound_params(PHONE, "PING", to=OUR_NUMBER), **how)
    assert status == 403 and "Response" not in body


async def test_signature_for_other_params_or_token_is_refused(bot: SmsTestBot) -> None:
    params = inbound_params(PHONE, "PING", to=OUR_NUMBER)
    wrong_token = await post_webhook(bot.url, "some-other-token", params)
    from twilio.request_validator import RequestValidator

    signature = RequestValidator(DEFAULT_AUTH_TOKEN).compute_signature(bot.url, params)
    tampered = await bot.post(params | {"Body": "STOP"}, signature=signature)
    assert wrong_token[0] == 403 and tampered[0] == 403
    assert await opt_out_reason(bot) is None


async def test_a_retried_webhook_is_answered_once(bot: SmsTestBot) -> None:
    member = await bot.resolve(bot.member("alice", "discord", external_id="8001"))
    code = await bot.engine.identity.issue_link_code(member.id, "discord")
    params = inbound_params(PHONE, f"LINK {code.code}", to=OUR_NUMBER)
    first = await bot.post(params)
    again = await bot.post(params)
    assert first == again
    assert "Link requested" in sms_messages(first[1])[0]


async def test_messages_from_short_codes_are_ignored(bot: SmsTestBot) -> None:
    assert await bot.texts(bot.member("shortcode", external_id="SNPDALERT"), "PING") == []


# --------------------------------------------------------------------------- /link


async def test_link_code_merges_the_phone_into_a_discord_member(bot: SmsTestBot) -> None:
    identity = bot.engine.identity
    alice = await bot.resolve(bot.member("alice", "discord", external_id="8001"))
    code = await identity.issue_link_code(alice.id, "discord")
    (answer,) = await bot.texts("sam", f"link {code.code.lower()}")
    assert answer.startswith("Link requested\nThis asks Discord @alice to take in your Phone account.")
    assert (await confirm_link(bot.engine, bot["alice"].caller)).text == "This member now owns: Discord, Phone."
    platforms = {i.platform for i in await identity.identities(alice.id)}
    assert platforms == {"discord", "sms"}
    assert await identity.address_for(alice.id, "sms") == PHONE
    (again,) = await bot.texts("sam", f"LINK {code.code}")
    assert "already used" in again


# --------------------------------------------------------------------------- STOP / START


async def test_stop_ends_sms_until_start(bot: SmsTestBot) -> None:
    identity = bot.engine.identity
    alice = await bot.resolve(bot.member("alice", "discord", external_id="8001"))
    code = await identity.issue_link_code(alice.id, "discord")
    await bot.say("sam", f"LINK {code.code}")
    await confirm_link(bot.engine, bot["alice"].caller)
    await identity.update_settings(alice.id, sms_enabled=True)
    await bot.engine.service(Delivery).worker.run_until_idle()  # the "accounts linked" text is out
    texted_before_stop, sent_before_stop = len(bot.twilio.requests), len(bot.twilio.sent)

    (confirmation,) = await bot.texts("sam", "STOP")
    assert "unsubscribed" in confirmation and "START" in confirmation
    assert await opt_out_reason(bot) == "STOP"
    assert (await identity.get(alice.id)).sms_enabled is False  # type: ignore[union-attr]
    with pytest.raises(DeliveryRefused) as refused:
        await bot.frontend.send_direct(PHONE, Reply(text="Restock!"))
    assert refused.value.permanent and "0123" in str(refused.value) and PHONE not in str(refused.value)
    assert len(bot.twilio.requests) == texted_before_stop  # nothing reached Twilio after STOP
    assert await bot.texts("sam", "PING") == []  # opted out: silence, not a reply
    (help_answer,) = await bot.texts("sam", "HELP")  # HELP is always answered
    assert "START" in help_answer

    (welcome,) = await bot.texts("sam", "start")
    assert "subscribed" in welcome
    assert await opt_out_reason(bot) is None
    assert (await identity.get(alice.id)).sms_enabled is True  # type: ignore[union-attr]
    await bot.frontend.send_direct(PHONE, Reply(text="Restock!"))
    assert [m.body for m in bot.twilio.sent][sent_before_stop:] == ["Restock!"]


@pytest.mark.parametrize("word", ["stop", "Unsubscribe", " QUIT. ", "StopAll", "cancel", "END"])
async def test_stop_synonyms(bot: SmsTestBot, word: str) -> None:
    await bot.say("sam", word)
    assert await opt_out_reason(bot) == "STOP"


async def test_stop_inside_a_sentence_is_not_an_opt_out(bot: SmsTestBot) -> None:
    await bot.say("sam", "stop sending me jordans")
    assert await opt_out_reason(bot) is None


@pytest.mark.parametrize("word", ["YES", "unstop"])
async def test_start_synonyms(bot: SmsTestBot, word: str) -> None:
    await bot.say("sam", "STOP")
    await bot.say("sam", word)
    assert await opt_out_reason(bot) is None


async def test_twilio_advanced_opt_out_already_answered(bot: SmsTestBot) -> None:
    assert await bot.texts("sam", "STOP", OptOutType="STOP") == []
    assert await opt_out_reason(bot) == "STOP"
    assert await bot.texts("sam", "START", OptOutType="START") == []
    assert await opt_out_reason(bot) is None


# --------------------------------------------------------------------------- outbound


async def test_send_direct_goes_through_twilio_with_validity_period(bot: SmsTestBot) -> None:
    reply = Reply(title="🔥 Restock", text="**Jordan 4 Bred** at Kith NYC — $210", url="https://kith.test/j4")
    await bot.frontend.send_direct(PHONE, reply)
    (sent,) = bot.twilio.sent
    assert sent.to == PHONE and sent.from_ == OUR_NUMBER
    assert sent.body == "Restock\nJordan 4 Bred at Kith NYC - $210\nhttps://kith.test/j4"
    assert sent.encoding == "GSM-7" and sent.num_segments == 1
    assert sent.validity_period == bot.frontend.validity_period == 900
    assert sent.status_callback == bot.url + "/status"


async def test_long_outbound_fits_two_segments(bot: SmsTestBot) -> None:
    await bot.frontend.send_direct(PHONE, Reply(text="Jordan 4 restock at 40 stores. " * 30))
    (sent,) = bot.twilio.sent
    assert sent.num_segments == 2 and sent.body.endswith(TRIM_NOTE)


@pytest.mark.parametrize(
    ("code", "reason"), [(21610, "twilio-21610"), (30006, "twilio-30006"), (21614, "twilio-21614")]
)
async def test_permanent_twilio_errors_stop_sms_for_good(bot: SmsTestBot, code: int, reason: str) -> None:
    member = await bot.resolve("sam")
    await bot.engine.identity.update_settings(member.id, sms_enabled=True)
    bot.twilio.fail_recipient(PHONE, code)
    with pytest.raises(DeliveryRefused) as refused:
        await bot.frontend.send_direct(PHONE, Reply(text="Restock!"))
    assert refused.value.permanent and str(code) in refused.value.reason
    assert await opt_out_reason(bot) == reason
    async with bot.engine.db.read() as session:
        stored = await session.get(Member, member.id)
        assert stored is not None and stored.sms_enabled is False
    tried = len(bot.twilio.requests)
    with pytest.raises(DeliveryRefused):
        await bot.frontend.send_direct(PHONE, Reply(text="Again"))
    assert len(bot.twilio.requests) == tried  # refused before reaching Twilio
    await bot.frontend.send_direct(OTHER, Reply(text="Others still get theirs"))


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_rate_limits_and_outages_are_retryable(bot: SmsTestBot, status: int) -> None:
    bot.twilio.fail_next(status)
    with pytest.raises(DeliveryRefused) as refused:
        await bot.frontend.send_direct(PHONE, Reply(text="Restock!"))
    assert refused.value.permanent is False
    assert await opt_out_reason(bot) is None
    await bot.frontend.send_direct(PHONE, Reply(text="Restock!"))
    assert len(bot.twilio.sent) == 1


async def test_invalid_numbers_are_refused_without_an_opt_out(bot: SmsTestBot) -> None:
    bot.twilio.fail_recipient(PHONE, 21211)
    with pytest.raises(DeliveryRefused) as refused:
        await bot.frontend.send_direct(PHONE, Reply(text="x"))
    assert refused.value.permanent and await opt_out_reason(bot) is None
    with pytest.raises(DeliveryRefused):
        await bot.frontend.send_direct("0123", Reply(text="x"))


async def test_a_late_status_callback_records_a_landline(bot: SmsTestBot) -> None:
    await bot.frontend.send_direct(PHONE, Reply(text="Restock!"))
    (sent,) = bot.twilio.sent
    assert await bot.twilio.deliver_status(sent, "delivered") == 204
    assert await opt_out_reason(bot) is None
    assert await bot.twilio.deliver_status(sent, "undelivered", error_code=30006) == 204
    assert await opt_out_reason(bot) == "twilio-30006"
    assert sent.status_callback is not None
    forged = await post_webhook(sent.status_callback, "wrong", {"To": OTHER, "ErrorCode": "21610"})
    assert forged[0] == 403 and await opt_out_reason(bot, OTHER) is None


async def test_feeds_do_not_post_to_sms(bot: SmsTestBot) -> None:
    with pytest.raises(DeliveryRefused, match="no channels"):
        await bot.frontend.post(TelegramChat(chat_id=1), Reply(text="x"))


# --------------------------------------------------------------------------- wiring and config


def _sms_config(make_config: Any, monkeypatch: pytest.MonkeyPatch, **sms: Any) -> Any:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", DEFAULT_ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", DEFAULT_AUTH_TOKEN)
    if sms.get("from_number"):  # SMS is on: Twilio needs the URL it signs webhooks with
        sms.setdefault("public_url", "https://bot.example.com/sms")
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
