"""Completing a trade: each side marks what they sent and what they received (or, at a meet-up,
that they met); a dispute goes to the mods with the trade's history; once everything arrived each
member reviews the one who sent them their item, and a good review earns that member LACES."""

from __future__ import annotations

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.trades import render
from bot.trades.models import (
    CANCELLED,
    COMPLETED,
    DISPUTED,
    TRADED,
    TRADING,
    TradeEvent,
    TradeProposal,
    TradeReview,
    TradeWant,
)
from bot.trades.notify import send
from bot.trades.proposals import event, names_of, parts, wake
from bot.trades.reputation import trade_counts
from bot.trades.service import Trades, changed
from core.errors import UserError
from core.markup import clip, escape
from core.replies import Reply, ReplyField
from core.storage.types import utcnow

log = structlog.get_logger(__name__)

SENT, RECEIVED, MET = "sent", "received", "met"


async def _trade(session: AsyncSession, trade_id: int, member_id: int) -> TradeProposal:
    proposal = await session.get(TradeProposal, trade_id, with_for_update=True)
    _legs, _haves, parties = await parts(session, trade_id)
    if proposal is None or member_id not in {p.member_id for p in parties}:
        raise UserError(f"You weren't in trade #{trade_id}.")
    return proposal


async def mark(trades: Trades, member_id: int, trade_id: int, what: str) -> Reply:
    """``sent``, ``received`` or ``met`` (both, at a meet-up)."""
    completed = False
    async with trades.db.transaction() as session:
        proposal = await _trade(session, trade_id, member_id)
        if proposal.status != TRADING:
            raise UserError(f"Trade #{trade_id} is not in progress (it is {proposal.status}); nothing was marked.")
        if what == MET and not proposal.local:
            raise UserError(f"Trade #{trade_id} ships by post: mark it `sent` and `received` instead.")
        if what != MET and proposal.local:
            raise UserError(f"Trade #{trade_id} is a meet-up: mark it `met` once you have swapped.")
        legs, _haves, _parties = await parts(session, trade_id)
        now = utcnow()
        changed_any = False
        for leg in legs:
            if what in (SENT, MET) and leg.giver_id == member_id and leg.sent_at is None:
                leg.sent_at, changed_any = now, True
            if what in (RECEIVED, MET) and leg.receiver_id == member_id and leg.received_at is None:
                leg.received_at, changed_any = now, True
        if not changed_any:
            text = f"Already marked {what} for trade #{trade_id}."
            return Reply.info(text, title="👍 Already marked", ephemeral=True)
        event(session, trade_id, what, member_id)
        if all(leg.received_at is not None for leg in legs):
            await _complete(session, trades, proposal)
            completed = True
            reply = Reply(title="✅ Trade complete", text=f"Everything in trade #{trade_id} arrived. Check your DMs to "
                          "review your trading partner.")  # fmt: skip
        else:
            missing = sum(1 for leg in legs if leg.received_at is None)
            reply = Reply(title=f"📌 Marked {what}", text=f"Trade #{trade_id}: {missing} item"
                          f"{'s' if missing != 1 else ''} still to arrive.")  # fmt: skip
    if completed:
        wake(trades)
    return reply


async def _complete(session: AsyncSession, trades: Trades, proposal: TradeProposal) -> None:
    legs, haves, parties = await parts(session, proposal.id)
    proposal.status, proposal.closed_at = COMPLETED, utcnow()
    event(session, proposal.id, "completed")
    for leg in legs:
        have = haves[leg.have_id]
        have.status, have.updated_at = TRADED, utcnow()
        wants = (await session.execute(
            select(TradeWant).where(TradeWant.member_id == leg.receiver_id, TradeWant.catalog_id == have.catalog_id)
        )).scalars()  # fmt: skip
        for want in wants:
            if have.size_key in want.sizes:
                await session.execute(delete(TradeWant).where(TradeWant.id == want.id))
    names = await names_of(session, [p.member_id for p in parties])
    await send(session, [
        (p.member_id, f"done:{proposal.id}", render.completed_dm(proposal, p.member_id, legs, names)) for p in parties
    ])  # fmt: skip
    await changed(session, trades.settings)


async def dispute(trades: Trades, member_id: int, trade_id: int, reason: str) -> Reply:
    async with trades.db.transaction() as session:
        proposal = await _trade(session, trade_id, member_id)
        if proposal.status == DISPUTED:
            return Reply.info(f"Trade #{trade_id} is already with the mods.", ephemeral=True)
        if proposal.status != TRADING:
            raise UserError(f"Trade #{trade_id} is not in progress (it is {proposal.status}); only an open trade "
                            "can be disputed.")  # fmt: skip
        proposal.status = DISPUTED
        event(session, trade_id, "disputed", member_id, reason)
        await session.flush()
        report = await history(session, proposal)
        _legs, _haves, parties = await parts(session, trade_id)
        notice = Reply(title=f"⚠️ Trade #{trade_id} is disputed",
                       text="A member asked the mods to look at this trade. A mod will contact you.")  # fmt: skip
        await send(session, [(p.member_id, f"dispute:{trade_id}", notice) for p in parties if p.member_id != member_id])
    feed = trades.settings.dispute_feed
    if feed:
        await trades.engine.feeds.publish(feed, report)
    wake(trades)
    return Reply(title="⚠️ Sent to the mods", text=f"Trade #{trade_id} is paused while a mod looks at it.")


