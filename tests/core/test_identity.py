"""Members, /link codes and settings, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

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


async def test_link_merges_two_identities(engine: Engine) -> None:
    discord_member = await engine.identity.resolve(DISCORD)
    telegram_member = await engine.identity.resolve(TELEGRAM)
    code = await engine.identity.issue_link_code(discord_member.id, "discord")
    result = await engine.identity.redeem_link_code(code.code.lower(), telegram_member.id, "telegram")
    assert result.survivor_id == discord_member.id
    assert result.platforms == ("discord", "telegram")
    assert (await engine.identity.resolve(TELEGRAM)).id == discord_member.id
    absorbed = await engine.identity.get(telegram_member.id)
    assert absorbed is not None and absorbed.merged_into == discord_member.id


async def test_link_code_is_single_use(engine: Engine) -> None:
    owner = await engine.identity.resolve(DISCORD)
    other = await engine.identity.resolve(TELEGRAM)
    third = await engine.identity.resolve(Caller(platform="sms", external_id="+14155550123", display_name="p"))
    code = await engine.identity.issue_link_code(owner.id, "discord")
    await engine.identity.redeem_link_code(code.code, other.id, "telegram")
    with pytest.raises(UserError, match="already used"):
        await engine.identity.redeem_link_code(code.code, third.id, "sms")


async def test_link_code_expires(engine: Engine) -> None:
    owner = await engine.identity.resolve(DISCORD)
    other = await engine.identity.resolve(TELEGRAM)
    code = await engine.identity.issue_link_code(owner.id, "discord")
    async with engine.db.transaction() as session:
        await session.execute(
            update(LinkCode).where(LinkCode.code == code.code).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    with pytest.raises(UserError, match="expired"):
        await engine.identity.redeem_link_code(code.code, other.id, "telegram")


async def test_link_refuses_own_code_and_unknown_code(engine: Engine) -> None:
    owner = await engine.identity.resolve(DISCORD)
    code = await engine.identity.issue_link_code(owner.id, "discord")
    with pytest.raises(UserError, match="other account"):
        await engine.identity.redeem_link_code(code.code, owner.id, "discord")
    with pytest.raises(UserError, match="does not exist"):
        await engine.identity.redeem_link_code("ZZZZZZ", owner.id, "telegram")


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
