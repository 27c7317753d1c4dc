"""The Telegram frontend end to end: real engine, real python-telegram-bot, fake Bot API on loopback."""

from __future__ import annotations

import time
from typing import Any

import pytest

from adapters.telegram.frontend import api_urls
from adapters.telegram.render import TEXT_LIMIT, TRIM_NOTE, html_to_text, paginate, render, split_html, utf16_len
from core.commands import Permission
from core.frontend import DeliveryRefused
from core.replies import Button, Reply, ReplyField
from core.targets import TelegramChat
from tests.fakes.telegram_api import FakeUser, parse_html
from tests.testbot import TELEGRAM_ADMIN_IDS, TelegramTestBot

#: PTB itself reads the deprecated int ``retry_after`` while building ``RetryAfter``; not our warning.
pytestmark = pytest.mark.filterwarnings("ignore:.*attribute `retry_after`:DeprecationWarning")

ALICE = FakeUser(id=1001, first_name="Alice", username="alice")
BOB = FakeUser(id=1002, first_name="Bob", username="bob")
CAROL = FakeUser(id=1003, first_name="Carol <3", username="carol")
OWNER = FakeUser(id=TELEGRAM_ADMIN_IDS[0], first_name="Owner", username="owner")  # listed in [permissions] admins
GROUP_ID = -1001500
FORUM_ID = -1001600


@pytest.fixture
async def tg(make_telegram_bot: Any) -> TelegramTestBot:
    bot: TelegramTestBot = await make_telegram_bot(telegram={"community_chat_ids": [GROUP_ID, FORUM_ID]})
    return bot


# ---------------------------------------------------------------------------- commands


async def test_command_is_answered_and_menu_published(tg: TelegramTestBot) -> None:
    fake = tg.fake
    reply = await tg.ok(tg.member("alice"), "/ping")
    assert reply.plain_text().startswith("🏓 Pong\nEngine up.")
    assert reply.raw.raw.startswith("<b>🏓 Pong</b>")

    everyone = {c["command"]: c["description"] for c in fake.my_commands()}
    assert {"help", "ping", "link", "profile", "settings"} <= set(everyone)
    assert "feed" not in everyone, "feed commands are for mods/admins"
    admins = {c["command"]: c["description"] for c in fake.my_commands({"type": "all_chat_administrators"})}
    assert admins["feed"] == "Sub-commands: bind, list, unbind"
    assert fake.my_commands({"type": "chat", "chat_id": OWNER.id})  # configured admin's private menu


async def test_wrong_arguments_get_a_clear_escaped_error(tg: TelegramTestBot) -> None:
    fake = tg.fake
    alice = tg.member("alice")
    error = await tg.fails(alice, "/ping <b>now</b>")
    assert "<b>now</b>: unexpected extra argument. Usage: /ping" in error.plain_text()  # shown literally
    assert "&lt;b&gt;now&lt;/b&gt;" in error.raw.raw

    await tg.fails(alice, "/settings dm=maybe", match="dm: expected on/off (yes/no)")
    await tg.fails(alice, "/pnig", match="Unknown command /pnig. Did you mean /ping?")

    group = fake.group(GROUP_ID)
    fake.command(alice.native, "/ping@some_other_bot", chat=group)  # not ours: no answer
    assert "Pong" in (await tg.say(alice, "/ping@snpd_test_bot", chat=group)).plain_text()
    assert fake.messages_to(GROUP_ID) and len(fake.messages_to(GROUP_ID)) == 1


