"""/cop: practice runs, the checkout steps (buttons and the typed code), group drops for admins,
the leaderboard and the monthly tournament."""

from __future__ import annotations

from bot.cop import render, standings
from bot.cop.pairs import pick_pair
from bot.cop.service import Cop
from bot.cop.timing import month_of, parse_month, parse_when, seconds_text
from bot.cop.timing import when as stamp
from bot.economy.runtime import EconomyRuntime
from bot.market.commands import pair_names
from core.commands import Command, Param, ParamType, Permission
from core.context import Context
from core.markup import escape
from core.replies import Reply, ReplyField

#: the checkout needs buttons, which SMS has not
WITH_BUTTONS = frozenset({"discord", "telegram", "shell"})
_MEDALS = {1: "🥇", 2: "🥈", 3: "🥉"}


def _zone(ctx: Context) -> str:
    """The zone a member reads times in where the platform can't localise them (``/settings tz:``)."""
    return ctx.member.timezone or "UTC"


def _item(description: str) -> Param:
    return Param("item", description, required=False, autocomplete=pair_names, rest=True)


def _drop_param() -> Param:
    return Param("drop", "The drop's number", ParamType.INTEGER, min_value=1)


async def practice(ctx: Context, item: str | None = None) -> Reply:
    cop = ctx.service(Cop)
    pair = await pick_pair(ctx.engine, item, cop.rng)
    missed = await cop.undelivered_practice(ctx.member)
    drop = await cop.start_practice(ctx.member, ctx.platform, pair)
    low = cop.settings.countdown_s
    return render.armed(drop, low, low + cop.settings.random_window_s, missed)


async def status(ctx: Context) -> Reply:
    cop = ctx.service(Cop)
    await cop.undelivered_practice(ctx.member)  # closes a run whose message can no longer arrive
    found = await cop.practice_status(ctx.member)
    if found is None:
        return Reply.info("No practice runs yet. Start one with `/cop practice`.", title="🏃 Cop practice")
    return render.practice_status(*found, _zone(ctx))


async def pick_size(ctx: Context, drop: int, size: str) -> Reply:
    return render.step(await ctx.service(Cop).pick_size(ctx.member, drop, size))


async def cart(ctx: Context, drop: int) -> Reply:
    return render.step(await ctx.service(Cop).add_to_cart(ctx.member, drop))


async def checkout(ctx: Context, drop: int) -> Reply:
    return render.step(await ctx.service(Cop).checkout(ctx.member, drop))


async def confirm(ctx: Context, code: str) -> Reply:
    return render.checkout(await ctx.service(Cop).confirm(ctx.member, code), _zone(ctx))


async def schedule(ctx: Context, stock: int, when: str, item: str | None = None) -> Reply:
    cop = ctx.service(Cop)
    opens_at = parse_when(when, cop.clock(), max_days=cop.settings.max_schedule_days)
    pair = await pick_pair(ctx.engine, item, cop.rng)
    drop = await cop.schedule_group(ctx.member, opens_at, stock, pair)
    return Reply(
        title=f"⏰ Cop drop #{drop.id} scheduled",
        text=(
            f"{escape(drop.pair)}, {drop.stock} {'pair' if drop.stock == 1 else 'pairs'}, opens "
            f"{stamp(drop.opens_at, _zone(ctx))} and closes {stamp(drop.closes_at, _zone(ctx))}. "
            f"Announced on the `{cop.settings.feed}` feed."
        ),
        footer=f"Cancel with /cop cancel {drop.id}",
    )


async def cancel(ctx: Context, drop: int) -> Reply:
    found = await ctx.service(Cop).cancel(drop)
    return Reply.info(f"Cop drop #{found.id} ({escape(found.pair)}) is cancelled.", title="❌ Cancelled")


async def upcoming(ctx: Context) -> Reply:
    drops = await ctx.service(Cop).upcoming()
    if not drops:
        return Reply.info("No group drops are scheduled. Practice any time with `/cop practice`.", title="⏰ Cop drops")
    lines = [
        f"#{drop.id} · {escape(drop.pair)} · {drop.stock} pairs · "
        + ("**live now**" if drop.status == "open" else stamp(drop.opens_at, _zone(ctx)))
        for drop in drops
    ]
    return Reply(title="⏰ Cop drops", text="\n".join(lines))


async def leaderboard(ctx: Context, period: str = "week") -> Reply:
    cop = ctx.service(Cop)
    ranked = await standings.leaderboard(cop, period, cop.clock())
    label = {"week": "this week", "month": "the last 30 days", "all": "all time"}[period]
    if not ranked:
        return Reply.info(f"No checkouts {label} yet. Start one with `/cop practice`.", title="🏁 Cop leaderboard")
    lines = [
        f"{_MEDALS.get(n, f'{n}.')} {escape(s.name)} · best {seconds_text(s.best_ms)} · "
        f"{s.runs} {'run' if s.runs == 1 else 'runs'}" + (f" · {s.wins} won" if s.wins else "")
        for n, s in enumerate(ranked, start=1)
    ]
    best = await cop.best_practice(ctx.member.id)
    footer = f"Your best practice: {seconds_text(best)}" if best is not None else "No practice runs of yours yet."
    return Reply(title=f"🏁 Cop leaderboard: {label}", text="\n".join(lines), footer=footer)


