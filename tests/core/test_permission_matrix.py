"""Who may run what: every command × every role × every frontend it is on × where it is sent from
(issue #10 item 3).

A person holds a role in the community (member, mod, admin) and sends a command from the community's
own server or chat, from another server or group (one she owns), or from a private chat. The role is
computed by the real frontend: real discord.py receives the interaction from the fake Discord, real
python-telegram-bot polls the update from the fake Bot API and asks it ``getChatMember``. A
``whoami`` command reports the role the engine then grants (``Identity.role_for``), and every
command of the registry is checked against it, so the table covers every command without running
any of them. One bot per (frontend, place); the roles are three commands on it.

Expected: the held role in the community and in private (Telegram: the community chats are asked;
Discord: a DM carries no server, so member), member rights anywhere else. SMS and the shell have
no platform roles (only ``[permissions]``, and the shell is the operator's console).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from core.commands import Command, Permission
from core.context import Context
from core.engine import Engine
from core.replies import Reply
from tests.fakes.discord_api import PERM_ADMINISTRATOR, PERM_MANAGE_MESSAGES, FakeChannel, FakeDiscord, FakeMember
from tests.fakes.telegram_api import FakeChat, FakeTelegramAPI, FakeUser
from tests.testbot import DiscordTestBot, TelegramTestBot, heard_on_discord, heard_on_telegram

#: PTB itself reads the deprecated int ``retry_after`` while building ``RetryAfter``; not our warning.
pytestmark = pytest.mark.filterwarnings("ignore:.*attribute `retry_after`:DeprecationWarning")

PLACES = ("community", "foreign", "private")
ROLES = (Permission.MEMBER, Permission.MOD, Permission.ADMIN)
COMMUNITY_CHAT = -1001000000001
#: each person's own group, where she is the creator
OWN_GROUPS = {Permission.MEMBER: -1002000000001, Permission.MOD: -1002000000002, Permission.ADMIN: -1002000000003}


async def _whoami(ctx: Context) -> Reply:
    return Reply(text=f"role={ctx.role.label}")


WHOAMI = Command(
    "whoami", "The role the engine grants the caller.", _whoami, frontends=frozenset({"discord", "telegram"})
)


def expected_role(frontend: str, place: str, held: Permission) -> Permission:
    if place == "foreign" or (frontend == "discord" and place == "private"):
        return Permission.MEMBER
    return held


def _granted(text: str) -> Permission:
    assert "role=" in text, f"whoami answered {text!r}"
    return Permission[text.rsplit("role=", 1)[1].split()[0].upper()]


def _check_matrix(engine: Engine, frontend: str, place: str, granted: dict[Permission, Permission]) -> None:
    """Every command of the registry on ``frontend``: may the holder of each role run it from ``place``?"""
    wrong = []
    for command in engine.registry.all(frontend=frontend):
        for held in ROLES:
            may = command.permission <= granted[held]
            should = command.permission <= expected_role(frontend, place, held)
            if may != should:
                wrong.append(
                    f"/{command.name} ({command.permission.label}) by a {held.label}: may={may} should={should}"
                )
    assert not wrong, f"{frontend}, sent from {place}:\n" + "\n".join(wrong)


# ------------------------------------------------------------------------------------------- Discord


@dataclass
class DiscordPeople:
    """A person per role; each also owns a server of her own."""

    members: dict[Permission, FakeMember]
    own_channels: dict[Permission, FakeChannel]


def _discord_people(fake: FakeDiscord) -> DiscordPeople:
    named_admin = fake.add_role("Admin")  # a role name anyone can copy: gives nothing
    helpers = fake.add_role("Helpers")  # in mod_role_ids
    admins = fake.add_role("Admins", PERM_ADMINISTRATOR)
    held = {
        Permission.MEMBER: fake.add_member("member", roles=[named_admin]),
        Permission.MOD: fake.add_member("mod", roles=[helpers]),
        Permission.ADMIN: fake.add_member("admin", roles=[admins]),
    }
    # a member who may manage messages in one channel only is still a member
    fake.set_overwrite(fake.general, held[Permission.MEMBER], allow=PERM_MANAGE_MESSAGES)
    channels = {role: fake.add_guild(f"{role.label}'s server", owner=m.user).channel for role, m in held.items()}
    return DiscordPeople(held, channels)


@pytest.mark.parametrize("place", PLACES)
async def test_discord_matrix(fake_discord: FakeDiscord, make_discord_bot: Any, place: str) -> None:
    people = _discord_people(fake_discord)
    helpers = next(role for role in fake_discord.roles.values() if role.name == "Helpers")
    dc: DiscordTestBot = await make_discord_bot(commands=[WHOAMI], discord={"mod_role_ids": [helpers.id]})
    granted = {}
    for held, person in people.members.items():
        where = {
            "community": fake_discord.general,
            "foreign": people.own_channels[held],
            "private": fake_discord.dm_channel(person.user),
        }[place]
        interaction = await fake_discord.send_command("whoami", {}, user=person, channel=where)
        granted[held] = _granted(heard_on_discord(await fake_discord.wait_for_reply(interaction)).plain_text())
    _check_matrix(dc.engine, "discord", place, granted)


# ------------------------------------------------------------------------------------------ Telegram


def _telegram_people(fake: FakeTelegramAPI) -> dict[Permission, FakeUser]:
    status = {Permission.MEMBER: "member", Permission.MOD: "administrator", Permission.ADMIN: "creator"}
    people = {}
    fake.group(COMMUNITY_CHAT, "Cook Group")
    for number, (held, state) in enumerate(status.items()):
        user = FakeUser(id=5001 + number, first_name=held.label.title(), username=held.label)
        fake.set_member_status(COMMUNITY_CHAT, user.id, state)
        fake.group(OWN_GROUPS[held], f"{held.label}'s group")
        fake.set_member_status(OWN_GROUPS[held], user.id, "creator")
        people[held] = user
    return people


@pytest.mark.parametrize("place", PLACES)
async def test_telegram_matrix(fake_telegram: FakeTelegramAPI, make_telegram_bot: Any, place: str) -> None:
    people = _telegram_people(fake_telegram)
    tg: TelegramTestBot = await make_telegram_bot(
        commands=[WHOAMI], telegram={"community_chat_ids": [COMMUNITY_CHAT], "chat_admin_role": "mod"}
    )
    granted = {}
    for held, person in people.items():
        chat: FakeChat | None = {
            "community": fake_telegram.chats[COMMUNITY_CHAT],
            "foreign": fake_telegram.chats[OWN_GROUPS[held]],
            "private": None,
        }[place]
        fake_telegram.command(person, "/whoami", chat=chat)
        where = chat.id if chat is not None else person.id
        granted[held] = _granted(heard_on_telegram(await fake_telegram.wait_for_message(where)).plain_text())
    _check_matrix(tg.engine, "telegram", place, granted)
