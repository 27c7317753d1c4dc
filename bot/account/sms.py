"""/sms verify and /sms confirm: proving a phone number is the member's before it carries alerts.

The number is stored encrypted with the engine's vault and the code only as a hash. Codes texted
are limited per member and per number (nobody can make us text a stranger over and over), and wrong
codes per member, counted atomically in the database and kept across new codes.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from sqlalchemy import select

from bot.account.config import AccountSection
from bot.account.models import SmsVerification
from bot.account.throttle import Limit, Throttled
from core.commands import Command, Param
from core.context import Context
from core.crypto import mask_phone
from core.errors import BadArgument, UserError
from core.frontend import DeliveryRefused
from core.replies import Reply
from core.storage.models import Identity, Member
from core.storage.types import utcnow

_E164 = re.compile(r"^\+[1-9]\d{7,14}$")


def _code_hash(member_id: int, code: str) -> str:
    return hashlib.sha256(f"{member_id}:{code}".encode()).hexdigest()


async def sms_verify(ctx: Context, phone: str) -> Reply:
    number = re.sub(r"[\s().-]", "", phone)
    if not _E164.match(number):
        raise BadArgument("phone", "expected an international number like +14155550123")
    vault = ctx.engine.vault
    frontend = ctx.engine.frontends.get("sms")
    if vault is None or frontend is None:
        raise UserError("SMS is not set up on this server.")
    lookup = vault.lookup_key(number)
    async with ctx.engine.db.read() as session:
        owner = (
            await session.execute(
                select(Identity.member_id).where(Identity.platform == "sms", Identity.external_id == lookup)
            )
        ).scalar_one_or_none()
        mine = (
            await session.execute(
                select(Identity.id).where(Identity.platform == "sms", Identity.member_id == ctx.member.id)
            )
        ).first()
    if owner == ctx.member.id:
        return Reply(title="📱 Already verified", text=f"{mask_phone(number)} is yours already.", ephemeral=True)
    if owner is not None:
        raise UserError("That number already has an account here: link it with `/link` and text the code from it.")
    if mine is not None:
        raise UserError("You have a phone number already. One number per member.")
    code = f"{secrets.randbelow(1_000_000):06d}"
    settings = ctx.engine.config.get(AccountSection)
    ttl = settings.sms_code_ttl_s
    limits = _Limits(settings)
    now = utcnow()
    async with ctx.engine.db.transaction() as session:
        try:
            await limits.attempts.check(session, str(ctx.member.id), now)
        except Throttled as exc:
            raise UserError(f"Too many wrong codes. Try again in {exc.minutes} minutes.") from None
        try:
            await limits.per_member.take(session, str(ctx.member.id), now)
        except Throttled as exc:
            raise UserError(f"Too many codes asked for. Try again in {exc.minutes} minutes.") from None
        try:
            await limits.per_number.take(session, lookup, now)
        except Throttled as exc:
            raise UserError(
                f"Too many codes were sent to this number lately. Try again in {exc.minutes} minutes."
            ) from None
        pending = await session.get(SmsVerification, ctx.member.id)
        if pending is None:
            pending = SmsVerification(member_id=ctx.member.id)
            session.add(pending)
        pending.phone_secret = vault.encrypt(number)
        pending.code_hash = _code_hash(ctx.member.id, code)
        pending.expires_at = now + timedelta(seconds=ttl)
    bot = ctx.engine.config.bot.name
    try:
        await frontend.send_direct(
            number, Reply(text=f"{bot}: your code is {code}. Reply STOP to opt out, HELP for help.")
        )
    except DeliveryRefused as exc:
        shown = mask_phone(number)
        raise UserError(f"We could not text {shown}: {exc.reason}. If you sent STOP, text START.") from None
    return Reply(
        title="📱 Code sent",
        text=f"We texted a 6-digit code to {mask_phone(number)}. Send `/sms confirm CODE` within {ttl // 60} minutes.",
        ephemeral=True,
    )


async def sms_confirm(ctx: Context, code: str) -> Reply:
    vault = ctx.engine.vault
    if vault is None:
        raise UserError("SMS is not set up on this server.")
    typed = code.strip().replace(" ", "")
    attempts = _Limits(ctx.engine.config.get(AccountSection)).attempts
    now = utcnow()
    left = 0
    number = ""
    async with ctx.engine.db.transaction() as session:
        pending = await session.get(SmsVerification, ctx.member.id)
        if pending is None or pending.expires_at <= now:
            raise UserError("No code is waiting (or it expired). Start with `/sms verify +1...`.")
        try:
            tried = await attempts.take(session, str(ctx.member.id), now)
        except Throttled as exc:
            raise UserError(f"Too many wrong codes. Start again with `/sms verify` in {exc.minutes} minutes.") from None
        wrong = not secrets.compare_digest(pending.code_hash, _code_hash(ctx.member.id, typed))
        if wrong:
            # the try is counted by the commit of this transaction; the error is raised after it
            left = attempts.limit - tried
        else:
            number = vault.decrypt(pending.phone_secret)
            session.add(
                Identity(
                    member_id=ctx.member.id,
                    platform="sms",
                    external_id=vault.lookup_key(number),
                    handle=mask_phone(number),
                    secret_address=pending.phone_secret,
                )
            )
            member = await session.get(Member, ctx.member.id)
            if member is not None:
                member.sms_enabled = True
            await session.delete(pending)
    if wrong:
        raise BadArgument("code", f"that is not the code we sent; {left} tries left")
    return Reply(
        title="✅ Phone verified",
        text=f"{mask_phone(number)} is linked and SMS alerts are on (high-priority alerts only). "
        "Text STOP at any time to end them.",
        ephemeral=True,
    )


class _Limits:
    """The three counters behind /sms: codes texted per member and per number, wrong codes per member
    (kept across new codes, so asking again buys no tries)."""

    def __init__(self, settings: AccountSection) -> None:
        window = float(settings.sms_limit_window_s)
        self.per_member = Limit("sms-code:member", settings.sms_codes_per_member, window)
        self.per_number = Limit("sms-code:number", settings.sms_codes_per_number, window)
        self.attempts = Limit("sms-try:member", settings.sms_code_attempts, window)


COMMANDS = [
    Command("sms verify", "Text a code to your phone to turn on SMS alerts.", sms_verify,
            (Param("phone", "Your number in international form, +1...", max_length=20),), private=True),
    Command("sms confirm", "Confirm your phone with the texted code.", sms_confirm,
            (Param("code", "The 6-digit code", max_length=10),), private=True),
]
