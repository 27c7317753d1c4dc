"""/trades (proposals, completing, reviews, blocks and preferences, mods' tools) and /rep."""

from __future__ import annotations

from sqlalchemy import select

from bot.trades import completion, proposals, render
from bot.trades.models import TradeParty, TradeProposal, TradeReview
from bot.trades.service import Trades, drop_member_rows
from core.commands import Command, Param, ParamType, Permission
from core.context import Context
from core.errors import UserError
from core.markup import clip, escape
from core.replies import Reply, ReplyField
from core.storage.models import Member

_TRADE = Param("id", "The trade's number (from its DM or /trades list)", type=ParamType.INTEGER, min_value=1)
_MEMBER = Param("member", "Which member", type=ParamType.MEMBER)


async def _member(ctx: Context, text: str) -> Member:
    found = await ctx.engine.identity.find_by_handle(text)
    if found is None:
        raise UserError(f"No member called {escape(clip(text, 40))}; they need to have used the bot once.")
    return found


async def accept(ctx: Context, id: int) -> Reply:
    return await proposals.accept(ctx.service(Trades), ctx.member.id, id)


async def decline(ctx: Context, id: int) -> Reply:
    return await proposals.decline(ctx.service(Trades), ctx.member.id, id)


async def sent(ctx: Context, id: int) -> Reply:
    return await completion.mark(ctx.service(Trades), ctx.member.id, id, completion.SENT)


async def received(ctx: Context, id: int) -> Reply:
    return await completion.mark(ctx.service(Trades), ctx.member.id, id, completion.RECEIVED)


async def met(ctx: Context, id: int) -> Reply:
    return await completion.mark(ctx.service(Trades), ctx.member.id, id, completion.MET)


async def dispute(ctx: Context, id: int, reason: str | None = None) -> Reply:
    return await completion.dispute(ctx.service(Trades), ctx.member.id, id, (reason or "").strip())


async def review(ctx: Context, id: int, stars: int, note: str | None = None) -> Reply:
    return await completion.review(ctx.service(Trades), ctx.member.id, id, stars, (note or "").strip())


async def list_trades(ctx: Context) -> Reply:
    trades = ctx.service(Trades)
    async with trades.db.read() as session:
        rows = (await session.execute(
            select(TradeProposal, TradeParty.response)
            .join(TradeParty, TradeParty.proposal_id == TradeProposal.id)
            .where(TradeParty.member_id == ctx.member.id)
            .order_by(TradeProposal.id.desc())
            .limit(15)
        )).all()  # fmt: skip
    if not rows:
        return Reply(title="🔁 Your trades", text="None yet. List haves and wants; the matcher proposes trades.",
                     ephemeral=True)  # fmt: skip
    lines = [
        f"#{p.id} {p.status}" + (f" (you: {answer}, until {render.when(p.deadline)})" if p.status == "proposed" else "")
        for p, answer in rows
    ]
    return Reply(title="🔁 Your trades", text="\n".join(lines), ephemeral=True)


async def show(ctx: Context, id: int) -> Reply:
    trades = ctx.service(Trades)
    async with trades.db.read() as session:
        proposal = await session.get(TradeProposal, id)
        party = await session.get(TradeParty, (id, ctx.member.id))
        if proposal is None or (party is None and ctx.role < Permission.MOD):
            raise UserError(f"You have no trade #{id}.")
        reply = await completion.history(session, proposal)
    return reply.model_copy(update={"ephemeral": True})


async def block(ctx: Context, member: str) -> Reply:
    other = await _member(ctx, member)
    done = await ctx.service(Trades).block(ctx.member.id, other.id, on=True)
    text = f"You won't be matched with **{escape(other.display_name)}**." if done else "Already blocked."
    return Reply(title="🚷 Blocked", text=text, ephemeral=True)


async def unblock(ctx: Context, member: str) -> Reply:
    other = await _member(ctx, member)
    done = await ctx.service(Trades).block(ctx.member.id, other.id, on=False)
    text = f"**{escape(other.display_name)}** can be matched with you again." if done else "They weren't blocked."
    return Reply(title="✅ Unblocked", text=text, ephemeral=True)


async def minrep(ctx: Context, score: float) -> Reply:
    await ctx.service(Trades).set_min_reputation(ctx.member.id, score)
    text = (f"You'll only be matched with members whose trade score is at least {score:g}." if score
            else "You'll be matched with anyone (no minimum).")  # fmt: skip
    return Reply(title="🛡️ Minimum reputation", text=text, ephemeral=True)


async def match(ctx: Context) -> Reply:
    created = await proposals.run_solver(ctx.service(Trades), force=True)
    if not created:
        return Reply(title="🔁 Matcher ran", text="No new trades found.", ephemeral=True)
    ids = ", ".join(f"#{n}" for n in created)
    return Reply(title="🔁 Matcher ran", text=f"Proposed {len(created)} trade(s): {ids}.", ephemeral=True)


