"""The leaderboard and the monthly tournaments.

The leaderboard ranks members by their best timed checkout (practice runs and group drops) in a
period. A month's tournament ranks the members who checked out of that month's group drops: most
wins first, then the best time. Once the month is over its prizes are paid from the community's
treasury (the economy's ``shop`` account, where raffle takings and shop sales land) through the
ledger, one transfer per place keyed by month and place, so a retry or a second process never pays
twice. If the treasury can't cover every prize nothing is paid and the month is marked ``short``;
it is tried again on every sweep until it can.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.cop.models import GROUP, SOLD_OUT, TIMED, WON, CopDrop, CopEntry, CopTournament
from bot.cop.timing import month_bounds, month_of
from bot.economy.ledger import LedgerError, TransferRequest, idempotency_key
from bot.economy.runtime import EconomyRuntime
from bot.economy.service import KIND_GRANT
from core.errors import UserError
from core.storage.models import Member, table

if TYPE_CHECKING:
    from bot.cop.service import Cop

log = structlog.get_logger(__name__)

PERIODS = ("week", "month", "all")
PERIOD_DAYS = {"week": 7, "month": 30}
#: the economy's system account prizes are paid from
TREASURY = "shop"
PAID, SHORT, EMPTY = "paid", "short", "empty"

_TT = table(CopTournament)


@dataclass(frozen=True)
class Standing:
    member_id: int
    name: str
    runs: int
    wins: int
    best_ms: int


@dataclass(frozen=True)
class Tournament:
    month: str
    standings: list[Standing]
    prizes: list[int]
    #: paid, short, empty, or None while the month runs or before anyone looked
    status: str | None
    note: str = ""


async def leaderboard(cop: Cop, period: str, now: datetime, *, limit: int = 10) -> list[Standing]:
    since = now - timedelta(days=PERIOD_DAYS[period]) if period in PERIOD_DAYS else None
    conditions: list[Any] = [CopEntry.outcome.in_(TIMED), CopEntry.elapsed_ms.is_not(None)]
    if since is not None:
        conditions.append(CopEntry.checkout_at >= since)
    return await _ranked(cop, conditions, by_wins=False, limit=limit)


async def standings(cop: Cop, month: str, *, limit: int = 10) -> list[Standing]:
    start, end = month_bounds(month)
    conditions = [
        CopDrop.kind == GROUP,
        CopDrop.opens_at >= start,
        CopDrop.opens_at < end,
        CopEntry.outcome.in_((WON, SOLD_OUT)),
    ]
    return await _ranked(cop, conditions, by_wins=True, limit=limit)


async def _ranked(cop: Cop, conditions: list[Any], *, by_wins: bool, limit: int) -> list[Standing]:
    wins = func.sum(case((CopEntry.outcome == WON, 1), else_=0))
    best = func.min(CopEntry.elapsed_ms)
    order = [wins.desc(), best, CopEntry.member_id] if by_wins else [best, wins.desc(), CopEntry.member_id]
    query = (
        select(CopEntry.member_id, Member.display_name, func.count(), wins, best)
        .join(CopDrop, CopDrop.id == CopEntry.drop_id)
        .join(Member, Member.id == CopEntry.member_id)
        .where(*conditions)
        .group_by(CopEntry.member_id, Member.display_name)
        .order_by(*order)
        .limit(limit)
    )
    async with cop.db.read() as session:
        rows = (await session.execute(query)).all()
    return [Standing(int(m), str(name), int(runs), int(won or 0), int(fast)) for m, name, runs, won, fast in rows]


async def tournament(cop: Cop, month: str) -> Tournament:
    async with cop.db.read() as session:
        row = await session.get(CopTournament, month)
    prizes = list(cop.settings.tournament_prizes)
    if row is not None and row.status in (PAID, EMPTY):
        stored = [Standing(**{k: v for k, v in item.items() if k != "prize"}) for item in row.standings]
        return Tournament(month, stored, [int(item.get("prize", 0)) for item in row.standings], row.status, row.note)
    return Tournament(month, await standings(cop, month), prizes, row.status if row else None, row.note if row else "")


async def pay(cop: Cop, month: str) -> Tournament:
    """Pay ``month``'s prizes if it is over and not paid yet (idempotent)."""
    now = cop.clock()
    _start, end = month_bounds(month)
    if end > now:
        raise UserError(f"The {month} tournament runs until {end:%Y-%m-%d %H:%M} UTC; prizes are paid after it ends.")
    if not cop.engine.has_service(EconomyRuntime):
        raise UserError("Prizes are paid in LACES, and the economy isn't running on this server.")
    economy = cop.engine.service(EconomyRuntime).economy
    ledger = economy.ledger
    ranked = await standings(cop, month, limit=max(1, len(cop.settings.tournament_prizes)))
    places = list(zip(ranked, cop.settings.tournament_prizes, strict=False))
    treasury = await ledger.system_account(TREASURY)
    wallets = {standing.member_id: await economy.wallet(standing.member_id) for standing, _ in places}
    requests = [
        TransferRequest(
            key=idempotency_key("cop-prize", month, place),
            debit=treasury,
            credit=wallets[standing.member_id],
            amount=prize,
            kind=KIND_GRANT,
            note=f"Cop tournament {month}: place {place}",
            ref=f"cop:{month}",
        )
        for place, (standing, prize) in enumerate(places, start=1)
    ]
    paid_rows = [{**asdict(standing), "prize": prize} for standing, prize in places]

    async def work(conn: AsyncConnection) -> tuple[str, str]:
        await ledger.lock(conn, treasury)  # first, so a second payer waits here and then sees ``paid``
        done = await conn.scalar(select(_TT.c.status).where(_TT.c.month == month))
        if done in (PAID, EMPTY):
            return str(done), ""
        if not requests:
            await _record(conn, cop, month, EMPTY, [], "nobody raced in a group drop", now)
            return EMPTY, ""
        needed = 0
        for request in requests:
            if await ledger.find(conn, request.key) is None:
                needed += request.amount
        balance = await ledger.balance_in(conn, treasury)
        if balance < needed:
            note = f"the treasury holds {balance:,} and the prizes need {needed:,}"
            await _record(conn, cop, month, SHORT, paid_rows, note, now)
            return SHORT, note
        for request in requests:
            if not (await ledger.post(conn, request, now=now)).posted:
                raise LedgerError(f"cop prize {request.key} was refused after the balance check")
        await _record(conn, cop, month, PAID, paid_rows, "", now)
        return PAID, ""

    status, note = await ledger.run(work)
    log.info("cop.tournament", month=month, status=status, note=note)
    return await tournament(cop, month)


async def pay_last_month(cop: Cop) -> None:
    """The sweep's part: settle the month that just ended, once it has."""
    now = cop.clock()
    last = month_of(now.replace(day=1) - timedelta(days=1))
    async with cop.db.read() as session:
        status = await session.scalar(select(CopTournament.status).where(CopTournament.month == last))
    if status in (PAID, EMPTY) or not cop.engine.has_service(EconomyRuntime):
        return
    await pay(cop, last)


async def _record(
    conn: AsyncConnection, cop: Cop, month: str, status: str, rows: list[dict[str, Any]], note: str, now: datetime
) -> None:
    insert = sqlite.insert if cop.db.is_sqlite else postgresql.insert
    values = {"month": month, "status": status, "standings": rows, "note": note[:200], "updated_at": now}
    statement = insert(_TT).values(**values)
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=["month"],
            set_={"status": status, "standings": rows, "note": note[:200], "updated_at": now},
        )
    )
