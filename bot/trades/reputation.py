"""Reputation that can't be farmed, computed from completed trades and their reviews.

A completed trade adds to a member's reputation once per counterpart (the member they gave to and
the one they received from), and only when:

* both accounts were at least ``min_account_age_days`` old when the trade completed (fresh alts
  trading with each other earn nothing), and
* the two members had no other counted trade in the ``repeat_window_days`` before it (two friends
  swapping back and forth count once a month).

A review counts only when its trade counted for that pair and both sides confirmed the leg it is
about (the giver marked it sent and the reviewer marked it received). The score used for sorting
and minimums is ``counted trades + Σ(stars − 3) / 2``, never below zero: a newcomer starts at 0,
every clean trade adds about one, a five-star review two, a one-star review takes one away.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.trades.config import TradesSection
from bot.trades.models import COMPLETED, TradeLeg, TradeProposal, TradeReview
from core.storage.models import Member
from core.storage.types import utcnow


@dataclass(frozen=True)
class Reputation:
    member_id: int
    #: completed trades that count (see the module docstring); ``all_trades`` counts every one
    completed_trades: int
    all_trades: int
    #: mean stars of the reviews that count; None before the first
    average_review: float | None
    reviews: int
    account_age_days: float
    #: sorting and minimum-reputation key
    score: float
    #: share of this member's legit-check votes that agreed with the verdict, when that feature runs
    legit_accuracy: float | None = None


@dataclass(frozen=True)
class _Leg:
    trade: int
    completed: datetime
    giver: int
    receiver: int
    confirmed: bool


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=utcnow().tzinfo)


def counted_pairs(
    legs: Iterable[_Leg], created: dict[int, datetime], settings: TradesSection
) -> set[tuple[int, int, int]]:
    """``(trade, a, b)`` with ``a < b`` for every trade that counts between members ``a`` and ``b``."""
    min_age = timedelta(days=settings.min_account_age_days)
    window = timedelta(days=settings.repeat_window_days)
    by_pair: dict[tuple[int, int], dict[int, datetime]] = defaultdict(dict)
    for leg in legs:
        a, b = sorted((leg.giver, leg.receiver))
        by_pair[a, b][leg.trade] = leg.completed
    counted: set[tuple[int, int, int]] = set()
    for (a, b), trades in by_pair.items():
        last: datetime | None = None
        for trade, when in sorted(trades.items(), key=lambda item: (item[1], item[0])):
            old_enough = all(
                member in created and when - created[member] >= min_age for member in (a, b)
            )
            if not old_enough or (last is not None and when - last < window):
                continue
            counted.add((trade, a, b))
            last = when
    return counted


async def reputations(
    session: AsyncSession, settings: TradesSection, member_ids: Collection[int] | None = None
) -> dict[int, Reputation]:
    """Every listed member's reputation (``None``: everyone with a completed trade), in one pass."""
    rows = await session.execute(
        select(TradeLeg.proposal_id, TradeProposal.closed_at, TradeLeg.giver_id, TradeLeg.receiver_id,
               TradeLeg.sent_at, TradeLeg.received_at)
        .join(TradeProposal, TradeProposal.id == TradeLeg.proposal_id)
        .where(TradeProposal.status == COMPLETED)
    )  # fmt: skip
    legs = [
        _Leg(trade, _aware(closed or utcnow()), giver, receiver, sent is not None and received is not None)
        for trade, closed, giver, receiver, sent, received in rows.all()
    ]
    involved = {member for leg in legs for member in (leg.giver, leg.receiver)}
    wanted = set(member_ids) if member_ids is not None else involved
    created = {
        member_id: _aware(when)
        for member_id, when in (
            await session.execute(select(Member.id, Member.created_at).where(Member.id.in_(wanted | involved)))
        ).all()
    }
    counted = counted_pairs(legs, created, settings)
    confirmed = {(leg.trade, leg.giver, leg.receiver) for leg in legs if leg.confirmed}
    reviews = (await session.execute(select(TradeReview).where(TradeReview.reviewee_id.in_(wanted)))).scalars()
    stars: dict[int, list[int]] = defaultdict(list)
    for review in reviews:
        pair = (review.proposal_id, *sorted((review.reviewer_id, review.reviewee_id)))
        # the reviewer reviews what they received: the reviewee gave it to them
        if pair in counted and (review.proposal_id, review.reviewee_id, review.reviewer_id) in confirmed:
            stars[review.reviewee_id].append(review.stars)
    trades_of: dict[int, set[int]] = defaultdict(set)
    every: dict[int, set[int]] = defaultdict(set)
    for trade, a, b in counted:
        trades_of[a].add(trade)
        trades_of[b].add(trade)
    for leg in legs:
        every[leg.giver].add(leg.trade)
        every[leg.receiver].add(leg.trade)
    now = utcnow()
    found: dict[int, Reputation] = {}
    for member_id in wanted:
        given = stars.get(member_id, [])
        count = len(trades_of.get(member_id, ()))
        score = max(0.0, count + sum(star - 3 for star in given) / 2)
        joined = created.get(member_id)
        found[member_id] = Reputation(
            member_id=member_id,
            completed_trades=count,
            all_trades=len(every.get(member_id, ())),
            average_review=round(sum(given) / len(given), 2) if given else None,
            reviews=len(given),
            account_age_days=round((now - joined).total_seconds() / 86400, 1) if joined else 0.0,
            score=round(score, 2),
        )
    return found


def counts_for_earn(
    trade: int, giver: int, receiver: int, legs: Iterable[_Leg], created: dict[int, datetime], settings: TradesSection
) -> bool:
    """Whether this trade counted between ``giver`` and ``receiver`` (what a LACES award needs too)."""
    a, b = sorted((giver, receiver))
    return (trade, a, b) in counted_pairs(legs, created, settings)


async def trade_counts(session: AsyncSession, settings: TradesSection, trade: int, giver: int, receiver: int) -> bool:
    """``counts_for_earn`` read from the database: the legs of every completed trade of the pair."""
    rows = await session.execute(
        select(TradeLeg.proposal_id, TradeProposal.closed_at, TradeLeg.giver_id, TradeLeg.receiver_id,
               TradeLeg.sent_at, TradeLeg.received_at)
        .join(TradeProposal, TradeProposal.id == TradeLeg.proposal_id)
        .where(TradeProposal.status == COMPLETED, TradeLeg.giver_id.in_((giver, receiver)),
               TradeLeg.receiver_id.in_((giver, receiver)))
    )  # fmt: skip
    legs = [
        _Leg(t, _aware(closed or utcnow()), g, r, s is not None and rec is not None)
        for t, closed, g, r, s, rec in rows.all()
    ]
    created = {
        member_id: _aware(when)
        for member_id, when in (
            await session.execute(select(Member.id, Member.created_at).where(Member.id.in_((giver, receiver))))
        ).all()
    }
    return counts_for_earn(trade, giver, receiver, legs, created, settings)