async def disputes(ctx: Context) -> Reply:
    found = await completion.disputes(ctx.service(Trades))
    if not found:
        return Reply(title="⚖️ Disputes", text="No open disputes.", ephemeral=True)
    first = found[0]
    more = f" ({len(found) - 1} more: /trades show ID)" if len(found) > 1 else ""
    return first.model_copy(update={"ephemeral": True, "footer": f"Open disputes: {len(found)}{more}"})


async def resolve(ctx: Context, id: int, outcome: str, note: str | None = None) -> Reply:
    return await completion.resolve(ctx.service(Trades), ctx.member.id, id, outcome, (note or "").strip())


async def remove(ctx: Context, member: str, reason: str | None = None) -> Reply:
    """A mod takes a member out of trading (they left or were banned): their proposals and unfinished
    trades are voided, the others told, and their listings withdrawn."""
    other = await _member(ctx, member)
    trades = ctx.service(Trades)
    voided = await remove_member(trades, other.id, reason or "a member left the trade")
    return Reply(title="🚫 Removed from trading",
                 text=f"**{escape(other.display_name)}**: {len(voided)} proposal(s) voided, listings withdrawn.",
                 ephemeral=True)  # fmt: skip


async def remove_member(trades: Trades, member_id: int, why: str) -> list[int]:
    async with trades.db.transaction() as session:
        voided = await proposals.void_for_member(session, trades, member_id, f"{why[:150].rstrip('.')}.")
        await drop_member_rows(session, member_id)
    proposals.wake(trades)
    return voided


async def rep(ctx: Context, member: str | None = None) -> Reply:
    who = ctx.member if member is None else await _member(ctx, member)
    trades = ctx.service(Trades)
    reputation = await trades.reputation(who.id)
    reply = render.reputation_reply(who.display_name, reputation)
    async with trades.db.read() as session:
        notes = (await session.execute(
            select(TradeReview.stars, TradeReview.note)
            .where(TradeReview.reviewee_id == who.id, TradeReview.note != "")
            .order_by(TradeReview.id.desc())
            .limit(3)
        )).all()  # fmt: skip
    if notes:
        said = "\n".join(f"{'★' * stars} “{escape(clip(note, 120))}”" for stars, note in notes)
        reply.fields.append(ReplyField(name="Latest notes", value=said, inline=False))
    return reply


COMMANDS = (
    Command("trades accept", "Accept a trade proposal.", accept, (_TRADE,), private=True),
    Command("trades decline", "Decline a trade proposal.", decline, (_TRADE,), private=True),
    Command("trades sent", "Mark what you give in a trade as sent.", sent, (_TRADE,), private=True),
    Command("trades received", "Mark what you get in a trade as received.", received, (_TRADE,), private=True),
    Command("trades met", "Mark a meet-up trade as done (you swapped in person).", met, (_TRADE,), private=True),
    Command("trades dispute", "Ask the mods to look at a trade that went wrong.", dispute,
            (_TRADE, Param("reason", "What went wrong", required=False, max_length=300, rest=True)), private=True),
    Command("trades review", "Review who sent you your item in a completed trade (1-5 stars).", review,
            (_TRADE, Param("stars", "1 to 5", type=ParamType.INTEGER, min_value=1, max_value=5),
             Param("note", "A short note", required=False, max_length=300, rest=True)), private=True),
    Command("trades list", "Your trade proposals and trades.", list_trades, private=True),
    Command("trades show", "A trade's items and history.", show, (_TRADE,), private=True),
    Command("trades block", "Never be matched with a member.", block, (_MEMBER,), private=True),
    Command("trades unblock", "Allow a blocked member to be matched with you again.", unblock, (_MEMBER,),
            private=True),
    Command("trades minrep", "Only trade with members whose trade score is at least this (0: anyone).", minrep,
            (Param("score", "Minimum score", type=ParamType.NUMBER, min_value=0, max_value=1000),), private=True),
    Command("trades match", "Run the trade matcher now.", match, permission=Permission.ADMIN, private=True),
    Command("trades disputes", "Open trade disputes, with their history.", disputes, permission=Permission.MOD,
            private=True),
    Command("trades resolve", "Settle a disputed trade: completed or cancelled.", resolve,
            (_TRADE, Param("outcome", "completed or cancelled", choices=("completed", "cancelled")),
             Param("note", "Why", required=False, max_length=200, rest=True)),
            permission=Permission.MOD, private=True),
    Command("trades remove", "Take a member out of trading (left or banned): voids their trades.", remove,
            (_MEMBER, Param("reason", "Why", required=False, max_length=150, rest=True)),
            permission=Permission.MOD, private=True),
    Command("rep", "A member's trade reputation: trades, reviews, account age.", rep,
            (Param("member", "Whose (default: yours)", type=ParamType.MEMBER, required=False),)),
)  # fmt: skip
