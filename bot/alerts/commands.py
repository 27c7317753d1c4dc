"""/alerts, /quiet, /digest, /cap, /sms verify|confirm and /admin deadletters."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.matcher import prepare_event
from bot.alerts.models import AlertPrefs, AlertRule, RecentEvent, SmsVerification
from bot.alerts.render import summary
from bot.alerts.rules import RuleInput, apply, compile_rule, describe
from bot.alerts.service import runtime_for
from bot.alerts.timing import parse_window, show_window
from core.commands import Command, Guide, Param, ParamType, Permission
from core.context import Context
from core.crypto import mask_phone
from core.delivery import dead_letters, retry_dead
from core.errors import BadArgument, NotFound, UserError
from core.frontend import DeliveryRefused
from core.replies import Reply, ReplyField
from core.storage.models import Identity, Member
from core.storage.types import utcnow

_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
MAX_CODE_ATTEMPTS = 5


# ---------------------------------------------------------------------------- rules


async def _own_rule(ctx: Context, session: AsyncSession, rule_id: int) -> AlertRule:
    rule = await session.get(AlertRule, rule_id)
    if rule is None or rule.member_id != ctx.member.id:
        raise NotFound(f"You have no alert #{rule_id}. `/alerts list` shows yours.")
    return rule


async def add(ctx: Context, **fields: Any) -> Reply:
    settings = runtime_for(ctx.engine).settings
    rule = AlertRule(
        member_id=ctx.member.id,
        name="",
        keywords=[],
        any_groups=[],
        exclude=[],
        brands=[],
        stores=[],
        sizes=[],
        kinds=[],
        channels=[],
        high_priority=False,
        paused=False,
    )
    apply(rule, RuleInput(**fields))
    async with ctx.engine.db.transaction() as session:
        owned = await session.execute(select(func.count()).where(AlertRule.member_id == ctx.member.id))
        if owned.scalar_one() >= settings.max_rules_per_member:
            raise UserError(f"You have {settings.max_rules_per_member} alerts already; delete one first.")
        session.add(rule)
        await session.flush()
    await runtime_for(ctx.engine).rule_changed(rule)
    return Reply(
        title=f"🔔 Alert #{rule.id} added: {rule.name}",
        text=describe(rule),
        footer=f"Try it on recent events: /alerts test {rule.id}",
        ephemeral=True,
    )


async def edit(ctx: Context, id: int, **fields: Any) -> Reply:
    if all(value is None for value in fields.values()):
        raise UserError("Give at least one field to change, e.g. `/alerts edit 3 max_price:250`.")
    async with ctx.engine.db.transaction() as session:
        rule = await _own_rule(ctx, session, id)
        apply(rule, RuleInput(**fields))
        rule.updated_at = utcnow()
    await runtime_for(ctx.engine).rule_changed(rule)
    return Reply(title=f"✏️ Alert #{rule.id} saved: {rule.name}", text=describe(rule), ephemeral=True)


async def _set_paused(ctx: Context, id: int, paused: bool) -> Reply:
    async with ctx.engine.db.transaction() as session:
        rule = await _own_rule(ctx, session, id)
        rule.paused = paused
    await runtime_for(ctx.engine).rule_changed(rule)
    state = "paused" if paused else "active again"
    return Reply(title=f"{'⏸️' if paused else '▶️'} Alert #{id} {state}", text=rule.name, ephemeral=True)


async def pause(ctx: Context, id: int) -> Reply:
    return await _set_paused(ctx, id, True)


async def resume(ctx: Context, id: int) -> Reply:
    return await _set_paused(ctx, id, False)


async def delete(ctx: Context, id: int) -> Reply:
    async with ctx.engine.db.transaction() as session:
        rule = await _own_rule(ctx, session, id)
        await session.delete(rule)
    await runtime_for(ctx.engine).rule_deleted(id)
    return Reply(title=f"🗑️ Alert #{id} deleted", text=rule.name, ephemeral=True)


async def list_rules(ctx: Context) -> Reply:
    async with ctx.engine.db.read() as session:
        rules = list(
            (
                await session.execute(
                    select(AlertRule).where(AlertRule.member_id == ctx.member.id).order_by(AlertRule.id)
                )
            ).scalars()
        )
    if not rules:
        return Reply(
            title="🔔 Your alerts",
            text="None yet. Add one: `/alerts add jordan 4 bred sizes:10,10.5 max_price:250`.",
            ephemeral=True,
        )
    fields = [
        ReplyField(
            name=f"#{rule.id} {rule.name}" + (" (paused)" if rule.paused else ""),
            value=describe(rule),
            inline=False,
        )
        for rule in rules[:25]
    ]
    return Reply(title="🔔 Your alerts", fields=fields, ephemeral=True)


async def test(ctx: Context, id: int) -> Reply:
    runtime = runtime_for(ctx.engine)
    async with ctx.engine.db.read() as session:
        rule = await _own_rule(ctx, session, id)
        events = list(
            (
                await session.execute(
                    select(RecentEvent).order_by(RecentEvent.id.desc()).limit(runtime.settings.test_events)
                )
            ).scalars()
        )
    if not events:
        return Reply(title=f"🧪 Alert #{id}", text="No events seen yet to test against.", ephemeral=True)
    criteria = compile_rule(rule).criteria
    lines: list[str] = []
    hits = 0
    for stored in events:
        event = await runtime.prepare(stored.payload) if criteria.min_deal is not None else prepare_event(
            stored.payload
        )
        reason = criteria.check(event)
        if reason is None:
            hits += 1
        verdict = "✅ " if reason is None else "✗ "
        lines.append(verdict + summary(stored.payload)[:90] + (f" — {reason}" if reason else ""))
    return Reply(
        title=f"🧪 Alert #{id}: {hits} of the last {len(events)} events match",
        text="\n".join(lines),
        ephemeral=True,
    )


# ---------------------------------------------------------------------------- preferences


async def _prefs(session: AsyncSession, member_id: int, default_hour: int) -> AlertPrefs:
    prefs = await session.get(AlertPrefs, member_id)
    if prefs is None:
        prefs = AlertPrefs(member_id=member_id, digest="off", digest_hour=default_hour)
        session.add(prefs)
    return prefs


async def quiet(ctx: Context, hours: str) -> Reply:
    default_hour = runtime_for(ctx.engine).settings.default_digest_hour
    off = hours.strip().lower() in {"off", "none", "-"}
    window = None if off else parse_window(hours)
    async with ctx.engine.db.transaction() as session:
        prefs = await _prefs(session, ctx.member.id, default_hour)
        prefs.quiet_start, prefs.quiet_end = window if window else (None, None)
    if window is None:
        return Reply(title="🔕 Quiet hours off", text="Alerts arrive at any hour.", ephemeral=True)
    return Reply(
        title=f"🌙 Quiet hours {show_window(*window)}",
        text=(
            f"In your timezone ({ctx.member.timezone}). Alerts that match then wait until the window ends; "
            "high-priority alerts still come through. Change your timezone with `/settings timezone:`."
        ),
        ephemeral=True,
    )


async def digest(ctx: Context, mode: str, hour: int | None = None) -> Reply:
    default_hour = runtime_for(ctx.engine).settings.default_digest_hour
    async with ctx.engine.db.transaction() as session:
        prefs = await _prefs(session, ctx.member.id, default_hour)
        prefs.digest = mode
        if hour is not None:
            prefs.digest_hour = hour
        chosen = prefs.digest_hour
    if mode == "off":
        return Reply(title="🗞️ Digest off", text="Alerts over your daily cap are skipped.", ephemeral=True)
    when = "every day" if mode == "daily" else "every Monday"
    return Reply(
        title=f"🗞️ Digest {mode}",
        text=f"Alerts over your daily cap are collected and sent {when} at {chosen:02d}:00 ({ctx.member.timezone}).",
        ephemeral=True,
    )


async def cap(ctx: Context, limit: int) -> Reply:
    default_hour = runtime_for(ctx.engine).settings.default_digest_hour
    async with ctx.engine.db.transaction() as session:
        prefs = await _prefs(session, ctx.member.id, default_hour)
        prefs.daily_cap = limit or None
        mode = prefs.digest
    if not limit:
        return Reply(title="📬 No daily cap", text="Every matching alert is sent.", ephemeral=True)
    rest = "go to your digest" if mode != "off" else "are skipped (turn on `/digest daily` to collect them)"
    return Reply(
        title=f"📬 Daily cap: {limit}",
        text=f"After {limit} alerts in a day (your midnight resets it), the rest {rest}. High-priority alerts "
        "are never capped.",
        ephemeral=True,
    )


# ---------------------------------------------------------------------------- SMS opt-in


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
    ttl = runtime_for(ctx.engine).settings.sms_code_ttl_s
    async with ctx.engine.db.transaction() as session:
        pending = await session.get(SmsVerification, ctx.member.id)
        if pending is None:
            pending = SmsVerification(member_id=ctx.member.id)
            session.add(pending)
        pending.phone_secret = vault.encrypt(number)
        pending.code_hash = _code_hash(ctx.member.id, code)
        pending.attempts = 0
        pending.expires_at = utcnow() + timedelta(seconds=ttl)
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
    left = 0
    number = ""
    async with ctx.engine.db.transaction() as session:
        pending = await session.get(SmsVerification, ctx.member.id)
        if pending is None or pending.expires_at <= utcnow():
            raise UserError("No code is waiting (or it expired). Start with `/sms verify +1...`.")
        if pending.attempts >= MAX_CODE_ATTEMPTS:
            raise UserError("Too many wrong codes. Start again with `/sms verify`.")
        if not secrets.compare_digest(pending.code_hash, _code_hash(ctx.member.id, typed)):
            pending.attempts += 1
            left = MAX_CODE_ATTEMPTS - pending.attempts
            # the failed attempt must count, so this transaction commits and the error goes after it
            wrong = True
        else:
            wrong = False
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


# ---------------------------------------------------------------------------- admin


async def deadletters(ctx: Context, action: str = "list", id: int | None = None) -> Reply:
    if action == "retry":
        count = await retry_dead(ctx.engine.db, None if id is None else [id])
        runtime_for(ctx.engine).worker.wake()
        if not count:
            raise NotFound("No such dead letter." if id is not None else "There are no dead letters.")
        return Reply(title="♻️ Retrying", text=f"{count} notification(s) are back in the queue.", ephemeral=True)
    rows = await dead_letters(ctx.engine.db, limit=20)
    if not rows:
        return Reply(title="📭 Dead letters", text="None. Everything was delivered.", ephemeral=True)
    fields = [
        ReplyField(
            name=f"#{row.id} {row.status} · member #{row.member_id} · {row.channel} · {row.attempts} tries",
            value=(row.last_error or "no reason recorded")[:200],
            inline=False,
        )
        for row in rows
    ]
    return Reply(
        title=f"📭 Dead letters (latest {len(rows)})",
        fields=fields,
        footer="Retry one with /admin deadletters retry ID, or all with /admin deadletters retry",
        ephemeral=True,
    )


# ---------------------------------------------------------------------------- declarations

_ID = Param("id", "Alert number, from /alerts list", type=ParamType.INTEGER, min_value=1)
_RULE_FIELDS = (
    Param("keywords", "Words that must all be in the title, e.g. jordan 4 bred", required=False, rest=True),
    Param("name", "A name for the alert", required=False, max_length=60),
    Param("any", "Alternatives: chicago|bred; high|og (one of each group)", required=False),
    Param("exclude", "Words that rule a product out, e.g. gs td", required=False),
    Param("brands", "Brands, comma-separated", required=False),
    Param("stores", "Store hosts, comma-separated, e.g. kith.com", required=False),
    Param("sizes", "Sizes: 10, 10.5, W 11.5, EU 44, 5Y", required=False),
    Param("min_price", "Lowest price", type=ParamType.NUMBER, required=False, min_value=0),
    Param("max_price", "Highest price", type=ParamType.NUMBER, required=False, min_value=0),
    Param("min_deal", "Minimum % under resale median", type=ParamType.NUMBER, required=False, min_value=0,
          max_value=100),
    Param("near", "latitude,longitude for in-store drops", required=False),
    Param("radius", "km around `near` (default 25)", type=ParamType.NUMBER, required=False, min_value=0.1,
          max_value=20000),
    Param("kinds", "restock, new_product, price_drop, drop_reminder (default: first two)", required=False),
    Param("channels", "Channel order for this alert: discord,telegram,sms", required=False),
    Param("priority", "high breaks quiet hours and may use SMS", required=False, choices=("normal", "high")),
)
_EDIT_FIELDS = (_ID, *_RULE_FIELDS)
#: what a member needs most, first: a Discord modal shows the first five, Telegram asks them all
_ADD_GUIDE = Guide(
    "New alert",
    ("keywords", "sizes", "max_price", "stores", "priority", "brands", "min_price", "exclude"),
)

COMMANDS = [
    Command("alerts add", "Add an alert: keywords, sizes, prices, stores, priority.", add, _RULE_FIELDS,
            private=True, guide=_ADD_GUIDE),
    Command("alerts list", "Your alerts.", list_rules, private=True),
    Command("alerts edit", "Change an alert's fields (- clears one).", edit, _EDIT_FIELDS, private=True),
    Command("alerts pause", "Pause an alert.", pause, (_ID,), private=True),
    Command("alerts resume", "Resume a paused alert.", resume, (_ID,), private=True),
    Command("alerts delete", "Delete an alert.", delete, (_ID,), private=True),
    Command("alerts test", "Which recent events an alert would have matched, and why.", test, (_ID,),
            private=True),
    Command("quiet", "Quiet hours in your timezone, e.g. 22:00-08:00 (or off).", quiet,
            (Param("hours", "HH:MM-HH:MM or off", max_length=20),), private=True),
    Command("digest", "Digest of alerts over your cap: off, daily or weekly, at an hour.", digest,
            (Param("mode", "off, daily or weekly", choices=("off", "daily", "weekly")),
             Param("hour", "Local hour 0-23", type=ParamType.INTEGER, required=False, min_value=0, max_value=23)),
            private=True),
    Command("cap", "Most alerts per day (0: no cap); the rest roll into your digest.", cap,
            (Param("limit", "Alerts per day", type=ParamType.INTEGER, min_value=0, max_value=1000),), private=True),
    Command("sms verify", "Text a code to your phone to turn on SMS alerts.", sms_verify,
            (Param("phone", "Your number in international form, +1...", max_length=20),), private=True),
    Command("sms confirm", "Confirm your phone with the texted code.", sms_confirm,
            (Param("code", "The 6-digit code", max_length=10),), private=True),
    Command("admin deadletters", "Notifications that could not be delivered; retry them.", deadletters,
            (Param("action", "list or retry", required=False, default="list", choices=("list", "retry")),
             Param("id", "Dead letter id (retry: all if omitted)", type=ParamType.INTEGER, required=False,
                   min_value=1)),
            permission=Permission.ADMIN, private=True),
]
