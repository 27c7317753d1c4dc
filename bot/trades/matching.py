"""Running the matcher over the database: the open haves and wants become the solver's graph, the
slice's rules become its ``allow`` veto, and each cycle found becomes a proposal.

Haves already in a live proposal stay out, so a proposal that was sent is never reshuffled by an
unrelated change; an item a member declined or let expire is not offered to them again. Solves are
debounced and leased through the one ``trade_solver`` row, so several processes never propose the
same haves twice: whoever claims the lease solves, and a proposal's haves are checked again in the
transaction that stores it.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.trades.config import TradesSection
from bot.trades.models import (
    LIVE,
    OPEN,
    PROPOSED,
    TradeBlock,
    TradeExclusion,
    TradeHave,
    TradeLeg,
    TradeParty,
    TradePrefs,
    TradeProposal,
    TradeSolver,
    TradeWant,
)
from bot.trades.reputation import Reputation, reputations
from bot.trades.service import Point, Trades
from bot.trades.solver import Accept, Allow, Have, Step, TradeSolution, Want, build_graph, solve
from bot.trades.values import balanced, market_values
from core.geo import distance_km
from core.storage.types import utcnow

log = structlog.get_logger(__name__)

#: how long one solve may hold the lease before another process may take over
LEASE_S = 120.0


@dataclass
class Problem:
    """Everything one solve reads, loaded in one go."""

    haves: dict[int, TradeHave]
    wants: list[TradeWant]
    blocks: set[tuple[int, int]]
    min_rep: dict[int, float]
    reps: dict[int, Reputation]
    excluded: set[tuple[int, int]]
    points: dict[int, Point] = field(default_factory=dict)
    values: dict[tuple[int, str], float | None] = field(default_factory=dict)


async def load(session: AsyncSession, settings: TradesSection) -> Problem:
    live = (
        select(TradeLeg.have_id)
        .join(TradeProposal, TradeProposal.id == TradeLeg.proposal_id)
        .where(TradeProposal.status.in_(LIVE))
    )
    haves = {
        row.id: row
        for row in (
            await session.execute(
                select(TradeHave).where(TradeHave.status == OPEN, TradeHave.price.is_(None), TradeHave.id.not_in(live))
            )
        ).scalars()
    }
    members = {row.member_id for row in haves.values()}
    wants = list(
        (await session.execute(select(TradeWant).where(TradeWant.member_id.in_(members)))).scalars()
    )
    blocks = {
        (a, b) for a, b in (await session.execute(select(TradeBlock.member_id, TradeBlock.blocked_id))).all()
    }
    min_rep = {
        m: v for m, v in (await session.execute(select(TradePrefs.member_id, TradePrefs.min_reputation))).all() if v > 0
    }
    excluded = {
        (h, m) for h, m in (await session.execute(select(TradeExclusion.have_id, TradeExclusion.member_id))).all()
    }
    reps = await reputations(session, settings, members) if min_rep else {}
    return Problem(haves, wants, blocks, min_rep, reps, excluded)


def allow_for(problem: Problem, settings: TradesSection) -> Allow:
    """The slice's veto on an edge: have ``a`` goes to the owner of have ``b``."""

    def score(member: int) -> float:
        rep = problem.reps.get(member)
        return rep.score if rep is not None else 0.0

    def allow(a: Have, b: Have) -> bool:
        giving, getting = problem.haves[int(a.id)], problem.haves[int(b.id)]
        giver, receiver = giving.member_id, getting.member_id
        if (giver, receiver) in problem.blocks or (receiver, giver) in problem.blocks:
            return False
        if (giving.id, receiver) in problem.excluded:
            return False
        if score(giver) < problem.min_rep.get(receiver, 0.0) or score(receiver) < problem.min_rep.get(giver, 0.0):
            return False
        for have in (giving, getting):
            if have.local_km is not None:
                here, there = problem.points.get(giver), problem.points.get(receiver)
                if here is None or there is None:
                    return False
                if distance_km(here.latitude, here.longitude, there.latitude, there.longitude) > have.local_km:
                    return False
        if settings.value_balance_pct is not None:
            first = problem.values.get((giving.catalog_id, giving.size_key))
            second = problem.values.get((getting.catalog_id, getting.size_key))
            if not balanced(first, second, settings.value_balance_pct):
                return False
        return True

    return allow


