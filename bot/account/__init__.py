"""Accounts: /link, /profile, /settings and phone verification (/sms verify|confirm).

A member is one person across Discord, Telegram and SMS; this slice joins their identities and owns
the per-member rows that prove a phone number.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from bot.account import commands, sms
from bot.account.config import AccountSection
from bot.account.linking import Linking
from bot.account.models import SmsVerification
from core.engine import Engine
from core.slice import Slice


class AccountSlice(Slice[Linking]):
    name = "account"
    config_model = AccountSection
    models = ("bot.account.models",)
    migrations = Path(__file__).parent / "migrations"
    #: link requests and lockout warnings go out through the outbox
    depends_on = ("delivery",)

    def build(self, engine: Engine) -> Linking:
        engine.registry.add(*commands.COMMANDS, *sms.COMMANDS)
        return Linking(engine)

    async def merge_members(self, services: Linking, session: AsyncSession, survivor_id: int, absorbed_id: int) -> None:
        # a code waiting on the absorbed member would confirm a number for a member that no longer
        # answers; the survivor starts over with /sms verify
        await session.execute(delete(SmsVerification).where(SmsVerification.member_id == absorbed_id))


SLICE = AccountSlice()

__all__ = ["SLICE", "AccountSlice", "Linking"]
