"""The economy service: member wallets, balances, tips, rule-based earnings and admin grants.

Features never write balances: they publish ``laces.earn`` events and this service turns each into
at most one ledger transfer whose idempotency key comes from the event's source, so a redelivered
event pays nothing twice. Every check that reads the ledger (daily caps, cooldowns) runs inside the
same transaction as the transfer, after the wallet row is locked, so concurrent events cannot both
slip under a cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.economy import format as fmt
from bot.economy.config import EconomySection
from bot.economy.ledger import IdempotencyMismatch, Ledger, TransferRequest, TransferResult, idempotency_key
from bot.economy.models import STATUS_POSTED, Account, AuditEntry, Transfer
from core.errors import BadArgument, NotFound, UserError
from core.storage.models import Member, table
from core.storage.types import utcnow

if TYPE_CHECKING:
    from core.engine import Engine

log = structlog.get_logger(__name__)

EARN_TOPIC = "laces.earn"

KIND_EARN = "earn"
KIND_TIP = "tip"
KIND_GRANT = "grant"
KIND_REVOKE = "revoke"
KIND_PURCHASE = "purchase"
KIND_REFUND = "refund"
KIND_SETTLE = "settle"
KIND_RAFFLE = "raffle"
KIND_MERGE = "merge"
#: kinds a member can filter their history by
HISTORY_KINDS = (KIND_EARN, KIND_TIP, KIND_PURCHASE, KIND_REFUND, KIND_RAFFLE, KIND_GRANT, KIND_REVOKE, KIND_MERGE)
#: incoming kinds that count as "earned" on the weekly and monthly leaderboards
EARNED_KINDS = (KIND_EARN, KIND_TIP, KIND_GRANT)

_T = table(Transfer)
_A = table(Account)
_MAX_MERGE_DEPTH = 8


@dataclass(frozen=True)
class TipResult:
    transfer: TransferResult
    recipient: Member
    balance: int


class Economy:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.db = engine.db
        self.settings = engine.config.get(EconomySection)
        self.ledger = Ledger(engine.db, metrics=engine.metrics)

    @property
    def currency(self) -> str:
        return self.settings.currency

    def money(self, value: int) -> str:
        return fmt.amount(value, self.currency)

    def check_amount(self, value: Any, param: str = "amount") -> int:
        """Whole, positive and not absurd; the same message on every frontend."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadArgument(param, f"{self.currency} come in whole numbers, e.g. `5`")
        if value <= 0:
            raise BadArgument(param, "must be at least 1")
        if value > self.settings.max_amount:
            raise BadArgument(param, f"must be at most {self.settings.max_amount:,}")
        return value

    # ------------------------------------------------------------------ members and wallets

    async def member(self, member_id: int) -> Member:
        """The member behind ``member_id``, following ``/link`` merges to the surviving member."""
        identity = self.engine.identity
        found = await identity.get(member_id)
        for _ in range(_MAX_MERGE_DEPTH):
            if found is None or found.merged_into is None:
                break
            found = await identity.get(found.merged_into)
        if found is None:
            raise NotFound(f"No member #{member_id}.")
        return found

    async def find_member(self, text: str) -> Member:
        found = await self.engine.identity.find_by_handle(text)
        if found is None:
            raise NotFound(f"No member called `{text.strip()[:40]}`. Use an @mention, their @name or #id.")
        return await self.member(found.id)

    async def wallet(self, member_id: int) -> int:
        """The wallet of the surviving member; balances of accounts merged into it are swept in first."""
        survivor = await self.member(member_id)
        wallet = await self.ledger.wallet(survivor.id)
        await self._absorb_merged(survivor.id, wallet)
        return wallet

    async def _absorb_merged(self, survivor_id: int, wallet: int) -> None:
        """Move what a member had before ``/link`` folded them into ``survivor_id``. The key names the
        absorbed wallet's last entry, so a racing sweep of the same state moves it only once."""
        parents = {survivor_id}
        for _ in range(_MAX_MERGE_DEPTH):
            async with self.db.read() as session:
                merged = (await session.execute(select(Member.id).where(Member.merged_into.in_(parents)))).scalars()
                merged_ids = set(merged)
                if not merged_ids:
                    return
                rows = (
                    await session.execute(
                        select(_A.c.id, _A.c.balance).where(_A.c.member_id.in_(merged_ids), _A.c.balance > 0)
                    )
                ).all()
                sweeps = []
                for account_id, balance in rows:
                    last = await session.scalar(
                        select(func.max(_T.c.id)).where(
                            or_(_T.c.debit_account_id == account_id, _T.c.credit_account_id == account_id)
                        )
                    )
                    sweeps.append((account_id, int(balance), last))
            for account_id, balance, last in sweeps:
                await self.ledger.transfer(
                    TransferRequest(
                        key=idempotency_key("merge", account_id, last),
                        debit=account_id,
                        credit=wallet,
                        amount=balance,
                        kind=KIND_MERGE,
                        note="accounts linked with /link",
                    )
                )
            parents = merged_ids

    async def balance(self, member_id: int) -> int:
        return await self.ledger.balance(await self.wallet(member_id))

    # ------------------------------------------------------------------ tips

    async def tip(self, sender: Member, recipient: Member, amount: int, note: str, key: str) -> TipResult:
        """Move ``amount`` from sender to recipient, once per ``key``. Refusals move nothing."""
        amount = self.check_amount(amount)
        if recipient.id == sender.id:
            raise UserError("You can't tip yourself. Tip someone whose post helped you.")
        if recipient.is_bot:
            raise UserError(f"Bots can't hold {self.currency}. Tip the member who helped you.")
        if sender.is_bot:
            raise UserError(f"Bots can't send {self.currency}.")
        source = await self.wallet(sender.id)
        target = await self.wallet(recipient.id)
        cooldown = timedelta(seconds=self.settings.tip_pair_cooldown_seconds)
        request = TransferRequest(
            key=key, debit=source, credit=target, amount=amount, kind=KIND_TIP, note=note[:200], actor_id=sender.id
        )

        async def work(conn: AsyncConnection) -> TransferResult:
            earlier = await self.ledger.find(conn, key)
            if earlier is not None:
                _same_tip(earlier, request)
                return earlier
            await self.ledger.lock(conn, source, target)
            if cooldown:
                last = await conn.scalar(
                    select(func.max(_T.c.created_at)).where(
                        _T.c.debit_account_id == source,
                        _T.c.credit_account_id == target,
                        _T.c.kind == KIND_TIP,
                        _T.c.status == STATUS_POSTED,
                    )
                )
                if last is not None:
                    wait = _aware(last) + cooldown - utcnow()
                    if wait > timedelta(0):
                        raise UserError(
                            f"You tipped {recipient.display_name} recently. "
                            f"You can tip them again in {fmt.duration(wait)}."
                        )
            return await self.ledger.post(conn, request)

        result = await self.ledger.run(work)
        balance = await self.ledger.balance(source)
        if not result.posted:
            raise UserError(
                f"Not enough {self.currency}: you have {self.money(balance)} "
                f"and the tip is {self.money(result.amount)}."
            )
        return TipResult(result, recipient, balance)

    # ------------------------------------------------------------------ earnings

    async def on_earn_event(self, _topic: str, payload: dict[str, Any]) -> None:
        """``laces.earn`` events: ``{"kind": ..., "member_id": ..., "source_id": ..., "note": ...}``."""
        kind, member_id, source_id = payload.get("kind"), payload.get("member_id"), payload.get("source_id")
        if not isinstance(kind, str) or not isinstance(member_id, int) or source_id in (None, ""):
            log.warning("economy.earn_event_malformed", payload=payload)
            return
        await self.earn(kind, member_id, str(source_id), note=str(payload.get("note") or ""))

    async def earn(self, kind: str, member_id: int, source_id: str, *, note: str = "") -> TransferResult | None:
        """Pay ``member_id`` for one event of ``kind`` per its rule, once per source. A refusal by a
        rule (cap, cooldown, account age) is recorded so a redelivered event gets the same answer."""
        rule = self.settings.earn.get(kind)
        if rule is None:
            log.warning("economy.earn_unknown_kind", kind=kind, member_id=member_id)
            return None
        try:
            member = await self.member(member_id)
        except NotFound:
            log.warning("economy.earn_unknown_member", kind=kind, member_id=member_id)
            return None
        wallet = await self.wallet(member.id)
        mint = await self.ledger.system_account("mint")
        key = idempotency_key("earn", kind, source_id, member_id)
        min_age = timedelta(days=self.settings.min_account_age_days)

        async def work(conn: AsyncConnection) -> TransferResult:
            earlier = await self.ledger.find(conn, key)
            if earlier is not None:
                return earlier
            await self.ledger.lock(conn, wallet)
            now = utcnow()
            amount, reason = rule.amount, None
            if member.is_bot:
                reason = "bot_account"
            elif now - _aware(member.created_at) < min_age:
                reason = "account_too_new"
            else:
                mine = (_T.c.credit_account_id == wallet, _T.c.kind == KIND_EARN, _T.c.ref == kind)
                posted = _T.c.status == STATUS_POSTED
                if rule.cooldown_seconds:
                    last = await conn.scalar(select(func.max(_T.c.created_at)).where(*mine, posted))
                    if last is not None and now - _aware(last) < timedelta(seconds=rule.cooldown_seconds):
                        reason = "cooldown"
                if reason is None and rule.daily_cap:
                    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
                    earned = func.coalesce(func.sum(_T.c.amount), 0)
                    today = await conn.scalar(select(earned).where(*mine, posted, _T.c.created_at >= midnight))
                    amount = min(amount, rule.daily_cap - int(today or 0))
                    if amount <= 0:
                        amount, reason = rule.amount, "daily_cap"
            request = TransferRequest(
                key=key, debit=mint, credit=wallet, amount=amount, kind=KIND_EARN, note=note[:200], ref=kind[:64]
            )
            if reason is not None:
                return await self.ledger.record_rejection(conn, request, reason, now=now)
            return await self.ledger.post(conn, request, now=now)

        result = await self.ledger.run(work)
        log.info(
            "economy.earn",
            kind=kind,
            member_id=member.id,
            status=result.status,
            reason=result.reason,
            amount=result.amount,
            replayed=result.replayed,
        )
        return result

    # ------------------------------------------------------------------ admin

    async def adjust(self, actor: Member, member: Member, amount: int, reason: str, key: str, *, grant: bool) -> int:
        """``/admin grant`` (mint → wallet) or ``/admin revoke`` (wallet → mint), audited in the same
        transaction. Returns the member's new balance."""
        amount = self.check_amount(amount)
        reason = reason.strip()
        if len(reason) < 3:
            raise BadArgument("reason", "say why, in a few words: it goes in the audit log")
        if member.is_bot:
            raise UserError(f"Bots can't hold {self.currency}.")
        wallet = await self.wallet(member.id)
        mint = await self.ledger.system_account("mint")
        action = KIND_GRANT if grant else KIND_REVOKE
        request = TransferRequest(
            key=key,
            debit=mint if grant else wallet,
            credit=wallet if grant else mint,
            amount=amount,
            kind=action,
            note=reason[:200],
            actor_id=actor.id,
        )

        async def work(conn: AsyncConnection) -> TransferResult:
            result = await self.ledger.post(conn, request)
            if not result.posted:
                balance = await self.ledger.balance_in(conn, wallet)
                raise UserError(
                    f"{member.display_name} has only {self.money(balance)}; can't revoke {self.money(amount)}."
                )
            if not result.replayed:
                await audit(conn, actor.id, action, reason, member_id=member.id, amount=amount, transfer_id=result.id)
            return result

        await self.ledger.run(work)
        return await self.ledger.balance(wallet)


async def audit(
    conn: AsyncConnection,
    actor_id: int,
    action: str,
    reason: str,
    *,
    member_id: int | None = None,
    amount: int | None = None,
    transfer_id: int | None = None,
) -> None:
    """Write one audit-log line inside the caller's transaction."""
    await conn.execute(
        insert(table(AuditEntry)).values(
            actor_id=actor_id,
            action=action,
            member_id=member_id,
            amount=amount,
            reason=reason[:200],
            transfer_id=transfer_id,
            created_at=utcnow(),
        )
    )


def _same_tip(earlier: TransferResult, request: TransferRequest) -> None:
    """A key already answered is this tip replayed only if it moved the same amount between the
    same wallets as a tip; anything else is another transfer's key, refused as ``Ledger`` does."""
    same = (earlier.kind, earlier.debit, earlier.credit, earlier.amount) == (
        request.kind,
        request.debit,
        request.credit,
        request.amount,
    )
    if not same:
        raise IdempotencyMismatch(f"idempotency key {request.key!r} was already used for a different transfer")


def _aware(when: datetime) -> datetime:
    """Treat a naive time read back from the database as the UTC it was stored as."""
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
