"""/raffle create, /raffle enter, /raffle show, /raffle list and /raffle draw."""

from __future__ import annotations

from bot.economy import format as fmt
from bot.economy.ledger import idempotency_key
from bot.economy.raffles import RaffleView
from bot.economy.runtime import EconomyRuntime
from core.commands import Command, Param, ParamType, Permission
from core.context import Context
from core.replies import Button, Reply, ReplyField
from core.storage.types import utcnow

HOW_TO_CHECK = (
    "1. Check sha256(seed) equals the commitment published when the raffle opened.\n"
    "2. Sort the entrant ids ascending; digest = sha256 of them joined by commas.\n"
    "3. For round k = 0, 1, …: r = sha256(`seed:digest:k`) as a big-endian number; "
    "the winner is entrant[r mod count], removed before the next round."
)


def commands(runtime: EconomyRuntime) -> list[Command]:
    raffles = runtime.raffles
    economy = runtime.economy

    async def create(ctx: Context, item: str, cost: int, ends: str, winners: int | None = None) -> Reply:
        ends_at = fmt.parse_ends(ends, utcnow())
        actor = await economy.member(ctx.member.id)
        raffle = await raffles.create(actor, item, cost, ends_at, winners or 1)
        return Reply(
            title=f"🎟️ Raffle #{raffle.id} open: {raffle.prize}",
            text=f"Entry {economy.money(raffle.cost)}, draw {fmt.day(raffle.ends_at)} UTC, {raffle.winners} winner(s).",
            fields=[ReplyField(name="Seed commitment (sha256)", value=f"`{raffle.seed_hash}`", inline=False)],
            buttons=[Button(label="Enter", action=f"/raffle enter {raffle.id}")],
        )

    async def enter(ctx: Context, raffle: int | None = None) -> Reply:
        member = await economy.member(ctx.member.id)
        key = idempotency_key("raffle", raffle or "open", member.id, ctx.reference)
        joined = await raffles.enter(member, raffle, key)
        return Reply(
            title=f"🎟️ You're in raffle #{joined.id}",
            text=f"{joined.prize} — paid {economy.money(joined.cost)}. {joined.entrants} entrant(s) so far.",
            footer=f"Draw at {fmt.day(joined.ends_at)} UTC.",
            ephemeral=True,
        )

    async def show(ctx: Context, raffle: int) -> Reply:
        found = await raffles.get(raffle)
        if found.status == "drawn":
            drawn = await raffles.draw_reply(found)
            check = ReplyField(name="How to check", value=HOW_TO_CHECK, inline=False)
            return drawn.model_copy(update={"fields": [*drawn.fields, check]})
        return Reply(
            title=f"🎟️ Raffle #{found.id}: {found.prize}",
            text=(
                f"Open. Entry {economy.money(found.cost)}, {found.entrants} entrant(s), "
                f"draw {fmt.day(found.ends_at)} UTC, {found.winners} winner(s)."
            ),
            fields=[
                ReplyField(name="Seed commitment (sha256)", value=f"`{found.seed_hash}`", inline=False),
                ReplyField(name="How to check after the draw", value=HOW_TO_CHECK, inline=False),
            ],
            buttons=[Button(label="Enter", action=f"/raffle enter {found.id}")],
        )

    async def list_raffles(ctx: Context) -> Reply:
        found = await raffles.recent()
        if not found:
            return Reply(title="🎟️ Raffles", text="No raffles yet.")
        return Reply(title="🎟️ Raffles", text="\n".join(_line(r, economy.money(r.cost)) for r in found))

    async def draw(ctx: Context, raffle: int) -> Reply:
        before = await raffles.get(raffle)
        if before.status == "drawn":
            return await raffles.draw_reply(before)
        return await raffles.draw_reply(await raffles.draw(raffle))

    raffle_id = Param("raffle", "Raffle number", type=ParamType.INTEGER, min_value=1)
    return [
        Command(
            name="raffle create",
            description="Open a provably fair raffle: prize, entry cost, and when it draws (e.g. 3d).",
            handler=create,
            params=(
                Param("item", "The prize", max_length=100),
                Param(
                    "cost",
                    f"Entry cost in {economy.currency}",
                    type=ParamType.INTEGER,
                    min_value=1,
                    max_value=float(economy.settings.max_amount),
                ),
                Param("ends", "When it draws: 90m, 2h, 3d, 1w or an ISO time (UTC)", max_length=40),
                Param(
                    "winners",
                    "How many winners (default 1)",
                    type=ParamType.INTEGER,
                    required=False,
                    min_value=1,
                    max_value=50,
                ),
            ),
            permission=Permission.ADMIN,
        ),
        Command(
            name="raffle enter",
            description="Enter a raffle (the open one if there's only one).",
            handler=enter,
            params=(Param("raffle", "Raffle number", type=ParamType.INTEGER, required=False, min_value=1),),
        ),
        Command(
            name="raffle show",
            description="A raffle's details, and after the draw its seed and how to check the winners.",
            handler=show,
            params=(raffle_id,),
        ),
        Command(name="raffle list", description="Recent raffles.", handler=list_raffles),
        Command(
            name="raffle draw",
            description="Draw a raffle now instead of at its end time.",
            handler=draw,
            params=(raffle_id,),
            permission=Permission.ADMIN,
        ),
    ]


def _line(raffle: RaffleView, cost: str) -> str:
    state = "open" if raffle.status == "open" else "drawn"
    return f"**#{raffle.id}** {raffle.prize} — {cost}, {raffle.entrants} in, {state} · ends {fmt.day(raffle.ends_at)}"
