"""economy: ledger accounts and transfers, shop, entitlements, raffles, audit log

Revision ID: 0100_economy
Revises: 0001_core
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.storage.types import UtcDateTime, utcnow

revision = "0100_economy"
down_revision = "0001_core"
branch_labels = ("economy",)
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

#: system accounts; only the mint may go below zero (it is where every LACES comes from)
SYSTEM_ACCOUNTS = (("mint", True), ("shop", False), ("raffle_pot", False), ("escrow", False))


def _member_fk(column: str, table: str, **kwargs: object) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        column, sa.Integer(), sa.ForeignKey("members.id", name=f"fk_{table}_{column}_members"), **kwargs
    )


def upgrade() -> None:
    accounts = op.create_table(
        "economy_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        _member_fk("member_id", "economy_accounts"),
        sa.Column("code", sa.String(32)),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("allow_negative", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_economy_accounts"),
        sa.UniqueConstraint("member_id", name="uq_economy_accounts_member_id"),
        sa.UniqueConstraint("code", name="uq_economy_accounts_code"),
        sa.CheckConstraint("(member_id IS NULL) <> (code IS NULL)", name="ck_economy_accounts_owner"),
        sa.CheckConstraint("allow_negative OR balance >= 0", name="ck_economy_accounts_non_negative"),
        sa.CheckConstraint(
            "member_id IS NULL OR NOT allow_negative", name="ck_economy_accounts_wallet_no_overdraft"
        ),
    )
    op.create_table(
        "economy_transfers",
        sa.Column("id", BigId, nullable=False),
        sa.Column("idempotency_key", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column(
            "debit_account_id",
            sa.Integer(),
            sa.ForeignKey("economy_accounts.id", name="fk_economy_transfers_debit_account_id_economy_accounts"),
            nullable=False,
        ),
        sa.Column(
            "credit_account_id",
            sa.Integer(),
            sa.ForeignKey("economy_accounts.id", name="fk_economy_transfers_credit_account_id_economy_accounts"),
            nullable=False,
        ),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("ref", sa.String(64)),
        sa.Column("note", sa.String(200), nullable=False),
        _member_fk("actor_id", "economy_transfers"),
        sa.Column("reason", sa.String(64)),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_economy_transfers"),
        sa.UniqueConstraint("idempotency_key", name="uq_economy_transfers_idempotency_key"),
        sa.CheckConstraint("amount > 0", name="ck_economy_transfers_positive_amount"),
        sa.CheckConstraint("debit_account_id <> credit_account_id", name="ck_economy_transfers_two_accounts"),
        sa.CheckConstraint("status IN ('posted', 'rejected')", name="ck_economy_transfers_status"),
    )
    op.create_index(
        "ix_economy_transfers_debit_pair", "economy_transfers", ["debit_account_id", "credit_account_id"]
    )
    op.create_index("ix_economy_transfers_credit_time", "economy_transfers", ["credit_account_id", "created_at"])
    op.create_table(
        "economy_shop_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(40), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.String(100), nullable=False),
        sa.Column("days", sa.Integer()),
        sa.Column("active", sa.Boolean(), nullable=False),
        _member_fk("created_by", "economy_shop_items"),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_economy_shop_items"),
        sa.UniqueConstraint("sku", name="uq_economy_shop_items_sku"),
    )
    op.create_table(
        "economy_purchases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(120), nullable=False),
        _member_fk("member_id", "economy_purchases", nullable=False),
        sa.Column("sku", sa.String(40), nullable=False),
        sa.Column("item_name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("value", sa.String(100), nullable=False),
        sa.Column("days", sa.Integer()),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column(
            "charge_transfer_id",
            BigId,
            sa.ForeignKey("economy_transfers.id", name="fk_economy_purchases_charge_transfer_id_economy_transfers"),
            nullable=False,
        ),
        sa.Column("failure", sa.String(200)),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_economy_purchases"),
        sa.UniqueConstraint("key", name="uq_economy_purchases_key"),
        sa.CheckConstraint("status IN ('pending', 'fulfilled', 'refunded')", name="ck_economy_purchases_status"),
    )
    op.create_index("ix_economy_purchases_member_id", "economy_purchases", ["member_id"])
    op.create_index("ix_economy_purchases_status", "economy_purchases", ["status"])
    op.create_table(
        "economy_entitlements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "purchase_id",
            sa.Integer(),
            sa.ForeignKey("economy_purchases.id", name="fk_economy_entitlements_purchase_id_economy_purchases"),
            nullable=False,
        ),
        _member_fk("member_id", "economy_entitlements", nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("value", sa.String(100), nullable=False),
        sa.Column("starts_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime()),
        sa.Column("ended_at", UtcDateTime()),
        sa.PrimaryKeyConstraint("id", name="pk_economy_entitlements"),
        sa.UniqueConstraint("purchase_id", name="uq_economy_entitlements_purchase_id"),
    )
    op.create_index("ix_economy_entitlements_member_id", "economy_entitlements", ["member_id"])
    op.create_index("ix_economy_entitlements_expiry", "economy_entitlements", ["ended_at", "expires_at"])
    op.create_table(
        "economy_raffles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prize", sa.String(100), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=False),
        sa.Column("winners", sa.Integer(), nullable=False),
        sa.Column("seed_hash", sa.String(64), nullable=False),
        sa.Column("seed", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ends_at", UtcDateTime(), nullable=False),
        _member_fk("created_by", "economy_raffles"),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("drawn_at", UtcDateTime()),
        sa.Column("result", sa.JSON()),
        sa.PrimaryKeyConstraint("id", name="pk_economy_raffles"),
        sa.CheckConstraint("status IN ('open', 'drawn')", name="ck_economy_raffles_status"),
    )
    op.create_table(
        "economy_raffle_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "raffle_id",
            sa.Integer(),
            sa.ForeignKey("economy_raffles.id", name="fk_economy_raffle_entries_raffle_id_economy_raffles"),
            nullable=False,
        ),
        _member_fk("member_id", "economy_raffle_entries", nullable=False),
        sa.Column(
            "transfer_id",
            BigId,
            sa.ForeignKey("economy_transfers.id", name="fk_economy_raffle_entries_transfer_id_economy_transfers"),
        ),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_economy_raffle_entries"),
        sa.UniqueConstraint("raffle_id", "member_id", name="uq_economy_raffle_entries_raffle_id"),
    )
    op.create_table(
        "economy_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        _member_fk("actor_id", "economy_audit", nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        _member_fk("member_id", "economy_audit"),
        sa.Column("amount", sa.BigInteger()),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column(
            "transfer_id",
            BigId,
            sa.ForeignKey("economy_transfers.id", name="fk_economy_audit_transfer_id_economy_transfers"),
        ),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_economy_audit"),
    )
    op.create_index("ix_economy_audit_member_id", "economy_audit", ["member_id"])
    now = utcnow()
    op.bulk_insert(
        accounts,
        [
            {"code": code, "balance": 0, "allow_negative": negative, "created_at": now}
            for code, negative in SYSTEM_ACCOUNTS
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_economy_audit_member_id", table_name="economy_audit")
    op.drop_table("economy_audit")
    op.drop_table("economy_raffle_entries")
    op.drop_table("economy_raffles")
    op.drop_index("ix_economy_entitlements_expiry", table_name="economy_entitlements")
    op.drop_index("ix_economy_entitlements_member_id", table_name="economy_entitlements")
    op.drop_table("economy_entitlements")
    op.drop_index("ix_economy_purchases_status", table_name="economy_purchases")
    op.drop_index("ix_economy_purchases_member_id", table_name="economy_purchases")
    op.drop_table("economy_purchases")
    op.drop_table("economy_shop_items")
    op.drop_index("ix_economy_transfers_credit_time", table_name="economy_transfers")
    op.drop_index("ix_economy_transfers_debit_pair", table_name="economy_transfers")
    op.drop_table("economy_transfers")
    op.drop_table("economy_accounts")