async def test_feed_item_reaches_a_chat_and_a_forum_topic(tg: TelegramTestBot) -> None:
    fake = tg.fake
    group = fake.group(GROUP_ID, "Cooks")
    forum = fake.group(FORUM_ID, "Cook HQ", forum=True)
    fake.set_member_status(GROUP_ID, ALICE.id, "administrator")
    fake.set_member_status(FORUM_ID, ALICE.id, "creator")

    fake.command(BOB, "/feed bind drops", chat=group)  # a plain member: refused, by DM
    assert "admins only" in (await fake.wait_for_message(BOB.id)).text
    assert "sent you the answer in a private chat" in (await fake.wait_for_message(GROUP_ID)).text

    fake.command(ALICE, "/feed bind drops", chat=group)
    assert "now posts to Telegram chat -1001500" in (await fake.wait_for_message(GROUP_ID)).text
    fake.command(ALICE, "/feed bind drops", chat=forum, topic_id=42)
    bound = await fake.wait_for_message(FORUM_ID, topic_id=42)
    assert "Telegram chat -1001600 topic 42" in bound.text

    item = Reply(
        title="Jordan 4 <Retro>",
        text="**Size run** 8-12 & more",
        fields=[ReplyField(name="Price", value="$210")],
        url="https://shop.example/j4",
        image_url="https://img.example/j4.jpg",
        buttons=[Button(label="Cop", url="https://shop.example/j4/cart")],
    )
    await tg.engine.feeds.publish("drops", item)
    await tg.engine.bus.drain()
    for posted in (await fake.wait_for_message(GROUP_ID), await fake.wait_for_message(FORUM_ID, topic_id=42)):
        assert posted.method == "sendPhoto"
        assert posted.params["photo_source"] == "https://img.example/j4.jpg"
        assert posted.text == "Jordan 4 <Retro>\nSize run 8-12 & more\n\nPrice: $210"
        assert '<b><a href="https://shop.example/j4">Jordan 4 &lt;Retro&gt;</a></b>' in posted.raw
        assert posted.buttons == [{"text": "Cop", "url": "https://shop.example/j4/cart"}]


async def test_configured_admin_is_admin_in_private_chat(tg: TelegramTestBot) -> None:
    owner = tg.member("owner", role=Permission.ADMIN)  # the bot lists its admins' ids in [permissions]
    assert "📡 Feeds" in (await tg.ok(owner, "/feed list")).plain_text()
    await tg.fails(tg.member("alice"), "/feed list", match="mods only")


async def test_button_press_dispatches_and_answers_the_callback(tg: TelegramTestBot) -> None:
    fake = tg.fake
    group = fake.group(GROUP_ID)
    menu = Reply(
        text="Try these",
        buttons=[Button(label="Ping", action="/ping"), Button(label="Bind", action="/feed bind drops")],
    )
    await tg.frontend.post(TelegramChat(chat_id=group.id), menu)
    sent = await fake.wait_for_message(GROUP_ID)
    assert [b["callback_data"] for b in sent.buttons] == ["/ping", "/feed bind drops"]

    update = fake.press_button(BOB, sent)
    assert "Pong" in (await fake.wait_for_message(GROUP_ID)).text
    answer = await fake.wait_for(lambda: fake.callback_answers)
    assert answer[0]["callback_query_id"] == update["callback_query"]["id"]
    assert not answer[0].get("show_alert")

    fake.press_button(BOB, sent, "/feed bind drops")  # refused: an alert only Bob sees, nothing posted
    await fake.wait_for(lambda: len(fake.callback_answers) == 2)
    assert fake.callback_answers[1]["show_alert"] is True
    assert "admins only" in fake.callback_answers[1]["text"]
    assert len(fake.messages_to(GROUP_ID)) == 2


# ---------------------------------------------------------------------------- privacy in groups


async def test_private_reply_in_group_goes_by_dm(tg: TelegramTestBot) -> None:
    fake = tg.fake
    group = fake.group(GROUP_ID)
    fake.command(ALICE, "/profile", chat=group)
    private = await fake.wait_for_message(ALICE.id)
    assert "Member: #" in private.text
    note = await fake.wait_for_message(GROUP_ID)
    assert note.text == "📬 Alice, I sent you the answer in a private chat."

    fake.block_chat(CAROL.id)
    fake.command(CAROL, "/profile", chat=group)
    hint = await fake.wait_for_message(GROUP_ID)
    assert hint.text.startswith("🔒 Carol <3, that answer is private")  # name escaped in the HTML
    assert "Member" not in hint.text and "@snpd_test_bot" in hint.text

    fake.command(CAROL, "/ping extra", chat=group)  # ephemeral but not private: falls back to the group
    error = await fake.wait_for_message(GROUP_ID)
    assert "unexpected extra argument" in error.text
    assert error.params["reply_parameters"]["message_id"] > 0


# ---------------------------------------------------------------------------- delivery errors


async def test_blocked_bot_raises_delivery_refused(tg: TelegramTestBot) -> None:
    tg.fake.block_chat(BOB.id)
    with pytest.raises(DeliveryRefused) as refused:
        await tg.frontend.send_direct(str(BOB.id), Reply(text="your alert"))
    assert refused.value.permanent and "blocked" in refused.value.reason

    tg.fake.fail_next_with("sendMessage", 403, "Forbidden: bot was kicked from the supergroup chat")
    with pytest.raises(DeliveryRefused, match="kicked"):
        await tg.frontend.post(TelegramChat(chat_id=GROUP_ID), Reply(text="restock"))