def solver_input(problem: Problem) -> tuple[list[Have], list[Want]]:
    haves = [
        Have(
            id=str(row.id), member=str(row.member_id), item=str(row.catalog_id), size=row.size_key,
            condition=row.condition,
            accepts=None if row.accepts is None else tuple(Accept(str(a["item"]), str(a["size"])) for a in row.accepts),
        )
        for row in problem.haves.values()
    ]  # fmt: skip
    wants = [
        Want(member=str(row.member_id), item=str(row.catalog_id), sizes=tuple(row.sizes),
             conditions=None if row.conditions is None else tuple(row.conditions))
        for row in problem.wants
    ]  # fmt: skip
    return haves, wants


async def find_cycles(trades: Trades) -> tuple[Problem, TradeSolution]:
    """Load, build the graph and solve (in a thread: the solve is CPU work)."""
    settings = trades.settings
    async with trades.db.read() as session:
        problem = await load(session, settings)
    local = {row.member_id for row in problem.haves.values() if row.local_km is not None}
    if local:
        members = {row.member_id for row in problem.haves.values()}
        problem.points = await trades.locations(members)
    if settings.value_balance_pct is not None and problem.haves:
        problem.values = await market_values(trades.db, ((h.catalog_id, h.size_key) for h in problem.haves.values()))
    haves, wants = solver_input(problem)
    allow = allow_for(problem, settings)

    def run() -> TradeSolution:
        return solve(build_graph(haves, wants, allow=allow), max_cycle=settings.max_cycle)

    solution = await asyncio.to_thread(run)
    return problem, solution


async def claim(trades: Trades, *, force: bool) -> tuple[str, int] | None:
    """Take the solver lease when a solve is due (or ``force``); ``(owner, version)`` or None."""
    owner = secrets.token_hex(8)
    now = utcnow()
    async with trades.db.transaction() as session:
        conditions = [TradeSolver.id == 1, or_(TradeSolver.lease_until.is_(None), TradeSolver.lease_until < now)]
        if not force:
            conditions += [TradeSolver.version > TradeSolver.solved_version, TradeSolver.due_at <= now]
        result = await session.execute(
            update(TradeSolver)
            .where(*conditions)
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=LEASE_S))
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return None
        version = await session.scalar(select(TradeSolver.version).where(TradeSolver.id == 1))
    return owner, int(version or 0)


async def release(trades: Trades, owner: str, version: int | None) -> None:
    """Give the lease back, recording ``version`` as solved (None: the solve failed; try again)."""
    values: dict[str, object] = {"lease_owner": None, "lease_until": None}
    if version is not None:
        values["solved_version"] = version
    async with trades.db.transaction() as session:
        await session.execute(
            update(TradeSolver).where(TradeSolver.id == 1, TradeSolver.lease_owner == owner).values(values)
        )


async def store(session: AsyncSession, settings: TradesSection, cycle: Sequence[Step]) -> TradeProposal | None:
    """One cycle as a proposal with its parties and legs, unless one of its haves was taken or
    withdrawn since the solve read it (then this cycle is dropped; the next solve finds another)."""
    ids = [int(step.have) for step in cycle]
    rows = {
        row.id: row for row in (await session.execute(select(TradeHave).where(TradeHave.id.in_(ids)))).scalars()
    }
    if len(rows) != len(ids) or any(row.status != OPEN for row in rows.values()):
        return None
    taken = await session.scalar(
        select(TradeLeg.id)
        .join(TradeProposal, TradeProposal.id == TradeLeg.proposal_id)
        .where(TradeLeg.have_id.in_(ids), TradeProposal.status.in_(LIVE))
        .limit(1)
    )
    if taken is not None:
        return None
    now = utcnow()
    proposal = TradeProposal(
        status=PROPOSED, local=all(rows[i].local_km is not None for i in ids), created_at=now,
        deadline=now + timedelta(hours=settings.proposal_hours), reason="",
    )  # fmt: skip
    session.add(proposal)
    await session.flush()
    members: dict[int, None] = {}
    for step in cycle:
        giver, receiver = int(step.from_member), int(step.to_member)
        session.add(TradeLeg(proposal_id=proposal.id, have_id=int(step.have), giver_id=giver, receiver_id=receiver))
        members[giver] = None
        members[receiver] = None
    for member_id in members:
        session.add(TradeParty(proposal_id=proposal.id, member_id=member_id))
    await session.flush()
    return proposal


def by_member(cycle: Sequence[Step]) -> dict[int, list[Step]]:
    found: dict[int, list[Step]] = defaultdict(list)
    for step in cycle:
        found[int(step.from_member)].append(step)
    return found
