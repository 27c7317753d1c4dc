"""/alerts, /quiet, /digest and /cap: what each member wants to hear about, and when."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.matcher import prepare_event
from bot.alerts.models import AlertPrefs, AlertRule, RecentEvent
from bot.alerts.render import summary
from bot.alerts.rules import RuleInput, apply, compile_rule, describe
from bot.alerts.service import AlertsRuntime, channels_for
from bot.alerts.timing import parse_window, show_window
from bot.delivery.reach import direct_reach, serving
from core.commands import Command, Guide, Param, ParamType
from core.context import Context
from core.errors import BadArgument, NotFound, UserError
from core.replies import Reply, ReplyField
from core.storage.types import utcnow

_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
MAX_CODE_ATTEMPTS = 5


# ---------------------------------------------------------------------------- rules


async def _own_rule(ctx: Context, session: AsyncSession, rule_id: int) -> AlertRule:
    rule = await session.get(AlertRule, rule_id)
    if rule is None or rule.member_id != ctx.member.id:
        raise NotFound(f"You have no alert #{rule_id}. `/alerts list` shows yours.")
    return rule


def _refuse_missing_channels(ctx: Context, rule: AlertRule) -> None:
    """A rule may only name channels this server can deliver on (SMS needs Twilio configured)."""
    if "sms" in rule.channels and "sms" not in serving(ctx.engine):
        raise BadArgument("channels", "SMS isn't set up on this server; use discord or telegram")


async def _unreachable_warning(ctx: Context, rule: AlertRule) -> str | None:
    """Why this rule's matches would reach the member nowhere, or None if some channel carries them."""
    reach = await direct_reach(ctx.engine, ctx.member)
    if channels_for(ctx.member, reach.channels, rule.channels, rule.high_priority, console=True):
        return None
    reasons = list(reach.problems)
    if rule.channels and set(reach.channels) - set(rule.channels):
        reasons.append(f"this alert only uses {', '.join(rule.channels)}")
    if reach.channels == ("sms",) and not rule.high_priority:
        reasons.append("SMS carries high-priority alerts only (`priority:high`)")
    shown = "; ".join(reasons or ["none of your alert channels is linked"])
    return f"⚠️ This alert can't reach you yet: {shown}. Its matches are recorded, not sent."


async def add(ctx: Context, **fields: Any) -> Reply:
    settings = ctx.service(AlertsRuntime).settings
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
    if fields.get("max_price") == 0:
        raise BadArgument("max_price", "0 would match nothing; leave it out for no upper limit")
    apply(rule, RuleInput(**fields))
    _refuse_missing_channels(ctx, rule)
    async with ctx.engine.db.transaction() as session:
        owned = await session.execute(select(func.count()).where(AlertRule.member_id == ctx.member.id))
        if owned.scalar_one() >= settings.max_rules_per_member:
            raise UserError(f"You have {settings.max_rules_per_member} alerts already; delete one first.")
        session.add(rule)
        await session.flush()
    await ctx.service(AlertsRuntime).rule_changed(rule)
    warning = await _unreachable_warning(ctx, rule)
    return Reply(
        title=f"🔔 Alert #{rule.id} added: {rule.name}",
        text=describe(rule) + (f"\n{warning}" if warning else ""),
        footer=f"Try it on recent events: /alerts test {rule.id}",
        ephemeral=True,
    )


async def edit(ctx: Context, id: int, **fields: Any) -> Reply:
    if all(value is None for value in fields.values()):
        raise UserError("Give at least one field to change, e.g. `/alerts edit 3 max_price:250`.")
    async with ctx.engine.db.transaction() as session:
        rule = await _own_rule(ctx, session, id)
        apply(rule, RuleInput(**fields))
        _refuse_missing_channels(ctx, rule)
        rule.updated_at = utcnow()
    await ctx.service(AlertsRuntime).rule_changed(rule)
    warning = await _unreachable_warning(ctx, rule)
    text = describe(rule) + (f"\n{warning}" if warning else "")
    return Reply(title=f"✏️ Alert #{rule.id} saved: {rule.name}", text=text, ephemeral=True)


async def _set_paused(ctx: Context, id: int, paused: bool) -> Reply:
    async with ctx.engine.db.transaction() as session:
        rule = await _own_rule(ctx, session, id)
        if rule.paused == paused:
            raise UserError(f"Alert #{id} is already {'paused' if paused else 'active'}.")
        rule.paused = paused
    await ctx.service(AlertsRuntime).rule_changed(rule)
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
    await ctx.service(AlertsRuntime).rule_deleted(id)
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
    runtime = ctx.service(AlertsRuntime)
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
            lines.append(f"✅ {summary(stored.payload)[:90]} — {criteria.explain(event)}")
        else:
            lines.append(f"✗ {summary(stored.payload)[:90]} — {reason}")
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
    default_hour = ctx.service(AlertsRuntime).settings.default_digest_hour
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
    default_hour = ctx.service(AlertsRuntime).settings.default_digest_hour
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
    default_hour = ctx.service(AlertsRuntime).settings.default_digest_hour
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
    Param("min_price", "Lowest price (in /alerts edit, 0 removes it)", type=ParamType.NUMBER, required=False,
          min_value=0),
    Param("max_price", "Highest price (in /alerts edit, 0 removes it)", type=ParamType.NUMBER, required=False,
          min_value=0),
    Param("min_deal", "Minimum % under resale median", type=ParamType.NUMBER, required=False, min_value=0,
          max_value=100),
    Param("near", "latitude,longitude for in-store drops", required=False),
    Param("radius", "km around `near` (default 25)", type=ParamType.NUMBER, required=False, min_value=0.1,
          max_value=20000),
    Param("kinds", "restock, new_product, price_drop, drop_reminder, prediction (default: first two)", required=False),
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
    Command("cap", "Most alerts a day (0: none); the rest go to your digest if on, else are skipped.", cap,
            (Param("limit", "Alerts per day", type=ParamType.INTEGER, min_value=0, max_value=1000),), private=True),
]
