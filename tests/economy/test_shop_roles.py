"""Shop roles: only allow-listed role ids, only in the home server, never a role with power (issue #10 item 2).

Real discord.py against the fake Discord, which keeps Discord's role hierarchy and is also in a
second server with roles of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from core.errors import ConfigError
from tests.fakes.discord_api import (
    PERM_KICK_MEMBERS,
    PERM_MANAGE_MESSAGES,
    FakeDiscord,
    FakeRole,
)
from tests.testbot import DiscordTestBot, Member


@dataclass
class Roles:
    drip: FakeRole  #: an ordinary cosmetic role, allow-listed
    moderator: FakeRole  #: the community's Moderator role, not allow-listed
    trusted: FakeRole  #: allow-listed by mistake, but it can kick members
    staff: FakeRole  #: allow-listed, but above the bot's own role
    elsewhere: FakeRole  #: allow-listed, but a role of another server


@pytest.fixture
def roles(fake_discord: FakeDiscord) -> Roles:
    other = fake_discord.add_guild("Her server")
    return Roles(
        drip=fake_discord.add_role("Drip"),
        moderator=fake_discord.add_role("Moderator", PERM_MANAGE_MESSAGES | PERM_KICK_MEMBERS),
        trusted=fake_discord.add_role("Trusted", PERM_KICK_MEMBERS),
        staff=fake_discord.add_role("Staff", position=fake_discord.bot_role.position + 1),
        elsewhere=fake_discord.add_guild_role(other, "Drip"),
    )


@pytest.fixture
async def dc(make_discord_bot: Any, roles: Roles) -> DiscordTestBot:
    listed = [roles.drip.id, roles.trusted.id, roles.staff.id, roles.elsewhere.id]
    bot: DiscordTestBot = await make_discord_bot(economy={"min_account_age_days": 0, "grantable_role_ids": listed})
    return bot


async def _rich(dc: DiscordTestBot, name: str) -> Member:
    buyer = dc.member(name)
    await dc.join(buyer)
    await dc.ok(dc.owner, f"/admin grant @{name} 1000 prize")
    return buyer


def _role_changes(fake: FakeDiscord) -> int:
    return len(fake.requests_to("PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id}"))


async def test_shop_add_refuses_a_role_not_on_the_allow_list(dc: DiscordTestBot, roles: Roles) -> None:
    refused = await dc.fails(dc.owner, f"/shop add mod Moderator role 1 {roles.moderator.id}")
    assert "grantable_role_ids" in refused.plain_text()
    await dc.ok(dc.owner, f"/shop add drip Drip role 10 {roles.drip.id}")


async def test_an_allow_listed_role_is_granted_in_the_home_server(dc: DiscordTestBot, roles: Roles) -> None:
    await dc.ok(dc.owner, f"/shop add drip Drip role 10 {roles.drip.id}")
    alice = await _rich(dc, "alice")
    bought = await dc.say(alice, "/shop buy drip")
    assert bought.title == "🛍️ Bought", bought.plain_text()
    assert roles.drip.id in dc.fake.members[alice.native.user.id].roles


@pytest.mark.parametrize(
    ("role", "reason"),
    [
        ("trusted", "moderation permissions"),
        ("staff", "not below the bot's own role"),
        ("elsewhere", "no longer exists on the community's server"),
    ],
)
async def test_a_role_with_power_or_from_elsewhere_is_refused_at_grant_time(
    dc: DiscordTestBot, roles: Roles, role: str, reason: str
) -> None:
    role_id = getattr(roles, role).id
    await dc.ok(dc.owner, f"/shop add item Item role 10 {role_id}")
    alice = await _rich(dc, "alice")
    refunded = await dc.say(alice, "/shop buy item")
    assert refunded.title == "↩️ Refunded", refunded.plain_text()
    assert reason in refunded.plain_text()
    assert "1,000 LACES" in (await dc.say(alice, "/laces balance")).text
    assert role_id not in dc.fake.members[alice.native.user.id].roles
    assert _role_changes(dc.fake) == 0  # refused before asking Discord


async def test_a_bot_toml_item_giving_a_moderator_role_is_refunded(make_discord_bot: Any, roles: Roles) -> None:
    shop = [{"sku": "mod", "name": "Moderator", "kind": "role", "price": 5, "value": str(roles.moderator.id)}]
    dc: DiscordTestBot = await make_discord_bot(economy={"min_account_age_days": 0, "shop": shop})
    alice = await _rich(dc, "alice")
    refunded = await dc.say(alice, "/shop buy mod")
    assert refunded.title == "↩️ Refunded", refunded.plain_text()
    assert "moderation permissions" in refunded.plain_text()
    assert roles.moderator.id not in dc.fake.members[alice.native.user.id].roles


def test_grantable_role_ids_must_be_ids(make_config: Any) -> None:
    with pytest.raises(ConfigError, match="grantable_role_ids"):
        make_config(economy={"grantable_role_ids": ["Moderator"]})
