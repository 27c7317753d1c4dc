"""Members, /link codes and settings, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from bot.account import Linking
from core.commands import Permission
from core.engine import Engine
from core.errors import BadArgument, UserError
from core.identity import Caller
from core.storage.models import LinkCode
from core.storage.types import utcnow

DISCORD = Caller(platform="discord", external_id="111", display_name="kicks")
TELEGRAM = Caller(platform="telegram", external_id="222", display_name="kicks_tg")


async def test_first_contact_creates_one_member(engine: Engine) -> None:
    first = await engine.identity.resolve(DISCORD)
    again = await engine.identity.resolve(DISCORD)
    assert first.id == again.id
    assert first.timezone == "UTC"


async def test_link_merges_two_identities_when_the_owner_confirms(engine: Engine) -> None:
    discord_member = await engine.identity.resolve(DISCORD)
    telegram_member = await engine.identity.resolve(TELEGRAM)
    code = await engine.identity.issue_link_code(discord_member.id, "discord")
    linking = engine.service(Linking)
    requested = await linking.request(code.code.lower(), telegram_member.id, TELEGRAM)
    assert (await engine.identity.resolve(TELEGRAM)).id == telegram_member.id
    result = await linking.decide(requested.request_id, discord_member.id, confirm=True)
    assert result is not None and result.survivor_id == discord_member.id
    assert result.platforms == ("discord", "telegram")
    assert (await engine.identity.resolve(TELEGRAM)).id == discord_member.id
    absorbed = await engine.identity.get(telegram_member.id)
    assert absorbed is not None and absorbed.merged_into == discord_member.id


async def test_link_code_is_single_use(engine: Engine) -> None:
    owner = await engine.identity.resolve(DISCORD)
    other = await engine.identity.resolve(TELEGRAM)
    phone = Caller(platform="sms", external_id="+14155550123", display_name="p")
    third = await engine.identity.resolve(phone)
    code = await engine.identity.issue_link_code(owner.id, "discord")
    await engine.service(Linking).request(code.code, other.id, TELEGRAM)
    with pytest.raises(UserError, match="already used"):
        await engine.service(Linking).request(code.code, third.id, phone)


async def test_link_code_expires(engine: Engine) -> None:
    owner = await engine.identity.resolve(DISCORD)
    other = await engine.identity.resolve(TELEGRAM)
    code = await engine.identity.issue_link_code(owner.id, "discord")
    async with engine.db.transaction() as session:
        await session.execute(
            update(LinkCode).where(LinkCode.code == code.code).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    with pytest.raises(UserError, match="expired"):
        await engine.service(Linking).request(code.code, other.id, TELEGRAM)


async def test_link_refuses_own_code_and_unknown_code(engine: Engine) -> None:
    owner = await engine.identity.resolve(DISCORD)
    code = await engine.identity.issue_link_code(owner.id, "discord")
    with pytest.raises(UserError, match="other account"):
        await engine.service(Linking).request(code.code, owner.id, DISCORD)
    with pytest.raises(UserError, match="does not exist"):
        await engine.service(Linking).request("ZZZZZ-ZZZZZ", owner.id, TELEGRAM)


async def test_phone_numbers_are_stored_encrypted(engine: Engine) -> None:
    phone = Caller(platform="sms", external_id="+14155550123", display_name="+14155550123")
    member = await engine.identity.resolve(phone)
    [identity] = await engine.identity.identities(member.id)
    assert "4155550123" not in identity.external_id
    assert identity.secret_address and "4155550123" not in identity.secret_address
    assert await engine.identity.address_for(member.id, "sms") == "+14155550123"


async def test_settings_validate_and_persist(engine: Engine) -> None:
    member = await engine.identity.resolve(DISCORD)
    updated = await engine.identity.update_settings(
        member.id, timezone="America/New_York", dm_enabled=False, channel_order=["telegram", "discord"]
    )
    assert (updated.timezone, updated.dm_enabled, updated.channel_order) == (
        "America/New_York",
        False,
        ["telegram", "discord"],
    )
    with pytest.raises(BadArgument, match="timezone"):
        await engine.identity.update_settings(member.id, timezone="Mars/Olympus")
    with pytest.raises(BadArgument, match="sms"):
        await engine.identity.update_settings(member.id, sms_enabled=True)
    with pytest.raises(BadArgument, match="channels"):
        await engine.identity.update_settings(member.id, channel_order=["pigeon"])


def test_roles_from_config(make_config: object) -> None:
    from snpd.app import build_engine

    engine = build_engine(make_config(permissions={"admins": ["discord:1"], "mods": ["telegram:2"]}))  # type: ignore[operator]
    assert engine.identity.role_for(Caller("discord", "1", "a")) is Permission.ADMIN
    assert engine.identity.role_for(Caller("telegram", "2", "m")) is Permission.MOD
    assert engine.identity.role_for(Caller("telegram", "3", "x")) is Permission.MEMBER
    assert engine.identity.role_for(Caller("discord", "3", "x", platform_role=Permission.MOD)) is Permission.MOD


# --------------------------------------------------------------------------- @name resolution

ADMIN = Caller("shell", "local", "admin")


async def test_a_name_matches_exactly_never_as_a_pattern(engine: Engine) -> None:
    sam = await engine.identity.resolve(Caller("discord", "501", "sam"))
    await engine.identity.resolve(Caller("telegram", "502", "Sam_Tg"))
    for pattern in ("@s_m", "@%", "@sa%", "@_am"):
        reply = await engine.dispatch_line(ADMIN, f"/admin grant {pattern} 10 test")
        assert "No member called" in reply.text, (pattern, reply.text)
    found = await engine.identity.find_by_handle("@SAM")
    assert found is not None and found.id == sam.id
    tg = await engine.identity.find_by_handle("sam_tg")
    assert tg is not None and tg.id != sam.id


async def test_a_name_two_members_share_is_refused(engine: Engine) -> None:
    telegram_sam = await engine.identity.resolve(Caller("telegram", "601", "sam"))
    discord_sam = await engine.identity.resolve(Caller("discord", "602", "Sam"))
    reply = await engine.dispatch_line(ADMIN, "/admin grant @sam 100 for the Discord sam")
    assert reply.title == "⚠️ Not done"
    assert "Discord, Telegram" in reply.text and "#id" in reply.text
    assert str(discord_sam.id) not in reply.text.replace("#id", "")
    granted = await engine.dispatch_line(ADMIN, f"/admin grant #{discord_sam.id} 100 for the Discord sam")
    assert granted.title != "⚠️ Not done", granted.text
    telegram_balance = await engine.dispatch_line(Caller("telegram", "601", "sam"), "/laces balance")
    assert "100" not in telegram_balance.text
    assert telegram_sam.id != discord_sam.id


async def test_linked_identities_with_one_name_are_one_member(engine: Engine) -> None:
    owner = await engine.identity.resolve(Caller("discord", "701", "kim"))
    joiner = await engine.identity.resolve(Caller("telegram", "702", "kim"))
    async with engine.db.transaction() as session:
        await engine.identity.merge(session, owner.id, joiner.id)
    found = await engine.identity.find_by_handle("@kim")
    assert found is not None and found.id == owner.id
