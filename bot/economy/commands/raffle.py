"""/raffle create, /raffle enter, /raffle show, /raffle verify, /raffle list and /raffle draw."""

from __future__ import annotations

from bot.economy import format as fmt
from bot.economy.commands.keys import request_key
from bot.economy.fairness import RULES
from bot.economy.raffles import RaffleView, beacon_fields, fmt_clip
from bot.economy.runtime import EconomyRuntime
from core.commands import Command, Param, ParamType, Permission
from core.context import Context
from core.replies import Button, Reply, ReplyField
from core.storage.types import utcnow

HOW_TO_CHECK = (
    "1. sha256(seed) must equal the commitment published when the raffle opened.\n"
    "2. Sort the entrant ids ascending; digest = sha256 of them joined by commas (committed at the close).\n"
    "3. For round k = 0, 1, …: r = HMAC-SHA256(key = seed, message = `raffle:digest:k`) as a big-endian "
    "number (with a beacon: `raffle:digest:beacon:k`, beacon = the drand round's randomness); the winner "
    "is entrant[r mod count], removed before the next round.\n"
    "`/raffle verify N` does all three and shows every input."
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
            text=(
                f"Entry {economy.money(raffle.cost)}, entries close and the draw runs at "
                f"{fmt.day(raffle.ends_at)} UTC, {fmt.count(raffle.winners, 'winner')}."
            ),
            fields=[
                ReplyField(name="Seed commitment (sha256)", value=f"`{raffle.seed_hash}`", inline=False),
                *beacon_fields(raffle),
            ],
            buttons=[Button(label="Enter", action=f"/raffle enter {raffle.id}")],
        )

    async def enter(ctx: Context, raffle: int | None = None) -> Reply:
        member = await economy.member(ctx.member.id)
        key = request_key(ctx, "raffle", raffle or "open", member.id)
        joined = await raffles.enter(member, raffle, key)
        return Reply(
            title=f"🎟️ You're in raffle #{joined.id}",
            text=(
                f"{joined.prize} — paid {economy.money(joined.cost)}. {fmt.count(joined.entrants, 'entrant')} so far."
            ),
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
                f"Open. Entry {economy.money(found.cost)}, {fmt.count(found.entrants, 'entrant')}, "
                f"entries close and the draw runs at {fmt.day(found.ends_at)} UTC, "
                f"{fmt.count(found.winners, 'winner')}."
            ),
            fields=[
                ReplyField(name="Seed commitment (sha256)", value=f"`{found.seed_hash}`", inline=False),
                *beacon_fields(found),
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

    async def verify(ctx: Context, raffle: int) -> Reply:
        found, checks = await raffles.verify(raffle)
        commitment = ReplyField(name="Seed commitment (sha256)", value=f"`{found.seed_hash}`", inline=False)
        if not checks:
            return Reply(
                title=f"🎟️ Raffle #{found.id} is not drawn yet",
                text=(
                    f"Entries close at {fmt.day(found.ends_at)} UTC. Note the commitment below: the seed "
                    "revealed at the draw must hash to it."
                ),
                fields=[
                    commitment,
                    *beacon_fields(found),
                    ReplyField(name="How to check after the draw", value=HOW_TO_CHECK, inline=False),
                ],
            )
        result = found.result or {}
        entrants = ",".join(str(e) for e in result.get("entrants", []))
        winners = ", ".join(f"#{w}" for w in result.get("winners", [])) or "none"
        ok = all(check.ok for check in checks)
        closed = fmt.day(found.closed_at) + " UTC" if found.closed_at else "at the draw"
        return Reply(
            title=f"✅ Raffle #{found.id} checks out" if ok else f"❌ Raffle #{found.id} does not check out",
            text="\n".join(f"{'✅' if check.ok else '❌'} {check.name}" for check in checks),
            fields=[
                commitment,
                ReplyField(name="Seed", value=f"`{found.seed}`", inline=False),
                ReplyField(name=f"Entrants at the close ({closed})", value=fmt_clip(entrants or "none"), inline=False),
                ReplyField(name="Entrants digest", value=f"`{result.get('digest', '')}`", inline=False),
                *beacon_fields(found),
                *(
                    [ReplyField(name="Beacon randomness", value=f"`{found.beacon_randomness}`", inline=False)]
                    if found.beacon_randomness
                    else []
                ),
                ReplyField(name="Rule", value=f"{RULES[found.draw_rule]}, winner = entrant[r mod count]", inline=False),
                ReplyField(name="Winners (member ids, in order)", value=winners, inline=False),
            ],
            footer="Anyone can redo this with sha256 and HMAC-SHA256: see the README, Raffles are provably fair.",
        )

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
        Command(
            name="raffle verify",
            description="Recompute a raffle's draw from its published seed and entrants, showing every input.",
            handler=verify,
            params=(raffle_id,),
        ),
        Command(name="raffle list", description="Recent raffles.", handler=list_raffles),
        Command(
            name="raffle draw",
            description="Draw a raffle whose end time has passed (it also draws by itself).",
            handler=draw,
            params=(raffle_id,),
            permission=Permission.ADMIN,
        ),
    ]


def _line(raffle: RaffleView, cost: str) -> str:
    state = "open" if raffle.status == "open" else "drawn"
    return f"**#{raffle.id}** {raffle.prize} — {cost}, {raffle.entrants} in, {state} · ends {fmt.day(raffle.ends_at)}"