async def history(session: AsyncSession, proposal: TradeProposal) -> Reply:
    """The trade as mods see it: its items and every step, oldest first."""
    legs, haves, parties = await parts(session, proposal.id)
    names = await names_of(session, [p.member_id for p in parties])
    events = (await session.execute(
        select(TradeEvent).where(TradeEvent.proposal_id == proposal.id).order_by(TradeEvent.id)
    )).scalars()  # fmt: skip
    items = [
        f"{render.item(haves[leg.have_id])}: {render.name(names, leg.giver_id)} → {render.name(names, leg.receiver_id)}"
        + (" · sent" if leg.sent_at else "") + (" · received" if leg.received_at else "")
        for leg in legs
    ]
    steps = [
        f"{render.when(row.created_at)} {row.kind}"
        + (f" by {render.name(names, row.member_id)}" if row.member_id else "")
        + (f": “{escape(clip(row.note, 200))}”" if row.note else "")
        for row in events
    ]
    return Reply(
        title=f"🧾 Trade #{proposal.id} ({proposal.status})",
        fields=[ReplyField(name="Items", value="\n".join(items), inline=False),
                ReplyField(name="History", value="\n".join(steps[-15:]), inline=False)],
    )  # fmt: skip


async def disputes(trades: Trades) -> list[Reply]:
    async with trades.db.read() as session:
        rows = (await session.execute(select(TradeProposal).where(TradeProposal.status == DISPUTED))).scalars().all()
        return [await history(session, row) for row in rows]


async def resolve(trades: Trades, mod_id: int, trade_id: int, outcome: str, note: str) -> Reply:
    """A mod settles a dispute: ``completed`` (the items moved) or ``cancelled``."""
    async with trades.db.transaction() as session:
        proposal = await session.get(TradeProposal, trade_id, with_for_update=True)
        if proposal is None or proposal.status != DISPUTED:
            raise UserError(f"Trade #{trade_id} is not disputed.")
        event(session, trade_id, "resolved", mod_id, f"{outcome}: {note}" if note else outcome)
        if outcome == COMPLETED:
            await _complete(session, trades, proposal)
        else:
            proposal.status, proposal.closed_at, proposal.reason = CANCELLED, utcnow(), note[:200]
            _legs, _haves, parties = await parts(session, trade_id)
            notice = Reply(title=f"🛑 Trade #{trade_id} cancelled by a mod", text=escape(note) or "No note.")
            await send(session, [(p.member_id, f"cancel:{trade_id}", notice) for p in parties])
            await changed(session, trades.settings)
    wake(trades)
    return Reply(title="🛠️ Resolved", text=f"Trade #{trade_id} is {proposal.status}.")


async def review(trades: Trades, member_id: int, trade_id: int, stars: int, note: str) -> Reply:
    async with trades.db.transaction() as session:
        proposal = await _trade(session, trade_id, member_id)
        if proposal.status != COMPLETED:
            raise UserError(f"Trade #{trade_id} isn't complete yet; review it once everything arrived.")
        mine = select(TradeReview.id).where(TradeReview.proposal_id == trade_id, TradeReview.reviewer_id == member_id)
        if await session.scalar(mine) is not None:
            raise UserError(f"You already reviewed trade #{trade_id}.")
        legs, _haves, _parties = await parts(session, trade_id)
        incoming = next((leg for leg in legs if leg.receiver_id == member_id), None)
        if incoming is None:
            raise UserError(f"You received nothing in trade #{trade_id}, so there is no one to review.")
        reviewee = incoming.giver_id
        session.add(TradeReview(proposal_id=trade_id, reviewer_id=member_id, reviewee_id=reviewee, stars=stars,
                                note=note[:300], created_at=utcnow()))  # fmt: skip
        event(session, trade_id, "reviewed", member_id, f"{stars}★")
        confirmed = incoming.sent_at is not None and incoming.received_at is not None
        counts = confirmed and await trade_counts(session, trades.settings, trade_id, reviewee, member_id)
        names = await names_of(session, [reviewee])
    earned = ""
    if counts and stars >= trades.settings.good_review_stars:
        earned = await _earn(trades, trade_id, reviewee)
    counted = "" if counts else " It doesn't add to reputation (a repeat trade, a new account or an unconfirmed leg)."
    return Reply(
        title="⭐ Review saved",
        text=f"{'⭐' * stars} for {render.name(names, reviewee)} on trade #{trade_id}.{counted}{earned}",
    )


async def _earn(trades: Trades, trade_id: int, member_id: int) -> str:
    from bot.economy.runtime import EconomyRuntime

    if not trades.engine.has_service(EconomyRuntime):
        return ""
    economy = trades.engine.service(EconomyRuntime).economy
    result = await economy.earn(trades.settings.earn_kind, member_id, f"trade:{trade_id}:{member_id}",
                                note=f"trade #{trade_id}")  # fmt: skip
    if result is None or not result.posted or result.replayed:
        return ""
    return " Your partner earned LACES for a good trade."