async def tournament(ctx: Context, month: str | None = None) -> Reply:
    cop = ctx.service(Cop)
    wanted = parse_month(month) if month else month_of(cop.clock())
    found = await standings.tournament(cop, wanted)
    return _tournament_reply(found, found.note, _currency(ctx))


async def payout(ctx: Context, month: str) -> Reply:
    cop = ctx.service(Cop)
    found = await standings.pay(cop, parse_month(month))
    return _tournament_reply(found, found.note, _currency(ctx))


def _currency(ctx: Context) -> str:
    if ctx.engine.has_service(EconomyRuntime):
        return ctx.service(EconomyRuntime).economy.currency
    return "LACES"


def _tournament_reply(found: standings.Tournament, note: str, currency: str) -> Reply:
    lines = []
    for place, standing in enumerate(found.standings, start=1):
        prize = found.prizes[place - 1] if place <= len(found.prizes) else 0
        lines.append(
            f"{_MEDALS.get(place, f'{place}.')} {escape(standing.name)} · {standing.wins} won · "
            f"best {seconds_text(standing.best_ms)}" + (f" · prize {prize:,} {currency}" if prize else "")
        )
    status = {
        "paid": "Prizes paid.",
        "empty": "Nobody raced in a group drop that month.",
        "short": f"Prizes not paid yet: {note or 'the treasury is short'}. Retried automatically.",
    }.get(found.status or "", "Prizes are paid from the treasury once the month is over.")
    return Reply(
        title=f"🏆 Cop tournament {found.month}",
        text="\n".join(lines) or "No group drop checkouts this month yet.",
        fields=[ReplyField(name="Prizes", value=status, inline=False)],
        footer="Ranked by group drop wins, then best time.",
    )


COMMANDS = (
    Command(
        "cop practice",
        "Practice for release day: a simulated drop opens at a random moment",
        practice,
        params=(_item("A pair to practice on (default: a random one)"),),
        frontends=WITH_BUTTONS,
        private=True,
    ),
    Command(
        "cop status",
        "Where your latest practice run stands (and why, if its drop message never came)",
        status,
        private=True,
    ),
    Command(
        "cop size",
        "Pick a size in a live drop (its buttons do this)",
        pick_size,
        params=(_drop_param(), Param("size", "The size, e.g. 10", max_length=12)),
        frontends=WITH_BUTTONS,
        private=True,
    ),
    Command(
        "cop cart",
        "Add your size to the cart (a drop's button)",
        cart,
        params=(_drop_param(),),
        frontends=WITH_BUTTONS,
        private=True,
    ),
    Command(
        "cop checkout",
        "Check out of a drop (a drop's button)",
        checkout,
        params=(_drop_param(),),
        frontends=WITH_BUTTONS,
        private=True,
    ),
    Command(
        "cop confirm",
        "Confirm your checkout with the code you were shown",
        confirm,
        params=(Param("code", "The code shown at checkout", max_length=12),),
        frontends=WITH_BUTTONS,
        private=True,
    ),
    Command(
        "cop schedule",
        "Schedule a group drop: limited stock, everyone races (admins)",
        schedule,
        params=(
            Param("stock", "How many pairs", ParamType.INTEGER, min_value=1),
            Param("when", "When it opens: 10m, 2h, 2026-12-01T18:00-05:00 or 2026-12-01T18:00[Europe/London]"),
            _item("The pair (default: a random one)"),
        ),
        permission=Permission.ADMIN,
    ),
    Command(
        "cop cancel",
        "Cancel a scheduled group drop (admins)",
        cancel,
        params=(_drop_param(),),
        permission=Permission.ADMIN,
    ),
    Command("cop drops", "Upcoming group drops", upcoming),
    Command(
        "cop leaderboard",
        "Fastest checkouts",
        leaderboard,
        params=(Param("period", "week, month or all", required=False, default="week", choices=standings.PERIODS),),
    ),
    Command(
        "cop tournament",
        "A month's tournament standings and prizes",
        tournament,
        params=(Param("month", "e.g. 2026-11 (default: this month)", required=False, max_length=7),),
    ),
    Command(
        "cop payout",
        "Pay a finished month's tournament prizes now (admins; also automatic)",
        payout,
        params=(Param("month", "e.g. 2026-11", max_length=7),),
        permission=Permission.ADMIN,
    ),
)
