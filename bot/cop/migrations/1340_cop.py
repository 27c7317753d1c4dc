"""cop: simulated drops, their entries and the monthly tournaments

Revision ID: 1340_cop
Revises: 0001_core
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.storage.types import UtcDateTime

revision = "1340_cop"
down_revision = "0001_core"
branch_labels = ("cop",)
depends_on = None


def _member_fk(column: str, table: str, *, nullable: bool = True) -> sa.Column[int]:
    return sa.Column(
        column, sa.Integer(), sa.ForeignKey("members.id", name=f"fk_{table}_{column}_members"), nullable=nullable
    )


def upgrade() -> None:
    op.create_table(
        "cop_drops",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("pair", sa.String(300), nullable=False),
        sa.Column("catalog_id", sa.Integer()),
        sa.Column("sizes", sa.JSON(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("remaining", sa.Integer(), nullable=False),
        _member_fk("member_id", "cop_drops"),
        sa.Column("channel", sa.String(16)),
        _member_fk("created_by", "cop_drops"),
        sa.Column("opens_at", UtcDateTime(), nullable=False),
        sa.Column("closes_at", UtcDateTime(), nullable=False),
        sa.Column("opened_at", UtcDateTime()),
        sa.Column("closed_at", UtcDateTime()),
        sa.Column("settled_at", UtcDateTime()),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cop_drops"),
        sa.CheckConstraint("kind IN ('practice', 'group')", name="ck_cop_drops_kind"),
        sa.CheckConstraint("status IN ('scheduled', 'open', 'closed', 'cancelled')", name="ck_cop_drops_status"),
        sa.CheckConstraint("remaining >= 0 AND remaining <= stock", name="ck_cop_drops_stock"),
    )
    op.create_index("ix_cop_drops_due", "cop_drops", ["status", "opens_at"])
    op.create_index("ix_cop_drops_member_id", "cop_drops", ["member_id"])
    op.create_table(
        "cop_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "drop_id",
            sa.Integer(),
            sa.ForeignKey("cop_drops.id", name="fk_cop_entries_drop_id_cop_drops"),
            nullable=False,
        ),
        _member_fk("member_id", "cop_entries", nullable=False),
        sa.Column("size", sa.String(8), nullable=False),
        sa.Column("step", sa.String(8), nullable=False),
        sa.Column("code", sa.String(8)),
        sa.Column("wrong_codes", sa.Integer(), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("checkout_at", UtcDateTime()),
        sa.Column("elapsed_ms", sa.Integer()),
        sa.Column("outcome", sa.String(8)),
        sa.Column("position", sa.Integer()),
        sa.PrimaryKeyConstraint("id", name="pk_cop_entries"),
        sa.UniqueConstraint("drop_id", "member_id", name="uq_cop_entries_drop_member"),
        sa.UniqueConstraint("drop_id", "position", name="uq_cop_entries_drop_position"),
    )
    op.create_index("ix_cop_entries_member_id", "cop_entries", ["member_id"])
    op.create_table(
        "cop_tournaments",
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("standings", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("month", name="pk_cop_tournaments"),
    )


def downgrade() -> None:
    op.drop_table("cop_tournaments")
    op.drop_index("ix_cop_entries_member_id", table_name="cop_entries")
    op.drop_table("cop_entries")
    op.drop_index("ix_cop_drops_member_id", table_name="cop_drops")
    op.drop_index("ix_cop_drops_due", table_name="cop_drops")
    op.drop_table("cop_drops")
