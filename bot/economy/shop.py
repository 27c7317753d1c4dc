"""The shop: items, purchases through escrow, automatic refunds, and expiring entitlements.

A purchase is three ledger steps, each idempotent: the charge moves the price from the buyer to
escrow (one key per click of a buy button, so a double click buys once), then either the settle
moves it from escrow to the shop once the item is delivered, or the refund moves it back to the
buyer. The purchase row changes state in the same transaction as each step, so the escrow account
always holds exactly the price of the purchases still pending, and ``snpd ledger verify`` checks it.
A purchase left pending by a crash is finished by the periodic sweep.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from rapidfuzz import process
from sqlalchemy import and_, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.economy.fulfilment import Fulfilment, FulfilmentError, Item, PurchaseView
from bot.economy.ledger import LedgerError, TransferRequest, TransferResult, idempotency_key
from bot.economy.models import Entitlement, Purchase, ShopItem
from bot.economy.service import KIND_PURCHASE, KIND_REFUND, KIND_SETTLE, Economy, audit
from core.errors import BadArgument, NotFound, UserError
from core.storage.models import Member, table
from core.storage.types import utcnow

log = structlog.get_logger(__name__)

_P = table(Purchase)
_E = table(Entitlement)
_I = table(ShopItem)


@dataclass(frozen=True)
class BuyOutcome:
    purchase: PurchaseView
    #: the key had been used: this click bought nothing new
    replayed: bool


class Shop:
    def __init__(self, economy: Economy, fulfilment: Fulfilment) -> None:
        self.economy = economy
        self.ledger = economy.ledger
        self.fulfilment = fulfilment

    # ------------------------------------------------------------------ items

    async def items(self) -> list[Item]:
        configured = [
            Item(i.sku, i.name, i.kind, i.price, i.value, i.days, "config") for i in self.economy.settings.shop
        ]
        async with self.economy.db.read() as session:
            rows = (await session.execute(select(ShopItem).where(ShopItem.active.is_(True)))).scalars()
            added = [Item(r.sku, r.name, r.kind, r.price, r.value, r.days, "admin") for r in rows]
        taken = {item.sku for item in configured}
        return sorted(configured + [i for i in added if i.sku not in taken], key=lambda i: (i.price, i.sku))

    async def find(self, text: str) -> Item:
        wanted = text.strip().lower()
        items = await self.items()
        for item in items:
            if wanted in (item.sku, item.name.lower()):
                return item
        names = {item.sku: item for item in items} | {item.name.lower(): item for item in items}
        match = process.extractOne(wanted, list(names), score_cutoff=70)
        hint = f" Did you mean `{names[match[0]].sku}`?" if match else " See `/shop list`."
        raise NotFound(f"No item `{text.strip()[:40]}` in the shop.{hint}")

    async def add(
        self, actor: Member, sku: str, name: str, kind: str, price: int, value: str, days: int | None
    ) -> Item:
        price = self.economy.check_amount(price, "price")
        sku = sku.strip().lower()
        if not sku.replace("-", "").isalnum() or not sku[0].isalnum() or len(sku) > 24:
            raise BadArgument("sku", "1-24 letters, digits or dashes, e.g. `og-role`")
        if sku in {item.sku for item in self.economy.settings.shop}:
            raise UserError(f"`{sku}` is defined in bot.toml; pick another sku.")
        item = Item(sku, name.strip(), kind, price, value.strip(), days, "admin")
        _check_item_value(item)
        if kind == "role" and int(item.value) not in self.economy.settings.grantable_roles():
            raise BadArgument(
                "value",
                f"role {item.value} is not one the shop may give: an operator must add it to "
                "`[economy] grantable_role_ids` in bot.toml first",
            )
        if kind == "premium_feed":
            self.economy.engine.feeds.check_name(item.value)
        if kind == "raffle_entry":
            await self.fulfilment.check_raffle(item.value)

        async def work(conn: AsyncConnection) -> None:
            await conn.execute(
                insert(_I).values(
                    sku=item.sku,
                    name=item.name,
                    kind=item.kind,
                    price=item.price,
                    value=item.value,
                    days=item.days,
                    active=True,
                    created_by=actor.id,
                    created_at=utcnow(),
                )
            )
            await audit(conn, actor.id, "shop_add", f"{item.sku}: {item.name} for {item.price}", amount=item.price)

        try:
            await self.ledger.run(work)
        except IntegrityError:
            raise UserError(f"There is already an item `{sku}`.") from None
        return item

    # ------------------------------------------------------------------ buying

    async def buy(self, member: Member, item: Item, key: str) -> BuyOutcome:
        """Charge once per ``key``, then deliver; a failed delivery is refunded before this returns."""
        if member.is_bot:
            raise UserError(f"Bots can't spend {self.economy.currency}.")
        existing = await self.purchase_by_key(key)
        if existing is not None:
            return BuyOutcome(existing, replayed=True)
        await self.fulfilment.precheck(member.id, item)
        wallet = await self.economy.wallet(member.id)
        escrow = await self.ledger.system_account("escrow")
        charge = TransferRequest(
            key=key,
            debit=wallet,
            credit=escrow,
            amount=item.price,
            kind=KIND_PURCHASE,
            note=item.name,
            ref=item.sku,
            actor_id=member.id,
        )

        async def work(conn: AsyncConnection) -> tuple[TransferResult, int | None]:
            result = await self.ledger.post(conn, charge)
            if result.replayed:
                found = await conn.scalar(select(_P.c.id).where(_P.c.key == key))
                return result, found
            if not result.posted:
                return result, None
            now = utcnow()
            inserted = await conn.execute(
                insert(_P)
                .values(
                    key=key,
                    member_id=member.id,
                    sku=item.sku,
                    item_name=item.name,
                    kind=item.kind,
                    value=item.value,
                    days=item.days,
                    price=item.price,
                    status="pending",
                    charge_transfer_id=result.id,
                    created_at=now,
                    updated_at=now,
                )
                .returning(_P.c.id)
            )
            return result, inserted.scalar_one()

        result, purchase_id = await self.ledger.run(work)
        if not result.posted:
            balance = await self.ledger.balance(wallet)
            raise UserError(
                f"Not enough {self.economy.currency} for {item.name}: it costs {self.economy.money(item.price)} "
                f"and you have {self.economy.money(balance)}."
            )
        if purchase_id is None:
            raise LedgerError(f"charge {key!r} posted without a purchase")
        if result.replayed:
            return BuyOutcome(await self._load(purchase_id), replayed=True)
        return BuyOutcome(await self.complete(purchase_id), replayed=False)

    async def complete(self, purchase_id: int) -> PurchaseView:
        """Deliver a pending purchase and settle it, or refund it. Safe to call twice, even at once."""
        purchase = await self._load(purchase_id)
        if purchase.status != "pending":
            return purchase
        try:
            await self.fulfilment.deliver(purchase)
        except FulfilmentError as exc:
            return await self._refund(purchase, str(exc))
        except Exception:
            log.exception("economy.delivery_crashed", purchase=purchase.id)
            return await self._refund(purchase, "the shop could not deliver it")
        try:
            return await self._settle(purchase)
        except FulfilmentError as exc:
            await self.fulfilment.undo(purchase)
            return await self._refund(purchase, str(exc))

    async def _settle(self, purchase: PurchaseView) -> PurchaseView:
        escrow = await self.ledger.system_account("escrow")
        shop = await self.ledger.system_account("shop")

        async def work(conn: AsyncConnection) -> None:
            now = utcnow()
            if not await _claim_state(conn, purchase.id, "fulfilled", None, now):
                return
            await self.fulfilment.apply(conn, purchase, now)
            settle = TransferRequest(
                key=idempotency_key(purchase.key, "settle"),
                debit=escrow,
                credit=shop,
                amount=purchase.price,
                kind=KIND_SETTLE,
                note=purchase.item_name,
                ref=purchase.sku,
            )
            if not (await self.ledger.post(conn, settle, now=now)).posted:
                raise LedgerError(f"escrow could not pay purchase #{purchase.id}")

        await self.ledger.run(work)
        return await self._load(purchase.id)

    async def _refund(self, purchase: PurchaseView, why: str) -> PurchaseView:
        wallet = await self.economy.wallet(purchase.member_id)
        escrow = await self.ledger.system_account("escrow")

        async def work(conn: AsyncConnection) -> None:
            now = utcnow()
            if not await _claim_state(conn, purchase.id, "refunded", why[:200], now):
                return
            refund = TransferRequest(
                key=idempotency_key(purchase.key, "refund"),
                debit=escrow,
                credit=wallet,
                amount=purchase.price,
                kind=KIND_REFUND,
                note=f"{purchase.item_name}: {why}"[:200],
                ref=purchase.sku,
            )
            if not (await self.ledger.post(conn, refund, now=now)).posted:
                raise LedgerError(f"escrow could not refund purchase #{purchase.id}")

        await self.ledger.run(work)
        log.info("economy.refunded", purchase=purchase.id, why=why)
        return await self._load(purchase.id)

    async def recover(self, *, older_than: timedelta = timedelta(minutes=2)) -> int:
        """Finish purchases a crash left pending (charged, neither settled nor refunded)."""
        cutoff = utcnow() - older_than
        async with self.economy.db.read() as session:
            stuck = list(
                (
                    await session.execute(
                        select(_P.c.id).where(_P.c.status == "pending", _P.c.created_at <= cutoff).limit(100)
                    )
                ).scalars()
            )
        for purchase_id in stuck:
            await self.complete(purchase_id)
        return len(stuck)

    # ------------------------------------------------------------------ entitlements

    async def expire(self, now: datetime | None = None) -> int:
        """End entitlements past their expiry; a role is taken back unless another purchase still
        covers it. A role Discord won't remove now is retried on the next sweep."""
        when = now or utcnow()
        async with self.economy.db.read() as session:
            due = (
                await session.execute(
                    select(_E.c.id, _E.c.member_id, _E.c.kind, _E.c.value)
                    .where(_E.c.ended_at.is_(None), _E.c.expires_at.is_not(None), _E.c.expires_at <= when)
                    .limit(200)
                )
            ).all()
        ended = 0
        for entitlement_id, member_id, kind, value in due:
            if not await self._still_covered(entitlement_id, member_id, kind, value, when):
                try:
                    await self.fulfilment.revoke(member_id, kind, value, entitlement_id)
                except FulfilmentError as exc:
                    log.warning("economy.expiry_deferred", entitlement=entitlement_id, why=str(exc))
                    continue

            async def work(conn: AsyncConnection, entitlement_id: int = entitlement_id) -> None:
                await conn.execute(
                    update(_E).where(_E.c.id == entitlement_id, _E.c.ended_at.is_(None)).values(ended_at=when)
                )

            await self.ledger.run(work)
            ended += 1
        return ended

    async def _still_covered(self, entitlement_id: int, member_id: int, kind: str, value: str, when: datetime) -> bool:
        async with self.economy.db.read() as session:
            other = await session.scalar(
                select(_E.c.id).where(
                    _E.c.id != entitlement_id,
                    _E.c.member_id == member_id,
                    _E.c.kind == kind,
                    _E.c.value == value,
                    _E.c.ended_at.is_(None),
                    (_E.c.expires_at.is_(None)) | (_E.c.expires_at > when),
                )
            )
        return other is not None

    async def active(self, member_id: int, kind: str, value: str | None = None) -> list[dict[str, Any]]:
        """Live entitlements of a member, newest first (premium feed access, flair, roles)."""
        now = utcnow()
        query = select(_E.c.kind, _E.c.value, _E.c.expires_at).where(
            _E.c.member_id == member_id,
            _E.c.kind == kind,
            _E.c.ended_at.is_(None),
            (_E.c.expires_at.is_(None)) | (_E.c.expires_at > now),
        )
        if value is not None:
            query = query.where(_E.c.value == value)
        async with self.economy.db.read() as session:
            rows = await session.execute(query.order_by(_E.c.id.desc()))
            return [dict(row._mapping) for row in rows]

    async def perks(self, member_id: int) -> list[tuple[str, datetime | None]]:
        """What a member's purchases still give them: item name and when it ends (None: for good)."""
        now = utcnow()
        async with self.economy.db.read() as session:
            rows = await session.execute(
                select(_P.c.item_name, _E.c.expires_at)
                .join(_P, _P.c.id == _E.c.purchase_id)
                .where(
                    _E.c.member_id == member_id,
                    _E.c.kind != "raffle_entry",
                    _E.c.ended_at.is_(None),
                    (_E.c.expires_at.is_(None)) | (_E.c.expires_at > now),
                )
                .order_by(_E.c.id)
            )
            return [(name, expires) for name, expires in rows]

    async def flair(self, member_id: int) -> str | None:
        found = await self.active(member_id, "flair")
        return str(found[0]["value"]) if found else None

    async def flairs(self, member_ids: list[int]) -> dict[int, str]:
        if not member_ids:
            return {}
        now = utcnow()
        async with self.economy.db.read() as session:
            rows = await session.execute(
                select(_E.c.member_id, _E.c.value)
                .where(
                    _E.c.member_id.in_(member_ids),
                    _E.c.kind == "flair",
                    _E.c.ended_at.is_(None),
                    (_E.c.expires_at.is_(None)) | (_E.c.expires_at > now),
                )
                .order_by(_E.c.id)
            )
            return {member_id: value for member_id, value in rows}

    # ------------------------------------------------------------------ purchases

    async def purchase_by_key(self, key: str) -> PurchaseView | None:
        async with self.economy.db.read() as session:
            found = await session.scalar(select(_P.c.id).where(_P.c.key == key))
        return None if found is None else await self._load(found)

    async def _load(self, purchase_id: int) -> PurchaseView:
        async with self.economy.db.read() as session:
            row = (await session.execute(select(_P).where(_P.c.id == purchase_id))).one()
        return PurchaseView(
            id=row.id,
            key=row.key,
            member_id=row.member_id,
            sku=row.sku,
            item_name=row.item_name,
            kind=row.kind,
            value=row.value,
            days=row.days,
            price=row.price,
            status=row.status,
            failure=row.failure,
        )


async def _claim_state(
    conn: AsyncConnection, purchase_id: int, status: str, failure: str | None, now: datetime
) -> bool:
    """Move a pending purchase to its final state; False if another worker already finished it."""
    moved = await conn.execute(
        update(_P)
        .where(and_(_P.c.id == purchase_id, _P.c.status == "pending"))
        .values(status=status, failure=failure, updated_at=now)
    )
    return bool(moved.rowcount == 1)


def _check_item_value(item: Item) -> None:
    if item.kind == "role" and not item.value.isdigit():
        raise BadArgument("value", "for a role, give the Discord role id (right-click the role → Copy ID)")
    if item.kind == "raffle_entry" and not item.value.lstrip("#").isdigit():
        raise BadArgument("value", "for a raffle entry, give the raffle number, e.g. `3`")
    if len(item.value) > 100:
        raise BadArgument("value", "at most 100 characters")
