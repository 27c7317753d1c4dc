"""Discord roles come only from the home servers, from server-wide permissions or role ids (issue #10 item 2).

Real discord.py against the fake Discord: the fake is in a second server owned by a stranger, sends
channel-resolved permissions in interactions as Discord does, and keeps role names free for anyone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.discord.frontend import DiscordFrontend
from core.commands import Permission
from core.errors import ConfigError
from snpd.app import build_engine
from tests.fakes.discord_api import PERM_MANAGE_MESSAGES, FakeChannel, FakeDiscord, FakeMember
from tests.fakes.harness import serving
from tests.testbot import DiscordTestBot, heard_on_discord


async def _run(fake: FakeDiscord, who: FakeMember, name: str, values: dict[str, Any], channel: FakeChannel) -> str:
    interaction = await fake.send_command(name, values, user=who, channel=channel)
    return heard_on_discord(await fake.wait_for_reply(interaction)).plain_text()


async def test_the_owner_of_another_server_is_a_member_here(fake_discord: FakeDiscord, make_discord_bot: Any) -> None:
    elsewhere = fake_discord.add_guild("Her server")
    dc: DiscordTestBot = await make_discord_bot()
    accomplice = dc.member("accomplice")
    await dc.join(accomplice)
    stranger = elsewhere.owner

    grant = {"member": accomplice.native, "amount": 100000, "reason": "mine"}
    assert "for admins only" in await _run(fake_discord, stranger, "admin grant", grant, elsewhere.channel)
    bind = {"feed": "restocks"}
    assert "for admins only" in await _run(fake_discord, stranger, "feed bind", bind, elsewhere.channel)
    assert "**restocks** → not bound" in await _run(
        fake_discord, dc.owner.native, "feed list", {}, fake_discord.general
    )


async def test_manage_messages_on_one_channel_is_not_a_mod(
    fake_discord: FakeDiscord, discord_bot: DiscordTestBot
) -> None:
    bob = discord_bot.member("bob").native
    own_channel = fake_discord.add_channel("bobs-sales")
    fake_discord.set_overwrite(own_channel, bob, allow=PERM_MANAGE_MESSAGES)

    assert "for mods only" in await _run(fake_discord, bob, "feed list", {}, own_channel)
    moderator = discord_bot.member("moderator", role=Permission.MOD).native  # Manage Messages server-wide
    assert "Feeds" in await _run(fake_discord, moderator, "feed list", {}, own_channel)


async def test_role_ids_count_and_role_names_do_not(fake_discord: FakeDiscord, make_discord_bot: Any) -> None:
    named = fake_discord.add_role("Admin")  # a name anyone can give a role
    staff = fake_discord.add_role("Staff")
    helpers = fake_discord.add_role("Helpers")
    await make_discord_bot(discord={"admin_role_ids": [staff.id], "mod_role_ids": [helpers.id]})
    carol = fake_discord.add_member("carol", roles=[named])
    dave = fake_discord.add_member("dave", roles=[staff])
    erin = fake_discord.add_member("erin", roles=[helpers])
    general = fake_discord.general

    assert "for mods only" in await _run(fake_discord, carol, "feed list", {}, general)
    assert "now posts to" in await _run(fake_discord, dave, "feed bind", {"feed": "drops"}, general)
    assert "Feeds" in await _run(fake_discord, erin, "feed list", {}, general)
    assert "for admins only" in await _run(fake_discord, erin, "feed bind", {"feed": "drops"}, general)


@pytest.fixture
async def homeless(fake_discord: FakeDiscord, make_config: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """A bot with no home server configured; yields the configured admin's user id."""
    admin = fake_discord.add_member("configured")
    monkeypatch.setenv("DISCORD_TOKEN", fake_discord.token)
    config = make_config(
        discord={"api_base": fake_discord.api_base},
        permissions={"admins": [f"discord:{admin.user.id}"]},
    )
    engine = build_engine(config)
    await engine.start()
    async with serving(engine, [DiscordFrontend(engine, defer_after=0.5, guild_ready_timeout=0.05)]):
        yield str(admin.user.id)


async def test_without_home_servers_only_configured_admins_are_admins(fake_discord: FakeDiscord, homeless: str) -> None:
    owner = fake_discord.members[fake_discord.owner.id]
    general = fake_discord.general
    assert "for admins only" in await _run(fake_discord, owner, "feed bind", {"feed": "drops"}, general)
    configured = fake_discord.members[int(homeless)]
    assert "now posts to" in await _run(fake_discord, configured, "feed bind", {"feed": "drops"}, general)


@pytest.mark.parametrize("key", ["admin_role_names", "mod_role_names"])
def test_role_names_in_an_old_config_are_an_error(make_config: Any, key: str) -> None:
    with pytest.raises(ConfigError, match=f"use {key.replace('names', 'ids')}"):
        make_config(discord={key: ["Admin"]})
