"""Telegram roles come only from the community's own chats (issue #10 item 1).

Real python-telegram-bot polls the fake Bot API; the fake answers ``getChatMember`` per chat, so a
member who created her own group is its ``creator`` there and a plain ``member`` of the community.
"""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import ConfigError
from tests.fakes.telegram_api import FakeChat, FakeTelegramAPI, FakeUser
from tests.testbot import TelegramTestBot

#: PTB itself reads the deprecated int ``retry_after`` while building ``RetryAfter``; not our warning.
pytestmark = pytest.mark.filterwarnings("ignore:.*attribute `retry_after`:DeprecationWarning")

COMMUNITY = -1001000000001
HER_GROUP = -1009999999999
#: who Telegram names as the sender when a group admin posts anonymously, "as the group"
ANONYMOUS_ADMIN = FakeUser(id=1087968824, first_name="Group", username="GroupAnonymousBot", is_bot=True)


@pytest.fixture
async def tg(make_telegram_bot: Any) -> TelegramTestBot:
    bot: TelegramTestBot = await make_telegram_bot(telegram={"community_chat_ids": [COMMUNITY]})
    return bot


async def _answer_to(fake: FakeTelegramAPI, user: FakeUser, line: str, chat: FakeChat | None = None) -> str:
    """What ``user`` is told for ``line`` sent in ``chat``: refusals from groups arrive by DM."""
    fake.command(user, line, chat=chat)
    return (await fake.wait_for_message(user.id)).text


async def test_the_owner_of_her_own_group_is_a_member_there(tg: TelegramTestBot) -> None:
    fake = tg.fake
    mallory = tg.member("mallory").native
    her_group = fake.group(HER_GROUP, "Mallory's group")
    fake.set_member_status(HER_GROUP, mallory.id, "creator")
    fake.group(COMMUNITY, "Cook Group")

    refused = await _answer_to(fake, mallory, "/admin grant @mallory 100000 mine", her_group)
    assert "for admins only" in refused
    assert "for admins only" in await _answer_to(fake, mallory, "/feed bind restocks", her_group)
    assert "0 LACES" in await _answer_to(fake, mallory, "/laces balance")
    assert all(call.params["chat_id"] == COMMUNITY for call in fake.calls_of("getChatMember"))


async def test_a_community_admin_is_admin_in_the_community_and_in_private(tg: TelegramTestBot) -> None:
    fake = tg.fake
    alice = tg.member("alice").native
    community = fake.group(COMMUNITY, "Cook Group")
    fake.set_member_status(COMMUNITY, alice.id, "administrator")

    assert "📡 Feeds" in await _answer_to(fake, alice, "/feed list")  # private chat
    fake.command(alice, "/feed bind drops", chat=community)
    assert "now posts to Telegram chat" in (await fake.wait_for_message(COMMUNITY)).text


async def test_a_community_admin_gets_member_rights_in_an_unknown_group(tg: TelegramTestBot) -> None:
    fake = tg.fake
    alice = tg.member("alice").native
    fake.group(COMMUNITY, "Cook Group")
    fake.set_member_status(COMMUNITY, alice.id, "creator")
    elsewhere = fake.group(HER_GROUP, "Somewhere else")
    fake.set_member_status(HER_GROUP, alice.id, "creator")

    assert "for admins only" in await _answer_to(fake, alice, "/feed bind restocks", elsewhere)
    asked = {call.params["chat_id"] for call in fake.calls_of("getChatMember")}
    assert HER_GROUP not in asked


async def test_anonymous_admins_count_only_in_the_community(tg: TelegramTestBot) -> None:
    fake = tg.fake
    community = fake.group(COMMUNITY, "Cook Group")
    her_group = fake.group(HER_GROUP, "Mallory's group")

    fake.command(ANONYMOUS_ADMIN, "/feed bind drops", chat=her_group, sender_chat=her_group)
    assert "for admins only" in (await fake.wait_for_message(ANONYMOUS_ADMIN.id)).text
    fake.command(ANONYMOUS_ADMIN, "/feed bind drops", chat=community, sender_chat=community)
    assert "now posts to Telegram chat" in (await fake.wait_for_message(COMMUNITY)).text


async def test_a_role_is_looked_up_once_a_minute(tg: TelegramTestBot) -> None:
    fake = tg.fake
    alice = tg.member("alice").native
    fake.group(COMMUNITY, "Cook Group")
    fake.set_member_status(COMMUNITY, alice.id, "administrator")
    assert "📡 Feeds" in await _answer_to(fake, alice, "/feed list")
    assert "📡 Feeds" in await _answer_to(fake, alice, "/feed list")
    assert len(fake.calls_of("getChatMember")) == 1  # the second answer came from the cache


async def test_chat_admins_can_be_mapped_to_mods(make_telegram_bot: Any) -> None:
    tg: TelegramTestBot = await make_telegram_bot(
        telegram={"community_chat_ids": [COMMUNITY], "chat_admin_role": "mod"}
    )
    fake = tg.fake
    alice, owner = tg.member("alice").native, tg.member("owner").native
    fake.group(COMMUNITY, "Cook Group")
    fake.set_member_status(COMMUNITY, alice.id, "administrator")
    fake.set_member_status(COMMUNITY, owner.id, "creator")
    assert "📡 Feeds" in await _answer_to(fake, alice, "/feed list")
    assert "for admins only" in await _answer_to(fake, alice, "/feed bind drops")
    assert "for admins only" not in await _answer_to(fake, owner, "/feed bind drops")


async def test_a_community_chat_id_must_be_a_group(make_config: Any) -> None:
    with pytest.raises(ConfigError, match="not a group id"):
        make_config(telegram={"community_chat_ids": [12345]})
