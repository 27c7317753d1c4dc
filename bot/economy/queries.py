"""Read-side queries: a member's history, the leaderboards and the audit log, one page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from sqlalchemy import Select, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.economy.models import STATUS_POSTED, Account, AuditEntry, Transfer
from bot.economy.service import EARNED_KINDS, Economy
from core.storage.models import Member, table
from core.storage.types import utcnow

_T = table(Transfer)
_A = table(Account)
_M = Member.__table__

PERIOD_DAYS = {"week": 7, "month": 30}
#: what members see for system accounts: a purchase is paid to the shop, whether or not escrow still
#: holds it (pending, refunded and delivered purchases all read right)
_SYSTEM_LABELS = {"escrow": "the shop", "shop": "the shop", "raffle_pot": "the raffle pot"}
T = TypeVar("T")


@dataclass(frozen=True)
class HistoryLine:
    id: int
    when: datetime
    kind: str
    #: positive when the member received, negative when they paid
    delta: int
    counterparty: str
    note: str


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    pages: int
    total: int


@dataclass(frozen=True)
class Standing:
    rank: int
    member_id: int
    name: str
    score: int


@dataclass(frozen=True)
class AuditLine:
    id: int
    when: datetime
    actor: str
    action: str
    member: str | None
    amount: int | None
    reason: str


def _pages(total: int, size: int) -> int:
    return max(1, -(-total // size))


async def history(
    economy: Economy, member_id: int, *, kind: str | None, days: int | None, page: int, size: int
) -> Page[HistoryLine]:
    wallet = await economy.wallet(member_id)
    conditions = [_T.c.status == STATUS_POSTED, or_(_T.c.debit_account_id == wallet, _T.c.credit_account_id == wallet)]
    if kind:
        conditions.append(_T.c.kind == kind)
    if days:
        conditions.append(_T.c.created_at >= utcnow() - timedelta(days=days))
    async with economy.db.read() as session:
        total = int(await session.scalar(select(func.count()).select_from(_T).where(*conditions)) or 0)
        pages = _pages(total, size)
        page = min(max(1, page), pages)
        rows = (
            await session.execute(
                select(_T.c.id, _T.c.created_at, _T.c.kind, _T.c.debit_account_id, _T.c.credit_account_id)
                .add_columns(_T.c.amount, _T.c.note)
                .where(*conditions)
                .order_by(_T.c.id.desc())
                .limit(size)
                .offset((page - 1) * size)
            )
        ).all()
        others = {row.credit_account_id if row.debit_account_id == wallet else row.debit_account_id for row in rows}
        names = await _account_names(session, others)
    lines = [
        HistoryLine(
            id=row.id,
            when=row.created_at,
            kind=row.kind,
            delta=row.amount if row.credit_account_id == wallet else -row.amount,
            counterparty=names.get(
                row.credit_account_id if row.debit_account_id == wallet else row.debit_account_id, "?"
            ),
            note=row.note,
        )
        for row in rows
    ]
    return Page(lines, page, pages, total)


async def _account_names(session: AsyncSession, account_ids: set[int]) -> dict[int, str]:
    if not account_ids:
        return {}
    query = (
        select(_A.c.id, _A.c.code, _M.c.display_name)
        .select_from(_A.outerjoin(_M, _M.c.id == _A.c.member_id))
        .where(_A.c.id.in_(account_ids))
    )
    rows = await session.execute(query)
    return {account_id: (name or _SYSTEM_LABELS.get(code, code) or "?") for account_id, code, name in rows}


def _scores(period: str) -> Select[tuple[int, int]]:
    """Member id and score: the balance for ``all``, else what they earned in the last 7 or 30 days."""
    if period == "all":
        return select(_A.c.member_id.label("member_id"), _A.c.balance.label("score")).where(
            _A.c.member_id.is_not(None), _A.c.balance > 0
        )
    since = utcnow() - timedelta(days=PERIOD_DAYS[period])
    earned = func.sum(_T.c.amount)
    return (
        select(_A.c.member_id.label("member_id"), earned.label("score"))
        .select_from(_T.join(_A, _A.c.id == _T.c.credit_account_id))
        .where(
            _A.c.member_id.is_not(None),
            _T.c.status == STATUS_POSTED,
            _T.c.kind.in_(EARNED_KINDS),
            _T.c.created_at >= since,
        )
        .group_by(_A.c.member_id)
    )


async def leaderboard(
    economy: Economy, period: str, *, page: int, size: int, member_id: int
) -> tuple[Page[Standing], Standing | None]:
    """A page of the ranking (ties share a rank) and the caller's own standing wherever it is."""
    scores = _scores(period).subquery()
    people = (
        select(scores.c.member_id, scores.c.score, _M.c.display_name)
        .join(_M, _M.c.id == scores.c.member_id)
        .where(_M.c.is_bot == false(), _M.c.merged_into.is_(None))
        .subquery()
    )
    ranked = select(
        people.c.member_id,
        people.c.display_name,
        people.c.score,
        func.rank().over(order_by=people.c.score.desc()).label("rank"),
    ).subquery()
    async with economy.db.read() as session:
        total = int(await session.scalar(select(func.count()).select_from(ranked)) or 0)
        pages = _pages(total, size)
        page = min(max(1, page), pages)
        rows = await session.execute(
            select(ranked).order_by(ranked.c.rank, ranked.c.member_id).limit(size).offset((page - 1) * size)
        )
        standings = [Standing(int(r.rank), r.member_id, r.display_name, int(r.score)) for r in rows]
        mine_row = (await session.execute(select(ranked).where(ranked.c.member_id == member_id))).first()
    mine = (
        None
        if mine_row is None
        else Standing(int(mine_row.rank), member_id, mine_row.display_name, int(mine_row.score))
    )
    return Page(standings, page, pages, total), mine


async def audit_log(economy: Economy, *, member_id: int | None, page: int, size: int) -> Page[AuditLine]:
    entries = table(AuditEntry)
    actor = aliased(Member)
    subject = aliased(Member)
    conditions = [] if member_id is None else [entries.c.member_id == member_id]
    async with economy.db.read() as session:
        total = int(await session.scalar(select(func.count()).select_from(entries).where(*conditions)) or 0)
        pages = _pages(total, size)
        page = min(max(1, page), pages)
        rows = await session.execute(
            select(
                entries.c.id,
                entries.c.created_at,
                actor.display_name.label("actor"),
                entries.c.action,
                subject.display_name.label("member"),
                entries.c.amount,
                entries.c.reason,
            )
            .select_from(entries)
            .join(actor, actor.id == entries.c.actor_id)
            .outerjoin(subject, subject.id == entries.c.member_id)
            .where(*conditions)
            .order_by(entries.c.id.desc())
            .limit(size)
            .offset((page - 1) * size)
        )
        lines = [AuditLine(r.id, r.created_at, r.actor, r.action, r.member, r.amount, r.reason) for r in rows]
    return Page(lines, page, pages, total)
