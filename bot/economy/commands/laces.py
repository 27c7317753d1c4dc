"""/laces balance, /laces history, /laces tip and /laces leaderboard."""

from __future__ import annotations

from bot.economy import format as fmt
from bot.economy.commands.keys import request_key
from bot.economy.queries import history, leaderboard
from bot.economy.runtime import EconomyRuntime
from bot.economy.service import HISTORY_KINDS
from core.commands import Command, Param, ParamType
from core.context import Context
from core.replies import Button, Reply, ReplyField

PERIODS = ("week", "month", "all")
_PERIOD_LABEL = {"week": "last 7 days, earned", "month": "last 30 days, earned", "all": "all time, balance"}


def commands(runtime: EconomyRuntime) -> list[Command]:
    economy = runtime.economy
    settings = economy.settings
    currency = economy.currency

    async def balance(ctx: Context, member: str | None = None) -> Reply:
        who = await economy.find_member(member) if member else await economy.member(ctx.member.id)
        amount = await economy.balance(who.id)
        flair = await runtime.shop.flair(who.id)
        fields = [ReplyField(name="Flair", value=flair)] if flair else []
        mine = who.id == (await economy.member(ctx.member.id)).id
        perks = await runtime.shop.perks(who.id) if mine else []
        if perks:
            shown = [f"{name} (until {fmt.day(ends)} UTC)" if ends else name for name, ends in perks]
            fields.append(ReplyField(name="Perks", value="\n".join(shown), inline=False))
        owner = "Your" if mine else f"{who.display_name}'s"
        return Reply(
            title=f"👟 {owner} {currency}",
            text=f"**{economy.money(amount)}**",
            fields=fields,
            footer="Earn by confirming restocks, winning legit checks and good trades. `/laces history` lists it all.",
        )

    async def history_command(
        ctx: Context, kind: str | None = None, days: int | None = None, page: int | None = None
    ) -> Reply:
        found = await history(
            economy, ctx.member.id, kind=kind, days=days, page=page or 1, size=settings.history_page_size
        )
        scope = (f" · {kind}" if kind else "") + (f" · last {days} days" if days else "")
        if not found.items:
            return Reply(title=f"📜 Your {currency} history{scope}", text="Nothing here yet.", ephemeral=True)
        lines = [
            f"`{fmt.day(line.when)}` **{fmt.signed(line.delta)}** {line.kind} "
            f"{'from' if line.delta > 0 else 'to'} {line.counterparty}" + (f" — {line.note}" if line.note else "")
            for line in found.items
        ]

        def goto(target: int) -> str:
            parts = ["/laces history"] + ([f"kind:{kind}"] if kind else []) + ([f"days:{days}"] if days else [])
            return " ".join([*parts, f"page:{target}"])

        buttons = []
        if found.page > 1:
            buttons.append(Button(label="◀ Newer", action=goto(found.page - 1)))
        if found.page < found.pages:
            buttons.append(Button(label="Older ▶", action=goto(found.page + 1)))
        return Reply(
            title=f"📜 Your {currency} history{scope}",
            text="\n".join(lines),
            buttons=buttons,
            footer=f"Page {found.page} of {found.pages} · {fmt.count(found.total, 'entry', 'entries')}",
            ephemeral=True,
        )

    async def tip(ctx: Context, member: str, amount: int, note: str | None = None) -> Reply:
        recipient = await economy.find_member(member)
        sender = await economy.member(ctx.member.id)
        result = await economy.tip(sender, recipient, amount, note or "", request_key(ctx, "tip", sender.id))
        said = f" — “{note}”" if note else ""
        return Reply(
            title="💸 Tip sent",
            text=f"**{sender.display_name}** tipped **{recipient.display_name}** {economy.money(amount)}{said}",
            footer=f"Your balance: {economy.money(result.balance)}",
        )

    async def board(ctx: Context, period: str | None = None, page: int | None = None) -> Reply:
        chosen = period or "all"
        me = await economy.member(ctx.member.id)
        found, mine = await leaderboard(
            economy, chosen, page=page or 1, size=settings.leaderboard_page_size, member_id=me.id
        )
        flairs = await runtime.shop.flairs([s.member_id for s in found.items])
        medals = {1: "🥇", 2: "🥈", 3: "🥉"}
        lines = [
            f"{medals.get(s.rank, f'#{s.rank}')} **{s.name}**"
            + (f" {flairs[s.member_id]}" if s.member_id in flairs else "")
            + f" — {economy.money(s.score)}"
            for s in found.items
        ]
        if mine is None:
            yours = f"You're not on this board yet. Earn or get tipped some {currency}!"
        else:
            yours = f"#{mine.rank} of {found.total} with {economy.money(mine.score)}"
        buttons = []
        if found.page > 1:
            buttons.append(Button(label="◀ Up", action=f"/laces leaderboard {chosen} {found.page - 1}"))
        if found.page < found.pages:
            buttons.append(Button(label="Down ▶", action=f"/laces leaderboard {chosen} {found.page + 1}"))
        return Reply(
            title=f"🏆 {currency} leaderboard ({_PERIOD_LABEL[chosen]})",
            text="\n".join(lines) or "Nobody yet.",
            fields=[ReplyField(name="You", value=yours, inline=False)],
            buttons=buttons,
            footer=f"Page {found.page} of {found.pages}",
        )

    max_amount = float(settings.max_amount)
    return [
        Command(
            name="laces balance",
            description=f"Your {currency} balance, or another member's.",
            handler=balance,
            params=(Param("member", "Whose balance (default: yours)", type=ParamType.MEMBER, required=False),),
            sms_keyword="BALANCE",
        ),
        Command(
            name="laces history",
            description=f"Where your {currency} came from and went, newest first.",
            handler=history_command,
            params=(
                Param("kind", "Only this kind of entry", required=False, choices=HISTORY_KINDS),
                Param(
                    "days", "Only the last N days", type=ParamType.INTEGER, required=False, min_value=1, max_value=3650
                ),
                Param("page", "Page number", type=ParamType.INTEGER, required=False, min_value=1, max_value=100_000),
            ),
            private=True,
        ),
        Command(
            name="laces tip",
            description=f"Thank a member with some of your {currency}.",
            handler=tip,
            params=(
                Param("member", "Who to tip", type=ParamType.MEMBER),
                Param("amount", f"How many {currency}", type=ParamType.INTEGER, min_value=1, max_value=max_amount),
                Param("note", "What for (optional)", required=False, max_length=200, rest=True),
            ),
        ),
        Command(
            name="laces leaderboard",
            description=f"Top {currency} holders, or top earners this week or month.",
            handler=board,
            params=(
                Param("period", "week, month or all", required=False, choices=PERIODS),
                Param("page", "Page number", type=ParamType.INTEGER, required=False, min_value=1, max_value=100_000),
            ),
        ),
    ]
