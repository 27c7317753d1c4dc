"""A legit check end to end through real discord.py and python-telegram-bot against the local fake
servers: photos uploaded with the command (Discord attachment options read from the fake CDN, a
Telegram album fetched with getFile), the card posted with its photos to the bound ``lc`` feed, votes
by its buttons (a double tap changes nothing), the verdict edited into the card, the submitter's DM
and the winners' LACES."""

from __future__ import annotations

from typing import Any

import pytest

from bot.economy import EconomyRuntime
from core.engine import Engine
from core.replies import Reply
from core.targets import DiscordChannel, TelegramChat
from tests.fakes.discord_api import RecordedMessage
from tests.legitcheck.photos import photo_set
from tests.testbot import DiscordTestBot, TelegramTestBot, heard_on_discord, heard_on_telegram, is_error

pytestmark = pytest.mark.filterwarnings("ignore:.*attribute `retry_after`:DeprecationWarning")

SECTIONS: dict[str, dict[str, Any]] = {
    "economy": {"min_account_age_days": 0},
    "legitcheck": {"min_voters": 3, "min_weight": 1.5, "min_lead": 1.0, "majority": 0.7},
}
PHOTOS = photo_set("astronaut", "coffee", "chelsea")


async def _balance(engine: Engine, member_id: int) -> int:
    return await engine.service(EconomyRuntime).economy.balance(member_id)


async def _tick_box_label(bot: DiscordTestBot | TelegramTestBot, who: str, picker: Reply) -> Reply:
    """Tick "Box label" on the checklist; the reply is the checklist with it ticked."""
    assert not is_error(picker) and "Box label" in [b.label for b in picker.buttons]
    ticked = await bot.press(who, picker, "Box label")
    assert "✓ Box label" in [b.label for b in ticked.buttons]
    return ticked


async def test_a_check_on_discord(make_discord_bot: Any) -> None:
    bot: DiscordTestBot = await make_discord_bot(**SECTIONS)
    channel = bot.fake.add_channel("legit-checks")
    await bot.engine.feeds.bind("lc", DiscordChannel(channel_id=channel.id), by=None)
    sam = bot.member("sam")
    for name in ("ann", "bob", "cat"):
        bot.member(name)
    submitted = await bot.ok(sam, '/lc submit "Jordan 4 Bred"', attachments=PHOTOS)
    assert "Check #1 of **Jordan 4 Bred**" in submitted.text
    assert len(bot.fake.cdn_fetches) == 3

    def is_card(message: RecordedMessage) -> bool:
        return bool(message.embeds) and str(message.embeds[0].get("title", "")).startswith("🔎 Legit check #1")

    posted = await bot.fake.wait_for_message(channel.id, predicate=is_card)
    card = heard_on_discord(posted, bot.fake.uploads)
    assert len(card.images) == 3 and card.image_url == posted.payload["attachments"][0]["url"]
    assert [b.label for b in card.buttons] == ["Real", "Fake", "Unsure"]
    answers = {}
    for name in ("ann", "bob", "cat"):
        ticked = await _tick_box_label(bot, name, await bot.press(name, card, "Fake"))
        answers[name] = (await bot.press(name, ticked, "Cast Fake vote")).text
        if name == "ann":
            assert "already voted" in (await bot.press(name, ticked, "Cast Fake vote")).text  # a double tap
    assert "Fake (Box label) on #1" in answers["ann"] and "closed" in answers["cat"]
    await bot.engine.bus.drain()
    dm = heard_on_discord(await bot.fake.wait_for_dm(sam.native.user.id))
    assert "closed" in (dm.title or "") and "Fake" in dm.text and "Box label" in dm.text
    assert posted.id in [m.id for m in bot.fake.message_edits]
    assert "Verdict" in posted.embeds[0]["description"] and not heard_on_discord(posted).buttons
    assert [await _balance(bot.engine, await bot.member_id(n)) for n in ("ann", "bob", "cat", "sam")] == [5, 5, 5, 0]


async def test_a_check_on_telegram(make_telegram_bot: Any) -> None:
    bot: TelegramTestBot = await make_telegram_bot(**SECTIONS)
    group = bot.fake.group(-100777, "Legit checks")
    await bot.engine.feeds.bind("lc", TelegramChat(chat_id=group.id), by=None)
    sam = bot.member("sam")
    for name in ("ann", "bob", "cat"):
        bot.member(name)
    submitted = await bot.ok(sam, '/lc submit "Jordan 4 Bred" 10', attachments=PHOTOS)
    assert "Check #1 of Jordan 4 Bred (size 10)" in submitted.text
    assert len(bot.fake.calls_of("getFile")) == 3
    text = await bot.fake.wait_for_message(group.id, contains="Legit check #1", timeout=20)
    album = bot.fake.calls_of("sendMediaGroup")
    assert album and album[0].params["chat_id"] in (group.id, str(group.id))
    card = heard_on_telegram(text)
    assert [b.label for b in card.buttons] == ["Real", "Fake", "Unsure"]
    for name in ("ann", "bob", "cat"):
        assert "#1" in (await bot.ok(name, "/lc queue")).text  # each has a private chat with the bot
    answers = {}
    for name in ("ann", "bob", "cat"):
        # pressed in the group, answered in private: the checklist goes to the voter alone
        bot.fake.press_button(bot[name].native, text, "/lc vote 1 fake")
        picker = heard_on_telegram(await bot.fake.wait_for_message(bot[name].native.id))
        ticked = await _tick_box_label(bot, name, picker)
        answers[name] = (await bot.press(name, ticked, "Cast Fake vote")).text
        if name == "ann":
            assert "already voted" in (await bot.press(name, ticked, "Cast Fake vote")).text  # a double tap
    assert "closed" in answers["cat"]
    await bot.engine.bus.drain()
    dm = heard_on_telegram(await bot.fake.wait_for_message(sam.native.id, contains="closed", timeout=20))
    assert "closed" in (dm.title or "") and "Fake" in dm.text
    assert any(edit.params.get("message_id") == text.message_id for edit in bot.fake.edits)
    assert await _balance(bot.engine, await bot.member_id("ann")) == 5
    sms_free = await bot.ok(sam, "/lc show 1")
    assert "Verdict" in sms_free.text
