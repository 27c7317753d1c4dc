"""/link, /profile and /settings: one member, many platforms, one set of preferences."""

from __future__ import annotations

from datetime import UTC
from zoneinfo import available_timezones

from bot.account.linking import Linking
from bot.delivery.reach import direct_reach, serving
from core.commands import Command, Param, ParamType
from core.context import Context
from core.crypto import mask_phone
from core.errors import BadArgument
from core.identity import CHANNELS, PLATFORM_LABELS, show_link_code
from core.replies import Reply, ReplyField
from core.timezones import resolve_timezone

_PLATFORM_LABEL = PLATFORM_LABELS
#: ``/link confirm 12`` and ``/link refuse 12``: the owner's answer to a request (the Confirm / Refuse buttons)
_ANSWERS = {"confirm": True, "refuse": False}
MAX_DB_INT = 2_147_483_647


async def link(ctx: Context, code: str | None = None) -> Reply:
    if code is None:
        return await _issue(ctx)
    words = code.split()
    if words[0].lower() in _ANSWERS:
        return await _answer(ctx, words)
    requested = await ctx.service(Linking).request(code, ctx.member.id, ctx.caller)
    mine = _PLATFORM_LABEL.get(ctx.platform, ctx.platform)
    return Reply(
        title="🔗 Link requested",
        text=(
            f"This asks {requested.owner_label} to take in your {mine} account. When that account "
            f"confirms, everything this one holds (LACES, alerts, items) moves to it. Nothing happens until then."
        ),
        ephemeral=True,
    )


async def _issue(ctx: Context) -> Reply:
    issued = await ctx.engine.identity.issue_link_code(ctx.member.id, ctx.platform)
    minutes = max(1, round((issued.expires_at - issued.created_at).total_seconds() / 60))
    shown = show_link_code(issued.code)
    config = ctx.engine.config
    by_text = (
        f" (or text `LINK {shown}` to {config.sms.from_number})" if "sms" in serving(ctx.engine) else ""
    )
    return Reply(
        title="🔗 Link another account",
        text=(
            f"Your code: **{shown}**\n"
            f"From your other account, send `/link {shown}`{by_text}. "
            f"You will be asked here to confirm before anything joins. It works once and expires in {minutes} minutes."
        ),
        ephemeral=True,
    )


async def _answer(ctx: Context, words: list[str]) -> Reply:
    verb = words[0].lower()
    if len(words) != 2 or not words[1].lstrip("#").isdigit():
        raise BadArgument("code", f"expected `/link {verb} <request number>`")
    request_id = int(words[1].lstrip("#"))
    if request_id > MAX_DB_INT:
        raise BadArgument("code", f"request numbers go up to {MAX_DB_INT:,}")
    result = await ctx.service(Linking).decide(request_id, ctx.member.id, confirm=_ANSWERS[verb])
    if result is None:
        return Reply(
            title="🔗 Link refused", text="Refused: the accounts stay apart and the code is spent.", ephemeral=True
        )
    linked = ", ".join(_PLATFORM_LABEL.get(p, p) for p in result.platforms)
    return Reply(title="✅ Accounts linked", text=f"This member now owns: {linked}.", ephemeral=True)


async def profile(ctx: Context) -> Reply:
    member = await ctx.engine.identity.get(ctx.member.id) or ctx.member
    identities = await ctx.engine.identity.identities(member.id)
    accounts = []
    for ident in identities:
        if ident.platform == "sms":
            shown = mask_phone(ctx.engine.vault.decrypt(ident.secret_address)) if (
                ctx.engine.vault and ident.secret_address
            ) else "phone"
        else:
            shown = ident.handle or ident.external_id
        accounts.append(f"{_PLATFORM_LABEL.get(ident.platform, ident.platform)}: {shown}")
    return Reply(
        title=f"👤 {member.display_name}",
        fields=[
            ReplyField(name="Member", value=f"#{member.id}"),
            ReplyField(name="Since", value=member.created_at.astimezone(UTC).strftime("%Y-%m-%d")),
            ReplyField(name="Accounts", value="\n".join(accounts) or "none", inline=False),
            ReplyField(name="Timezone", value=member.timezone),
            ReplyField(name="DMs", value="on" if member.dm_enabled else "off"),
            ReplyField(name="SMS", value="on" if member.sms_enabled else "off"),
            ReplyField(name="Alert order", value=" → ".join(member.channel_order)),
            ReplyField(name="Alerts reach", value=(await direct_reach(ctx.engine, member)).describe(), inline=False),
        ],
        ephemeral=True,
    )


async def _timezones(_ctx: Context, prefix: str) -> list[str]:
    wanted = prefix.lower()
    return sorted(tz for tz in available_timezones() if wanted in tz.lower())[:25]


async def settings(
    ctx: Context,
    timezone: str | None = None,
    dm: bool | None = None,
    sms: bool | None = None,
    channels: str | None = None,
) -> Reply:
    order = None
    if channels is not None:
        order = [part.strip().lower() for part in channels.replace(">", ",").split(",") if part.strip()]
    nothing_changed = timezone is None and dm is None and sms is None and order is None
    if sms and "sms" not in serving(ctx.engine):
        raise BadArgument("sms", "SMS isn't set up on this server; alerts come by Discord or Telegram DM")
    if not nothing_changed:
        await ctx.engine.identity.update_settings(
            ctx.member.id, timezone=timezone, dm_enabled=dm, sms_enabled=sms, channel_order=order
        )
    current = await profile(ctx)
    note = "Your settings:" if nothing_changed else "Saved. Your settings now:"
    if timezone is not None and (warning := resolve_timezone(timezone).warning):
        note += f"\n⚠️ {warning}."
    keep = {"Timezone", "DMs", "SMS", "Alert order"}
    return Reply(
        title="⚙️ Settings",
        text=note,
        fields=[field for field in current.fields if field.name in keep],
        ephemeral=True,
    )


COMMANDS = [
    Command(
        name="link",
        description="Link your Discord, Telegram and phone into one account with a one-time code.",
        handler=link,
        params=(Param("code", "The code /link showed you on your other account", required=False, max_length=24),),
        sms_keyword="LINK",
        private=True,
    ),
    Command(
        name="profile",
        description="Your account: linked platforms, timezone and notification settings.",
        handler=profile,
        sms_keyword="PROFILE",
        private=True,
    ),
    Command(
        name="settings",
        description="Change timezone, DMs, SMS and the order alerts try your channels.",
        handler=settings,
        params=(
            Param("timezone", "IANA timezone, e.g. Europe/London", required=False, autocomplete=_timezones),
            Param("dm", "Direct messages on or off", type=ParamType.BOOLEAN, required=False),
            Param("sms", "SMS alerts on or off", type=ParamType.BOOLEAN, required=False),
            Param("channels", f"Alert order, e.g. {','.join(CHANNELS)}", required=False),
        ),
        private=True,
    ),
]