async def test_rate_limit_waits_retry_after(tg: TelegramTestBot) -> None:
    tg.fake.fail_next("sendMessage", retry_after=1)
    started = time.monotonic()
    await tg.frontend.post(TelegramChat(chat_id=GROUP_ID), Reply(text="restock"))
    assert time.monotonic() - started >= 1.0
    assert [c.status for c in tg.fake.calls_of("sendMessage")] == [429, 200]
    assert (await tg.fake.wait_for_message(GROUP_ID)).text == "restock"


async def test_unfetchable_photo_falls_back_to_text_with_link(tg: TelegramTestBot) -> None:
    tg.fake.fail_next_with("sendPhoto", 400, "Bad Request: wrong file identifier/HTTP URL specified")
    await tg.frontend.post(TelegramChat(chat_id=GROUP_ID), Reply(title="Dunk", image_url="https://img.example/d.jpg"))
    sent = await tg.fake.wait_for_message(GROUP_ID)
    assert sent.method == "sendMessage" and "🖼 Image" in sent.text
    assert sent.params["link_preview_options"]["url"] == "https://img.example/d.jpg"


# ---------------------------------------------------------------------------- length limits


async def test_long_output_is_split_under_4096(tg: TelegramTestBot) -> None:
    lines = [f"line {i:03}: <tag> & **bold {i}** `code` ✅" for i in range(400)]
    reply = Reply(title="Huge", text="\n".join(lines), buttons=[Button(label="More", action="/ping")])
    await tg.frontend.send_direct(str(ALICE.id), reply)
    sent = tg.fake.messages_to(ALICE.id)
    assert len(sent) >= 4
    assert all(utf16_len(s.text) <= TEXT_LIMIT for s in sent)
    shown = "\n".join(s.text for s in sent).split("\n")
    assert shown == ["Huge", *[line.replace("**", "").replace("`", "") for line in lines]]
    assert [bool(s.buttons) for s in sent] == [False] * (len(sent) - 1) + [True]

    await tg.frontend.send_direct(str(BOB.id), Reply(text="y" * 60_000))  # too much even to paginate
    trimmed = tg.fake.messages_to(BOB.id)
    assert len(trimmed) == 5 and trimmed[-1].text.endswith(TRIM_NOTE)

    long_caption = Reply(text="z " * 800, image_url="https://img.example/long.jpg")
    await tg.frontend.send_direct(str(CAROL.id), long_caption)
    (fallback,) = tg.fake.messages_to(CAROL.id)
    assert fallback.method == "sendMessage"
    assert fallback.params["link_preview_options"]["show_above_text"] is True


# ---------------------------------------------------------------------------- rendering (pure)


def test_split_html_keeps_every_page_balanced() -> None:
    markup = "<b>Title</b>\n<pre>" + "\n".join("x" * 30 for _ in range(10)) + "</pre>\n<i>" + "word " * 40 + "</i>"
    pages = split_html(markup, 70)
    assert len(pages) > 3
    for page in pages:
        assert utf16_len(parse_html(page)) <= 70  # the fake parses exactly like Telegram would
    assert "".join(html_to_text(p) for p in pages).replace("\n", "") == html_to_text(markup).replace("\n", "")
    assert split_html("😀" * 5, 3) == ["😀"] * 5  # emoji cost two UTF-16 units


def test_render_escapes_and_limits_captions() -> None:
    reply = Reply(
        title="<script>",
        text="a & b",
        fields=[ReplyField(name="Note", value="line1\nline2")],
        footer="by <admin>",
        url="javascript:alert(1)",  # not a link Telegram accepts: dropped, not sent
    )
    (message,) = render(reply)
    assert message.html == "<b>&lt;script&gt;</b>\na &amp; b\n\n<b>Note</b>:\nline1\nline2\n\n<i>by &lt;admin&gt;</i>"
    assert render(Reply(text="x" * 1100, image_url="https://i.example/a.png"))[0].photo is None
    assert render(Reply(text="x" * 1000, image_url="https://i.example/a.png"))[0].photo is not None
    assert paginate("") == ["✅"]
    assert render(Reply(buttons=[Button(label="Go", action="/ping")]))[0].html == "✅"


def test_api_base_forms() -> None:
    assert api_urls("") is None
    root = ("http://127.0.0.1:8081/bot", "http://127.0.0.1:8081/file/bot")
    assert api_urls("http://127.0.0.1:8081") == root
    assert api_urls("http://127.0.0.1:8081/bot/") == root
