"""Proposals: each cycle the matcher finds is sent to its members, who accept or decline.

All accept: the trade opens. One declines, or the deadline passes: the others are told, the item the
holdout would have received is kept from them in later solves, and the matcher runs again. Answers
are idempotent (a second Accept changes nothing) and a late answer to a closed proposal is told why.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery.service import Delivery
from bot.trades import render
from bot.trades.matching import claim, find_cycles, release, store
from bot.trades.models import (
    ACCEPTED,
    DECLINED,
    EXPIRED,
    PENDING,
    PROPOSED,
    REFUSED,
    TRADING,
    VOID,
    TradeEvent,
    TradeExclusion,
    TradeHave,
    TradeLeg,
    TradeParty,
    TradeProposal,
)
from bot.trades.notify import send
from bot.trades.reputation import reputations
from bot.trades.service import Trades, changed
from bot.trades.solver import Step
from core.errors import UserError
from core.markup import escape
from core.replies import Reply
from core.storage.models import Member
from core.storage.types import utcnow

log = structlog.get_logger(__name__)

_CLOSED_WHY = {
    REFUSED: "a member declined it",
    EXPIRED: "its deadline passed before everyone accepted",
    VOID: "it was withdrawn",
}


def wake(trades: Trades) -> None:
    """Let the delivery worker send what was just queued."""
    if trades.engine.has_service(Delivery):
        trades.engine.service(Delivery).wake()


async def names_of(session: AsyncSession, ids: Iterable[int]) -> dict[int, str]:
    rows = await session.execute(select(Member.id, Member.display_name).where(Member.id.in_(list(set(ids)))))
    return {member_id: display for member_id, display in rows.all()}


Parts = tuple[list[TradeLeg], dict[int, TradeHave], list[TradeParty]]


async def parts(session: AsyncSession, proposal_id: int) -> Parts:
    legs = list((await session.execute(
        select(TradeLeg).where(TradeLeg.proposal_id == proposal_id).order_by(TradeLeg.id)
    )).scalars())  # fmt: skip
    ids = [leg.have_id for leg in legs]
    haves = {row.id: row for row in (await session.execute(select(TradeHave).where(TradeHave.id.in_(ids)))).scalars()}
    parties = list((await session.execute(select(TradeParty).where(TradeParty.proposal_id == proposal_id))).scalars())
    return legs, haves, parties


def event(session: AsyncSession, proposal_id: int, kind: str, member_id: int | None = None, note: str = "") -> None:
    row = TradeEvent(proposal_id=proposal_id, member_id=member_id, kind=kind, note=note[:300], created_at=utcnow())
    session.add(row)


async def run_solver(trades: Trades, *, force: bool = False) -> list[int]:
    """Solve if one is due (or ``force``) and this process wins the lease; the new proposals' ids."""
    claimed = await claim(trades, force=force)
    if claimed is None:
        return []
    owner, version = claimed
    created: list[int] = []
    try:
        _problem, solution = await find_cycles(trades)
        for cycle in solution.cycles:
            proposal_id = await propose(trades, cycle)
            if proposal_id is not None:
                created.append(proposal_id)
    except BaseException:
        await release(trades, owner, None)
        raise
    await release(trades, owner, version)
    if created:
        log.info("trades.proposed", proposals=created, items=solution.items_traded)
        wake(trades)
    return created


async def propose(trades: Trades, cycle: Sequence[Step]) -> int | None:
    async with trades.db.transaction() as session:
        proposal = await store(session, trades.settings, cycle)
        if proposal is None:
            return None
        legs, haves, parties = await parts(session, proposal.id)
        members = [party.member_id for party in parties]
        names = await names_of(session, members)
        reps = await reputations(session, trades.settings, members)
        event(session, proposal.id, "proposed", note=f"{len(legs)} items, {len(members)} members")
        await send(session, [
            (member, f"proposal:{proposal.id}", render.proposal_dm(proposal, member, legs, haves, names, reps))
            for member in members
        ])  # fmt: skip
        return proposal.id


async def _proposal_for(session: AsyncSession, proposal_id: int, member_id: int) -> tuple[TradeProposal, TradeParty]:
    # the row lock makes concurrent answers (PostgreSQL) take turns, so the last accept opens the trade
    proposal = await session.get(TradeProposal, proposal_id, with_for_update=True)
    party = await session.get(TradeParty, (proposal_id, member_id))
    if proposal is None or party is None:
        raise UserError(f"You have no trade proposal #{proposal_id}.")
    return proposal, party


def _closed(proposal: TradeProposal) -> UserError:
    why = _CLOSED_WHY.get(proposal.status, f"it is {proposal.status}")
    return UserError(f"Trade proposal #{proposal.id} is closed: {why}. Nothing was changed.")


