"""/admin grant, /admin revoke and /admin audit: every manual change needs a reason and is logged."""

from __future__ import annotations

from bot.economy import format as fmt
from bot.economy.commands.keys import request_key
from bot.economy.queries import audit_log
from bot.economy.runtime import EconomyRuntime
from core.commands import Command, Param, ParamType, Permission
from core.context import Context
from core.replies import Button, Reply

_AUDIT_PAGE = 10
#: which way the LACES went: a grant goes to the member, a revoke comes back from them
_ARROWS = {"revoke": "←"}


def commands(runtime: EconomyRuntime) -> list[Command]:
    economy = runtime.economy

    async def adjust(ctx: Context, member: str, amount: int, reason: str, *, grant: bool) -> Reply:
        target = await economy.find_member(member)
        actor = await economy.member(ctx.member.id)
        key = request_key(ctx, "admin", "grant" if grant else "revoke", actor.id)
        balance = await economy.adjust(actor, target, amount, reason, key, grant=grant)
        verb = "Granted" if grant else "Revoked"
        direction = "to" if grant else "from"
        return Reply(
            title=f"🛠️ {verb}",
            text=f"{verb} {economy.money(amount)} {direction} **{target.display_name}**: {reason.strip()}",
            footer=f"Their balance: {economy.money(balance)} · logged in /admin audit",
        )

    async def grant(ctx: Context, member: str, amount: int, reason: str) -> Reply:
        return await adjust(ctx, member, amount, reason, grant=True)

    async def revoke(ctx: Context, member: str, amount: int, reason: str) -> Reply:
        return await adjust(ctx, member, amount, reason, grant=False)

    async def audit(ctx: Context, member: str | None = None, page: int | None = None) -> Reply:
        subject = await economy.find_member(member) if member else None
        found = await audit_log(economy, member_id=subject.id if subject else None, page=page or 1, size=_AUDIT_PAGE)
        lines = [
            f"`{fmt.day(line.when)}` **{line.actor}** {line.action}"
            + (f" {economy.money(line.amount)}" if line.amount is not None else "")
            + (f" {_ARROWS.get(line.action, '→')} {line.member}" if line.member else "")
            + f": {line.reason}"
            for line in found.items
        ]
        scope = f"/admin audit #{subject.id}" if subject else "/admin audit"
        buttons = []
        if found.page > 1:
            buttons.append(Button(label="◀ Newer", action=f"{scope} page:{found.page - 1}"))
        if found.page < found.pages:
            buttons.append(Button(label="Older ▶", action=f"{scope} page:{found.page + 1}"))
        return Reply(
            title="🧾 Economy audit log" + (f" — {subject.display_name}" if subject else ""),
            text="\n".join(lines) or "No admin actions yet.",
            buttons=buttons,
            footer=f"Page {found.page} of {found.pages} · {fmt.count(found.total, 'entry', 'entries')}",
            ephemeral=True,
        )

    max_amount = float(economy.settings.max_amount)
    member = Param("member", "Which member", type=ParamType.MEMBER)
    amount = Param("amount", f"How many {economy.currency}", type=ParamType.INTEGER, min_value=1, max_value=max_amount)
    reason = Param("reason", "Why (goes in the audit log)", max_length=200, rest=True)
    return [
        Command(
            name="admin grant",
            description="Give a member LACES. Needs a reason; logged in /admin audit.",
            handler=grant,
            params=(member, amount, reason),
            permission=Permission.ADMIN,
        ),
        Command(
            name="admin revoke",
            description="Take LACES back from a member. Needs a reason; logged in /admin audit.",
            handler=revoke,
            params=(member, amount, reason),
            permission=Permission.ADMIN,
        ),
        Command(
            name="admin audit",
            description="The economy's audit log: grants, revokes, shop and raffle changes.",
            handler=audit,
            params=(
                Param("member", "Only actions on this member", type=ParamType.MEMBER, required=False),
                Param("page", "Page number", type=ParamType.INTEGER, required=False, min_value=1, max_value=100_000),
            ),
            permission=Permission.ADMIN,
            private=True,
        ),
    ]
