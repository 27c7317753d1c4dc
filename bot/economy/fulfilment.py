"""Giving members what they bought, per item kind, and taking back what expires.

A fulfiller has three steps: ``precheck`` refuses up front (nothing is charged), ``deliver`` does the
outside work after the charge (a Discord role), and ``apply`` writes the database side inside the
settle transaction. If ``deliver`` or ``apply`` raises ``FulfilmentError`` the shop refunds the
purchase automatically.

Discord roles go through ``core.frontend.RoleManager``, which the Discord frontend implements. No
platform code lives in the economy. Only roles on the allow-list (``[economy] grantable_role_ids``
and the roles of bot.toml's own items) are ever given, checked again at delivery: an item added
before its role left the list is refunded. The frontend refuses roles with power on its own side.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.economy.config import EconomySection
from bot.economy.models import Entitlement, Purchase, Raffle, RaffleEntry
from core.errors import UserError
from core.frontend import DeliveryRefused, RoleManager
from core.storage.models import table
from core.storage.types import utcnow

if TYPE_CHECKING:
    from core.engine import Engine

log = structlog.get_logger(__name__)

_E = table(Entitlement)
#: kinds a member keeps: owning one for good (no end date) makes buying it again pointless
KEPT_KINDS = ("role", "premium_feed", "flair")


class FulfilmentError(Exception):
    """Delivery failed; the message is shown to the buyer with the refund."""


@dataclass(frozen=True)
class Item:
    sku: str
    name: str
    kind: str
    price: int
    value: str
    days: int | None = None
    #: ``config`` (bot.toml) or ``admin`` (added with /shop add)
    source: str = "config"


@dataclass(frozen=True)
class PurchaseView:
    id: int
    key: str
    member_id: int
    sku: str
    item_name: str
    kind: str
    value: str
    days: int | None
    price: int
    status: str
    failure: str | None


def role_manager(engine: Engine) -> RoleManager | None:
    frontend = engine.frontends.get("discord")
    return frontend if isinstance(frontend, RoleManager) else None


async def _change_role(manager: RoleManager, add: bool, user_id: str, role_id: int, reason: str) -> None:
    """Any refusal from the platform becomes a ``FulfilmentError``, and so a refund."""
    try:
        if add:
            await manager.add_role(user_id, role_id, reason=reason)
        else:
            await manager.remove_role(user_id, role_id, reason=reason)
    except DeliveryRefused as exc:
        raise FulfilmentError(exc.reason) from exc


class Fulfilment:
    """Dispatches each step to the item kind's rules."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def precheck(self, member_id: int, item: Item) -> None:
        if item.kind == "role":
            if not self._grantable(item.value):
                raise UserError("That role isn't on the shop's list of roles it may give any more; ask an admin.")
            if await self._engine.identity.address_for(member_id, "discord") is None:
                raise UserError("That's a Discord role: link your Discord account with `/link` first.")
        elif item.kind == "premium_feed":
            self._engine.feeds.check_name(item.value)
        elif item.kind == "raffle_entry":
            await self.check_raffle(item.value)
            async with self._engine.db.read() as session:
                entered = await session.scalar(
                    select(RaffleEntry.id).where(
                        RaffleEntry.raffle_id == _raffle_id(item.value), RaffleEntry.member_id == member_id
                    )
                )
            if entered is not None:
                raise UserError(f"You're already in raffle #{item.value}.")
        if item.kind in KEPT_KINDS:
            async with self._engine.db.read() as session:
                owned = await _owned_for_good(await session.connection(), member_id, item.kind, item.value)
            if owned is not None:
                raise UserError(f"You already have {owned} for good, so nothing was charged.")

    async def check_raffle(self, value: str) -> None:
        """A raffle ticket's raffle must exist and still take entries (open, before its end time)."""
        raffle_id = _raffle_id(value)
        async with self._engine.db.read() as session:
            raffle = await session.get(Raffle, raffle_id)
        if raffle is None:
            raise UserError(f"No raffle #{raffle_id}. See `/raffle list`.")
        if raffle.status != "open" or raffle.ends_at <= utcnow():
            raise UserError(f"Raffle #{raffle_id} is closed: entries ended at {raffle.ends_at:%Y-%m-%d %H:%M} UTC.")

    async def deliver(self, purchase: PurchaseView) -> None:
        if purchase.kind != "role":
            return
        if not self._grantable(purchase.value):
            raise FulfilmentError("that role is not on the shop's list of roles it may give")
        manager = role_manager(self._engine)
        if manager is None:
            raise FulfilmentError("the bot is not connected to Discord right now")
        user_id = await self._engine.identity.address_for(purchase.member_id, "discord")
        if user_id is None:
            raise FulfilmentError("your account has no Discord identity")
        await _change_role(manager, True, user_id, int(purchase.value), f"SNPD shop purchase #{purchase.id}")

    def _grantable(self, value: str) -> bool:
        return value.isdigit() and int(value) in self._engine.config.get(EconomySection).grantable_roles()

    async def undo(self, purchase: PurchaseView) -> None:
        """Best effort: take back what ``deliver`` gave when the settle step failed after it."""
        if purchase.kind != "role":
            return
        manager = role_manager(self._engine)
        user_id = await self._engine.identity.address_for(purchase.member_id, "discord")
        if manager is None or user_id is None:
            return
        try:
            await _change_role(manager, False, user_id, int(purchase.value), f"SNPD purchase #{purchase.id} refunded")
        except FulfilmentError:
            log.warning("economy.role_undo_failed", purchase=purchase.id)

    async def apply(self, conn: AsyncConnection, purchase: PurchaseView, now: datetime) -> None:
        """The database side of a fulfilment, inside the settle transaction."""
        if purchase.kind in KEPT_KINDS:
            owned = await _owned_for_good(conn, purchase.member_id, purchase.kind, purchase.value)
            if owned is not None:
                raise FulfilmentError(f"you already have {owned} for good")
        if purchase.kind == "raffle_entry":
            raffle_id = _raffle_id(purchase.value)
            found = (
                await conn.execute(
                    select(table(Raffle).c.status, table(Raffle).c.ends_at)
                    .where(table(Raffle).c.id == raffle_id)
                    .with_for_update()
                )
            ).first()
            if found is None or found.status != "open" or found.ends_at <= now:
                raise FulfilmentError(f"raffle #{raffle_id} closed before your entry went in")
            taken = await conn.scalar(
                select(table(RaffleEntry).c.id).where(
                    table(RaffleEntry).c.raffle_id == raffle_id,
                    table(RaffleEntry).c.member_id == purchase.member_id,
                )
            )
            if taken is not None:
                raise FulfilmentError(f"you're already in raffle #{raffle_id}")
            await conn.execute(
                insert(table(RaffleEntry)).values(raffle_id=raffle_id, member_id=purchase.member_id, created_at=now)
            )
        expires = now + timedelta(days=purchase.days) if purchase.days and purchase.kind != "raffle_entry" else None
        await conn.execute(
            insert(_E).values(
                purchase_id=purchase.id,
                member_id=purchase.member_id,
                kind=purchase.kind,
                value=purchase.value,
                starts_at=now,
                expires_at=expires,
            )
        )

    async def revoke(self, member_id: int, kind: str, value: str, entitlement_id: int) -> None:
        """Take back an expired entitlement. Only roles live outside the database."""
        if kind != "role":
            return
        manager = role_manager(self._engine)
        if manager is None:
            raise FulfilmentError("not connected to Discord")
        user_id = await self._engine.identity.address_for(member_id, "discord")
        if user_id is not None:
            await _change_role(manager, False, user_id, int(value), f"SNPD shop role expired (#{entitlement_id})")


async def _owned_for_good(conn: AsyncConnection, member_id: int, kind: str, value: str) -> str | None:
    """The name of a purchase that gave ``member_id`` this very thing with no end, if one did."""
    purchases = table(Purchase)
    return await conn.scalar(
        select(purchases.c.item_name)
        .select_from(_E.join(purchases, purchases.c.id == _E.c.purchase_id))
        .where(
            _E.c.member_id == member_id,
            _E.c.kind == kind,
            _E.c.value == value,
            _E.c.ended_at.is_(None),
            _E.c.expires_at.is_(None),
        )
        .limit(1)
    )


def _raffle_id(value: str) -> int:
    try:
        return int(value.lstrip("#"))
    except ValueError:
        raise FulfilmentError(f"item names raffle {value!r}, which is not a raffle id") from None