async def accept(trades: Trades, member_id: int, proposal_id: int) -> Reply:
    opened = False
    async with trades.db.transaction() as session:
        proposal, party = await _proposal_for(session, proposal_id, member_id)
        if proposal.status == PROPOSED and proposal.deadline <= utcnow():
            await _close(session, trades, proposal, EXPIRED, "its deadline passed before everyone accepted")
            reply = None
        elif proposal.status != PROPOSED:
            if party.response == ACCEPTED and proposal.status not in _CLOSED_WHY:
                return Reply.info(f"You already accepted; trade #{proposal.id} is {proposal.status}.", ephemeral=True)
            raise _closed(proposal)
        elif party.response == ACCEPTED:
            waiting = await _waiting(session, proposal.id)
            return Reply.info(f"You already accepted proposal #{proposal.id}. Still waiting for {waiting}.",
                              title="👍 Already accepted", ephemeral=True)  # fmt: skip
        else:
            party.response, party.responded_at = ACCEPTED, utcnow()
            event(session, proposal.id, "accepted", member_id)
            await session.flush()
            legs, haves, parties = await parts(session, proposal.id)
            if all(p.response == ACCEPTED for p in parties):
                proposal.status, proposal.opened_at = TRADING, utcnow()
                event(session, proposal.id, "opened")
                names = await names_of(session, [p.member_id for p in parties])
                await send(session, [
                    (p.member_id, f"open:{proposal.id}", render.open_dm(proposal, p.member_id, legs, haves, names))
                    for p in parties
                ])  # fmt: skip
                opened = True
                text = f"Everyone accepted trade #{proposal.id}. Check your DMs for what to do next."
                reply = Reply(title="🤝 Accepted: the trade is on", text=text)
            else:
                waiting = await _waiting(session, proposal.id)
                reply = Reply(title="✅ Accepted", text=f"Proposal #{proposal.id}: waiting for {waiting}.")
    if reply is None:
        wake(trades)
        raise _closed(proposal)
    if opened:
        wake(trades)
    return reply


async def _waiting(session: AsyncSession, proposal_id: int) -> str:
    rows = await session.execute(
        select(Member.display_name)
        .join(TradeParty, TradeParty.member_id == Member.id)
        .where(TradeParty.proposal_id == proposal_id, TradeParty.response == PENDING)
    )
    found = [f"**{escape(name)}**" for name in rows.scalars()]
    return ", ".join(found) or "nobody"


async def decline(trades: Trades, member_id: int, proposal_id: int) -> Reply:
    async with trades.db.transaction() as session:
        proposal, party = await _proposal_for(session, proposal_id, member_id)
        if proposal.status != PROPOSED:
            if party.response == DECLINED:
                return Reply.info(f"You already declined proposal #{proposal.id}.", ephemeral=True)
            raise _closed(proposal)
        party.response, party.responded_at = DECLINED, utcnow()
        event(session, proposal.id, "declined", member_id)
        await _close(session, trades, proposal, REFUSED, "A member declined it.", holdouts=[member_id])
    wake(trades)
    return Reply(title="❌ Declined", text=f"Proposal #{proposal.id} is off. The others are told; you won't be "
                 "offered that item again.")  # fmt: skip


async def _close(
    session: AsyncSession,
    trades: Trades,
    proposal: TradeProposal,
    status: str,
    why: str,
    *,
    holdouts: Sequence[int] | None = None,
    quiet: Sequence[int] = (),
) -> None:
    """Close a live proposal: status, exclusions for the holdouts (by default everyone who had not
    accepted), DMs to the rest, and a new solve."""
    legs, _haves, parties = await parts(session, proposal.id)
    if holdouts is None:
        holdouts = [p.member_id for p in parties if p.response != ACCEPTED]
    proposal.status, proposal.closed_at, proposal.reason = status, utcnow(), why[:200]
    event(session, proposal.id, status, note=why)
    now = utcnow()
    excluded = {(row.have_id, row.member_id) for row in (await session.execute(
        select(TradeExclusion).where(TradeExclusion.have_id.in_([leg.have_id for leg in legs]))
    )).scalars()}  # fmt: skip
    for leg in legs:
        if leg.receiver_id in holdouts and (leg.have_id, leg.receiver_id) not in excluded:
            session.add(TradeExclusion(have_id=leg.have_id, member_id=leg.receiver_id, reason=status, created_at=now))
    tell = [p.member_id for p in parties if p.member_id not in holdouts or status != REFUSED]
    await send(session, [
        (member, f"closed:{proposal.id}", render.off_dm(proposal, why)) for member in tell if member not in quiet
    ])  # fmt: skip
    await changed(session, trades.settings)


async def expire_due(trades: Trades) -> int:
    """Close every proposal whose deadline passed; how many."""
    now = utcnow()
    async with trades.db.read() as session:
        due = list((await session.execute(
            select(TradeProposal.id).where(TradeProposal.status == PROPOSED, TradeProposal.deadline <= now)
        )).scalars())  # fmt: skip
    closed = 0
    for proposal_id in due:
        async with trades.db.transaction() as session:
            proposal = await session.get(TradeProposal, proposal_id)
            if proposal is None or proposal.status != PROPOSED:
                continue
            await _close(session, trades, proposal, EXPIRED, "Its deadline passed before everyone accepted.")
            closed += 1
    if closed:
        wake(trades)
    return closed


async def void_for_member(session: AsyncSession, trades: Trades, member_id: int, why: str) -> list[int]:
    """Void every proposal and unfinished trade ``member_id`` is in (they left, were banned or merged
    away); the others are told. Runs in the caller's transaction."""
    rows = await session.execute(
        select(TradeProposal)
        .join(TradeParty, TradeParty.proposal_id == TradeProposal.id)
        .where(TradeParty.member_id == member_id, TradeProposal.status.in_((PROPOSED, TRADING)))
    )
    voided: list[int] = []
    for proposal in rows.scalars().all():
        await _close(session, trades, proposal, VOID, why, holdouts=[], quiet=[member_id])
        voided.append(proposal.id)
    return voided
