"""Provably fair raffles: open, enter, close and draw.

When a raffle opens, the bot picks a secret 32-byte seed and publishes ``sha256(seed_hex)``. Entries
freeze at the end time, and nobody (an admin included) can draw before it. The close, at the first
draw attempt after the end time, commits the digest of the sorted entrant list; the winners are then
``bot.economy.fairness.draw_winners`` of the seed and that list, and the seed is revealed with them
so any member can recompute the draw (``/raffle verify``). With ``[economy] raffle_beacon`` set, the
raffle also fixes at creation a drand round due a minute after its end time, and the draw waits for
that round and mixes its randomness in (``bot.economy.beacon``). The README's "Raffles are provably
fair" says what this does and does not protect against.

The entry fee goes to the raffle pot and, at the draw, from the pot to the shop.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.economy import format as fmt
from bot.economy.beacon import CLOSE_MARGIN, Beacon, BeaconError
from bot.economy.fairness import (
    DRAW_BEACON,
    DRAW_HMAC,
    Check,
    check_draw,
    draw_winners,
    entrants_digest,
    seed_hash,
)
from bot.economy.ledger import LedgerError, TransferRequest, idempotency_key
from bot.economy.models import STATUS_POSTED, Raffle, RaffleEntry, Transfer
from bot.economy.service import KIND_RAFFLE, KIND_SETTLE, Economy, audit
from core.errors import NotFound, UserError
from core.replies import Reply, ReplyField
from core.storage.models import Member, table
from core.storage.types import utcnow

log = structlog.get_logger(__name__)

_R = table(Raffle)
_RE = table(RaffleEntry)
_T = table(Transfer)
#: how long after its beacon round is due a waiting raffle tries again
BEACON_RETRY = timedelta(seconds=5)


@dataclass(frozen=True)
class RaffleView:
    id: int
    prize: str
    cost: int
    winners: int
    seed_hash: str
    status: str
    ends_at: datetime
    entrants: int
    seed: str | None
    result: dict[str, Any] | None
    closed_at: datetime | None = None
    entrants_digest: str | None = None
    draw_rule: int = DRAW_HMAC
    beacon_url: str | None = None
    beacon_round: int | None = None
    beacon_at: datetime | None = None
    beacon_randomness: str | None = None


class RaffleWaiting(UserError):
    """Closed, and waiting for its beacon round: it draws by itself once the round is out."""

    def __init__(self, message: str, due: datetime) -> None:
        super().__init__(message)
        self.due = due


class Raffles:
    def __init__(self, economy: Economy) -> None:
        self.economy = economy
        self.ledger = economy.ledger

    async def create(self, actor: Member, prize: str, cost: int, ends_at: datetime, winners: int) -> RaffleView:
        cost = self.economy.check_amount(cost, "cost")
        seed = secrets.token_hex(32)
        beacon = await self._beacon_for(ends_at)

        async def work(conn: AsyncConnection) -> int:
            inserted = await conn.execute(
                insert(_R)
                .values(
                    prize=prize.strip()[:100],
                    cost=cost,
                    winners=winners,
                    seed_hash=seed_hash(seed),
                    seed=seed,
                    status="open",
                    draw_rule=DRAW_HMAC if beacon is None else DRAW_BEACON,
                    ends_at=ends_at,
                    **({} if beacon is None else beacon),
                    created_by=actor.id,
                    created_at=utcnow(),
                )
                .returning(_R.c.id)
            )
            raffle_id = int(inserted.scalar_one())
            await audit(conn, actor.id, "raffle_create", f"raffle #{raffle_id}: {prize[:150]}", amount=cost)
            return raffle_id

        raffle = await self.get(await self.ledger.run(work))
        self.schedule(raffle.id, raffle.ends_at)
        await self._announce(
            Reply(
                title=f"🎟️ Raffle #{raffle.id} is open: {raffle.prize}",
                text=(
                    f"Enter with `/raffle enter {raffle.id}` for {self.economy.money(raffle.cost)}. "
                    f"Entries close and the draw runs at {fmt.day(raffle.ends_at)} UTC, "
                    f"{fmt.count(raffle.winners, 'winner')}."
                ),
                fields=[
                    ReplyField(name="Seed commitment (sha256)", value=f"`{raffle.seed_hash}`", inline=False),
                    *beacon_fields(raffle),
                ],
                footer=f"The seed is revealed at the draw: check it with `/raffle verify {raffle.id}`.",
            )
        )
        return raffle

    async def _beacon_for(self, ends_at: datetime) -> dict[str, Any] | None:
        """The beacon round this raffle will mix in: the first published after the close margin."""
        url = self.economy.settings.raffle_beacon
        if not url:
            return None
        beacon = Beacon(url)
        try:
            chain = await beacon.info()
        except BeaconError as exc:
            log.warning("economy.beacon_unreachable", url=url, why=str(exc))
            raise UserError(
                f"The randomness beacon ({url}) doesn't answer right now, and raffles here draw with it: "
                "try again in a minute."
            ) from None
        round_ = chain.first_round_after(ends_at + CLOSE_MARGIN)
        return {"beacon_url": beacon.url, "beacon_round": round_, "beacon_at": chain.time_of(round_)}

    def schedule(self, raffle_id: int, when: datetime) -> None:
        async def job() -> None:
            try:
                await self.draw(raffle_id)
            except RaffleWaiting as exc:
                self.schedule(raffle_id, exc.due)
            except UserError as exc:  # woke a moment early: the periodic sweep draws it
                log.info("economy.raffle_not_due", raffle=raffle_id, why=str(exc))

        self.economy.engine.scheduler.once(f"economy.raffle.{raffle_id}", when, job)

    async def enter(self, member: Member, raffle_id: int | None, key: str) -> RaffleView:
        if member.is_bot:
            raise UserError("Bots can't enter raffles.")
        raffle = await self._pick(raffle_id)
        wallet = await self.economy.wallet(member.id)
        pot = await self.ledger.system_account("raffle_pot")
        fee = TransferRequest(
            key=key,
            debit=wallet,
            credit=pot,
            amount=raffle.cost,
            kind=KIND_RAFFLE,
            note=f"entry to raffle #{raffle.id}: {raffle.prize}"[:200],
            ref=f"raffle:{raffle.id}",
            actor_id=member.id,
        )

        async def work(conn: AsyncConnection) -> None:
            status, ends_at = (
                await conn.execute(select(_R.c.status, _R.c.ends_at).where(_R.c.id == raffle.id).with_for_update())
            ).one()
            if status != "open" or ends_at <= utcnow():
                raise UserError(f"Raffle #{raffle.id} is closed.")
            taken = await conn.scalar(
                select(_RE.c.id).where(_RE.c.raffle_id == raffle.id, _RE.c.member_id == member.id)
            )
            if taken is not None:
                raise UserError(f"You're already in raffle #{raffle.id}. Good luck!")
            result = await self.ledger.post(conn, fee)
            if not result.posted:
                balance = await self.ledger.balance_in(conn, wallet)
                raise UserError(
                    f"Not enough {self.economy.currency}: entry costs {self.economy.money(raffle.cost)} "
                    f"and you have {self.economy.money(balance)}."
                )
            await conn.execute(
                insert(_RE).values(raffle_id=raffle.id, member_id=member.id, transfer_id=result.id, created_at=utcnow())
            )

        try:
            await self.ledger.run(work)
        except IntegrityError:
            raise UserError(f"You're already in raffle #{raffle.id}. Good luck!") from None
        return await self.get(raffle.id)

    async def draw(self, raffle_id: int) -> RaffleView:
        """Close the raffle (freeze and commit the entrant list), wait for its beacon round if it has
        one, then pick the winners, move the pot to the shop and announce. Refused before the end
        time; runs once."""
        closed = await self._close(raffle_id)
        if closed is None:
            return await self.get(raffle_id)
        randomness = await self._beacon_value(closed) if closed.draw_rule == DRAW_BEACON else None
        pot = await self.ledger.system_account("raffle_pot")
        shop = await self.ledger.system_account("shop")

        async def work(conn: AsyncConnection) -> bool:
            when = utcnow()
            row = (await conn.execute(select(_R).where(_R.c.id == raffle_id).with_for_update())).one()
            if row.status != "open":
                return False
            fees = (
                await conn.execute(
                    select(_T.c.amount)
                    .select_from(_RE.join(_T, (_T.c.id == _RE.c.transfer_id) & (_T.c.status == STATUS_POSTED)))
                    .where(_RE.c.raffle_id == raffle_id)
                )
            ).scalars()
            takings = sum(int(fee) for fee in fees)
            entrants = [int(member) for member in (row.result or {}).get("entrants", [])]
            digest = entrants_digest(entrants)
            if digest != row.entrants_digest:
                raise LedgerError(f"raffle #{raffle_id}: the stored entrant list doesn't match its committed digest")
            winners = draw_winners(row.draw_rule, raffle_id, row.seed, entrants, row.winners, randomness)
            if takings:
                settle = TransferRequest(
                    key=idempotency_key("raffle", raffle_id, "settle"),
                    debit=pot,
                    credit=shop,
                    amount=takings,
                    kind=KIND_SETTLE,
                    note=f"raffle #{raffle_id} drawn",
                    ref=f"raffle:{raffle_id}",
                )
                if not (await self.ledger.post(conn, settle, now=when)).posted:
                    raise LedgerError(f"raffle pot could not pay out raffle #{raffle_id}")
            result = {"entrants": entrants, "digest": digest, "winners": winners}
            await conn.execute(
                update(_R)
                .where(_R.c.id == raffle_id)
                .values(status="drawn", drawn_at=when, beacon_randomness=randomness, result=result)
            )
            return True

        drew = await self.ledger.run(work)
        raffle = await self.get(raffle_id)
        if drew:
            log.info("economy.raffle_drawn", raffle=raffle_id, winners=(raffle.result or {}).get("winners"))
            await self._announce(await self.draw_reply(raffle))
        return raffle

    async def _close(self, raffle_id: int) -> RaffleView | None:
        """Freeze the entrant list and commit its digest, once, no earlier than the end time; None if
        the raffle is already drawn. A beacon raffle announces its digest before its round is out."""

        async def work(conn: AsyncConnection) -> bool | None:
            when = utcnow()
            row = (await conn.execute(select(_R).where(_R.c.id == raffle_id).with_for_update())).first()
            if row is None:
                raise NotFound(f"No raffle #{raffle_id}. See `/raffle list`.")
            if row.status != "open":
                return None
            if row.ends_at > when:
                raise UserError(
                    f"Raffle #{raffle_id} draws at {fmt.day(row.ends_at)} UTC: entries are open until then, "
                    "and nobody can draw it early."
                )
            if row.closed_at is not None:
                return False
            recorded = (await conn.execute(select(_RE.c.member_id).where(_RE.c.raffle_id == raffle_id))).scalars()
            entrants = sorted(set(recorded))
            digest = entrants_digest(entrants)
            frozen = {"entrants": entrants, "digest": digest}  # /link may move entries later; the list stays
            await conn.execute(
                update(_R).where(_R.c.id == raffle_id).values(closed_at=when, entrants_digest=digest, result=frozen)
            )
            return True

        closed_now = await self.ledger.run(work)
        if closed_now is None:
            return None
        raffle = await self.get(raffle_id)
        if closed_now and raffle.draw_rule == DRAW_BEACON:
            await self._announce(
                Reply(
                    title=f"🔒 Raffle #{raffle.id} entries closed: {raffle.prize}",
                    text=(
                        f"{fmt.count(raffle.entrants, 'entrant')}. The draw mixes in beacon round "
                        f"{raffle.beacon_round}, published after this post."
                    ),
                    fields=[
                        ReplyField(name="Entrants digest", value=f"`{raffle.entrants_digest}`", inline=False),
                        *beacon_fields(raffle),
                    ],
                )
            )
        return raffle

    async def _beacon_value(self, raffle: RaffleView) -> str:
        if raffle.beacon_url is None or raffle.beacon_round is None or raffle.beacon_at is None:
            raise LedgerError(f"raffle #{raffle.id} draws with a beacon but has no round")
        waiting = RaffleWaiting(
            f"Raffle #{raffle.id} is closed and waits for beacon round {raffle.beacon_round} "
            f"(due {fmt.day(raffle.beacon_at)} UTC); it draws by itself once the round is out.",
            max(raffle.beacon_at, utcnow()) + BEACON_RETRY,
        )
        try:
            value = await Beacon(raffle.beacon_url).randomness(raffle.beacon_round)
        except BeaconError as exc:
            log.warning("economy.beacon_unreachable", raffle=raffle.id, why=str(exc))
            raise waiting from None
        if value is None:
            raise waiting
        return value

    async def draw_due(self) -> int:
        """Draw every open raffle whose end time has passed (the periodic sweep)."""
        async with self.economy.db.read() as session:
            due = list(
                (
                    await session.execute(select(_R.c.id).where(_R.c.status == "open", _R.c.ends_at <= utcnow()))
                ).scalars()
            )
        drawn = 0
        for raffle_id in due:
            try:
                drawn += (await self.draw(raffle_id)).status == "drawn"
            except RaffleWaiting as exc:
                log.info("economy.raffle_waiting", raffle=raffle_id, why=str(exc))
        return drawn

    async def reschedule_open(self) -> None:
        """Re-register the draw job of every open raffle (the scheduler keeps jobs in memory only)."""
        async with self.economy.db.read() as session:
            rows = (await session.execute(select(_R.c.id, _R.c.ends_at).where(_R.c.status == "open"))).all()
        for raffle_id, ends_at in rows:
            self.schedule(raffle_id, ends_at)

    async def draw_reply(self, raffle: RaffleView) -> Reply:
        result = raffle.result or {}
        winner_ids: list[int] = list(result.get("winners", []))
        names = await self._names(winner_ids)
        shown = ", ".join(f"**{names.get(w, '?')}** (#{w})" for w in winner_ids) or "nobody entered"
        entrants = ",".join(str(e) for e in result.get("entrants", []))
        return Reply(
            title=f"🎉 Raffle #{raffle.id} drawn: {raffle.prize}",
            text=f"{'Winner' if len(winner_ids) == 1 else 'Winners'}: {shown}",
            fields=[
                ReplyField(name="Seed", value=f"`{raffle.seed}`", inline=False),
                ReplyField(name="Seed commitment (sha256)", value=f"`{raffle.seed_hash}`", inline=False),
                ReplyField(name="Entrants (member ids)", value=fmt_clip(entrants or "none"), inline=False),
                ReplyField(name="Entrants digest", value=f"`{result.get('digest', '')}`", inline=False),
            ],
            footer=f"Check it: `/raffle verify {raffle.id}` recomputes the winners from these values.",
        )

    async def verify(self, raffle_id: int) -> tuple[RaffleView, list[Check]]:
        """Recompute a drawn raffle from its published values, plus the one check only the bot can
        make: that the published entrant list is every entry on record. Before the draw: no checks."""
        raffle = await self.get(raffle_id)
        result = raffle.result or {}
        if raffle.status != "drawn" or raffle.seed is None:
            return raffle, []
        entrants = [int(member) for member in result.get("entrants", [])]
        digest = str(result.get("digest", ""))
        checks = check_draw(
            rule=raffle.draw_rule,
            raffle_id=raffle.id,
            seed_hex=raffle.seed,
            commitment=raffle.seed_hash,
            entrants=entrants,
            digest=digest,
            winners=[int(member) for member in result.get("winners", [])],
            count=raffle.winners,
            beacon=raffle.beacon_randomness,
        )
        async with self.economy.db.read() as session:
            recorded = (await session.execute(select(_RE.c.member_id).where(_RE.c.raffle_id == raffle_id))).scalars()
            on_record = set(recorded)
        survivors = await self._survivors(on_record | set(entrants))
        same = {survivors[m] for m in on_record} == {survivors[m] for m in entrants}
        checks.append(Check("the entrant list is every entry on record (accounts linked since count as one)", same))
        if raffle.entrants_digest is not None:
            checks.append(Check("the digest is the one committed at the close", raffle.entrants_digest == digest))
        if raffle.beacon_at is not None and raffle.closed_at is not None:
            in_time = raffle.closed_at < raffle.beacon_at
            checks.append(Check("the entries closed before the beacon round came out", in_time))
        return raffle, checks

    async def _survivors(self, member_ids: set[int]) -> dict[int, int]:
        """Each member id mapped to the member it was folded into by ``/link`` (itself if none)."""
        return {member_id: (await self.economy.member(member_id)).id for member_id in member_ids}

    async def get(self, raffle_id: int) -> RaffleView:
        async with self.economy.db.read() as session:
            row = (await session.execute(select(_R).where(_R.c.id == raffle_id))).first()
            if row is None:
                raise NotFound(f"No raffle #{raffle_id}. See `/raffle list`.")
            entrants = len((await session.execute(select(_RE.c.id).where(_RE.c.raffle_id == raffle_id))).all())
        return RaffleView(
            id=row.id,
            prize=row.prize,
            cost=row.cost,
            winners=row.winners,
            seed_hash=row.seed_hash,
            status=row.status,
            ends_at=row.ends_at,
            entrants=entrants,
            seed=row.seed if row.status == "drawn" else None,
            result=row.result,
            closed_at=row.closed_at,
            entrants_digest=row.entrants_digest,
            draw_rule=row.draw_rule,
            beacon_url=row.beacon_url,
            beacon_round=row.beacon_round,
            beacon_at=row.beacon_at,
            beacon_randomness=row.beacon_randomness,
        )

    async def recent(self, limit: int = 10) -> list[RaffleView]:
        async with self.economy.db.read() as session:
            ids = list((await session.execute(select(_R.c.id).order_by(_R.c.id.desc()).limit(limit))).scalars())
        return [await self.get(raffle_id) for raffle_id in ids]

    async def _pick(self, raffle_id: int | None) -> RaffleView:
        if raffle_id is not None:
            return await self.get(raffle_id)
        async with self.economy.db.read() as session:
            open_ids = list((await session.execute(select(_R.c.id).where(_R.c.status == "open"))).scalars())
        if not open_ids:
            raise UserError("No raffle is open right now.")
        if len(open_ids) > 1:
            listed = ", ".join(f"#{i}" for i in open_ids[:10])
            raise UserError(f"Several raffles are open ({listed}): say which, e.g. `/raffle enter {open_ids[0]}`.")
        return await self.get(open_ids[0])

    async def _names(self, member_ids: list[int]) -> dict[int, str]:
        async with self.economy.db.read() as session:
            rows = await session.execute(select(Member.id, Member.display_name).where(Member.id.in_(member_ids)))
            return {member_id: name for member_id, name in rows}

    async def _announce(self, reply: Reply) -> None:
        try:
            await self.economy.engine.feeds.publish(self.economy.settings.raffle_feed, reply)
        except UserError:
            log.warning("economy.raffle_feed_missing", feed=self.economy.settings.raffle_feed)


def beacon_fields(raffle: RaffleView) -> list[ReplyField]:
    """Where anyone can fetch the beacon round the draw mixes in (none for raffles without one)."""
    if raffle.beacon_url is None or raffle.beacon_round is None or raffle.beacon_at is None:
        return []
    where = f"{raffle.beacon_url}/public/{raffle.beacon_round}"
    value = f"round {raffle.beacon_round}, due {fmt.day(raffle.beacon_at)} UTC: {where}"
    return [ReplyField(name="Randomness beacon (drand)", value=value, inline=False)]


def fmt_clip(text: str, limit: int = 900) -> str:
    return text if len(text) <= limit else text[: limit - 20] + f"… ({text.count(',') + 1} in all)"
