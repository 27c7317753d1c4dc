"""Economy tables: the ledger (accounts and transfers), the shop, entitlements, raffles and the audit log.

The ledger is double-entry with one row per journal entry: a transfer debits one account and credits
another by the same positive amount, so every entry balances by construction and the balances of all
accounts always sum to zero (the mint goes negative as it issues LACES). The database itself refuses
a negative balance on any account that is not explicitly allowed one, and only system accounts may be.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models import Base
from core.storage.types import utcnow

#: an INTEGER PRIMARY KEY on SQLite (a rowid alias, so inserts stay cheap), BIGINT on PostgreSQL
BigId = BigInteger().with_variant(Integer(), "sqlite")

STATUS_POSTED = "posted"
STATUS_REJECTED = "rejected"


class Account(Base):
    """A member's wallet (``member_id`` set) or a system account (``code`` set: mint, shop, ...)."""

    __tablename__ = "economy_accounts"
    __table_args__ = (
        CheckConstraint("(member_id IS NULL) <> (code IS NULL)", name="owner"),
        CheckConstraint("allow_negative OR balance >= 0", name="non_negative"),
        CheckConstraint("member_id IS NULL OR NOT allow_negative", name="wallet_no_overdraft"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), unique=True, default=None)
    code: Mapped[str | None] = mapped_column(String(32), unique=True, default=None)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    allow_negative: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Transfer(Base):
    """One journal entry. ``rejected`` rows moved nothing; they keep the idempotency key answered."""

    __tablename__ = "economy_transfers"
    __table_args__ = (
        CheckConstraint("amount > 0", name="positive_amount"),
        CheckConstraint("debit_account_id <> credit_account_id", name="two_accounts"),
        CheckConstraint("status IN ('posted', 'rejected')", name="status"),
        Index("ix_economy_transfers_debit_pair", "debit_account_id", "credit_account_id"),
        Index("ix_economy_transfers_credit_time", "credit_account_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    debit_account_id: Mapped[int] = mapped_column(ForeignKey("economy_accounts.id"))
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("economy_accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    #: what the entry refers to: an earn rule, a shop sku, a raffle id
    ref: Mapped[str | None] = mapped_column(String(64), default=None)
    note: Mapped[str] = mapped_column(String(200), default="")
    #: the member who caused it (the tipper, the admin, the buyer); None for the engine itself
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), default=None)
    #: why a rejected entry was refused (``insufficient_funds``, ``daily_cap``...)
    reason: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ShopItem(Base):
    """An item added with ``/shop add``. Items from bot.toml live in the config, not here."""

    __tablename__ = "economy_shop_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    price: Mapped[int] = mapped_column(BigInteger)
    #: role id, feed name, flair text or raffle id, depending on ``kind``
    value: Mapped[str] = mapped_column(String(100))
    days: Mapped[int | None] = mapped_column(Integer, default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Purchase(Base):
    """A purchase: paid into escrow, then settled to the shop on fulfilment or refunded on failure."""

    __tablename__ = "economy_purchases"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'fulfilled', 'refunded')", name="status"),
        Index("ix_economy_purchases_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: the idempotency key of the charge; one click of a buy button is one key
    key: Mapped[str] = mapped_column(String(120), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    sku: Mapped[str] = mapped_column(String(40))
    item_name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(100))
    days: Mapped[int | None] = mapped_column(Integer, default=None)
    price: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    charge_transfer_id: Mapped[int] = mapped_column(BigId, ForeignKey("economy_transfers.id"))
    failure: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Entitlement(Base):
    """What a fulfilled purchase gave: a role, premium feed access, a flair or a raffle entry."""

    __tablename__ = "economy_entitlements"
    __table_args__ = (Index("ix_economy_entitlements_expiry", "ended_at", "expires_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purchase_id: Mapped[int] = mapped_column(ForeignKey("economy_purchases.id"), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(100))
    starts_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)


class Raffle(Base):
    """A provably fair raffle: ``seed_hash`` is published at creation, the entrants' digest at the close
    (the end time), ``seed`` at the draw."""

    __tablename__ = "economy_raffles"
    __table_args__ = (CheckConstraint("status IN ('open', 'drawn')", name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prize: Mapped[str] = mapped_column(String(100))
    cost: Mapped[int] = mapped_column(BigInteger)
    winners: Mapped[int] = mapped_column(Integer, default=1)
    seed_hash: Mapped[str] = mapped_column(String(64))
    seed: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="open")
    ends_at: Mapped[datetime] = mapped_column()
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    drawn_at: Mapped[datetime | None] = mapped_column(default=None)
    #: when the entrant list was frozen and committed, and its digest (``bot.economy.fairness``)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    entrants_digest: Mapped[str | None] = mapped_column(String(64), default=None)
    #: the draw rule (``bot.economy.fairness``): 2 mixes the committed digest in with HMAC, 3 also a
    #: beacon round's randomness, 1 is the rule of raffles drawn before revision 0101
    draw_rule: Mapped[int] = mapped_column(Integer, default=2)
    #: the randomness beacon round fixed when the raffle opened (first due after the close), when it is
    #: due, where to fetch it, and its value once fetched for the draw
    beacon_url: Mapped[str | None] = mapped_column(String(200), default=None)
    beacon_round: Mapped[int | None] = mapped_column(BigInteger, default=None)
    beacon_at: Mapped[datetime | None] = mapped_column(default=None)
    beacon_randomness: Mapped[str | None] = mapped_column(String(64), default=None)
    #: the published outcome: entrants (sorted), their digest and the winners
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class RaffleEntry(Base):
    __tablename__ = "economy_raffle_entries"
    __table_args__ = (UniqueConstraint("raffle_id", "member_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    raffle_id: Mapped[int] = mapped_column(ForeignKey("economy_raffles.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    #: the entry fee, or None when the entry came from a shop purchase
    transfer_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("economy_transfers.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """An admin action on the economy: grants, revokes, shop and raffle changes, with the reason."""

    __tablename__ = "economy_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    action: Mapped[str] = mapped_column(String(32))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), default=None, index=True)
    amount: Mapped[int | None] = mapped_column(BigInteger, default=None)
    reason: Mapped[str] = mapped_column(String(200))
    transfer_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("economy_transfers.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)



__all__ = [
    "STATUS_POSTED",
    "STATUS_REJECTED",
    "Account",
    "AuditEntry",
    "Entitlement",
    "Purchase",
    "Raffle",
    "RaffleEntry",
    "ShopItem",
    "Transfer",
]
