"""drops: the release calendar, proposals, reminders and their fan-outs, calendar feed tokens

Revision ID: 1300_drops
Revises: 0001_core
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.storage.types import UtcDateTime

revision = "1300_drops"
down_revision = "0001_core"
branch_labels = ("drops",)
depends_on = None


def _member_fk(column: str, table: str, *, nullable: bool = True) -> sa.Column[int]:
    return sa.Column(
        column, sa.Integer(), sa.ForeignKey("members.id", name=f"fk_{table}_{column}_members"), nullable=nullable
    )


def _drop_fk(table: str) -> sa.Column[int]:
    return sa.Column(
        "drop_id",
        sa.Integer(),
        sa.ForeignKey("drops.id", name=f"fk_{table}_drop_id_drops", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "drops",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("catalog_id", sa.Integer()),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("brand", sa.String(64), nullable=False),
        sa.Column("release_at", UtcDateTime(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("retailers", sa.JSON(), nullable=False),
        sa.Column("retail_price", sa.Float()),
        sa.Column("notes", sa.String(1000), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        _member_fk("created_by", "drops"),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drops"),
    )
    op.create_index("ix_drops_release", "drops", ["status", "release_at"])
    op.create_table(
        "drop_proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_key", sa.String(200), nullable=False),
        sa.Column("catalog_id", sa.Integer()),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("brand", sa.String(64), nullable=False),
        sa.Column("release_at", UtcDateTime(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("retail_price", sa.Float()),
        sa.Column("url", sa.String(500)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column(
            "drop_id",
            sa.Integer(),
            sa.ForeignKey("drops.id", name="fk_drop_proposals_drop_id_drops", ondelete="SET NULL"),
        ),
        _member_fk("decided_by", "drop_proposals"),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drop_proposals"),
        sa.UniqueConstraint("source_key", name="uq_drop_proposals_source_key"),
    )
    op.create_table(
        "drop_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        _drop_fk("drop_reminders"),
        _member_fk("member_id", "drop_reminders", nullable=False),
        sa.Column("offsets", sa.JSON(), nullable=False),
        sa.Column("high_priority", sa.Boolean(), nullable=False),
        sa.Column("ticked", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drop_reminders"),
        sa.UniqueConstraint("drop_id", "member_id", name="uq_drop_reminders_drop_id"),
    )
    op.create_index("ix_drop_reminders_drop_id", "drop_reminders", ["drop_id"])
    op.create_index("ix_drop_reminders_member_id", "drop_reminders", ["member_id"])
    op.create_table(
        "drop_fanouts",
        sa.Column("id", sa.Integer(), nullable=False),
        _drop_fk("drop_fanouts"),
        sa.Column("offset_s", sa.Integer(), nullable=False),
        sa.Column("release_unix", sa.Integer(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("starts_at", UtcDateTime(), nullable=False),
        sa.Column("planned_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drop_fanouts"),
        sa.UniqueConstraint("drop_id", "offset_s", "release_unix", name="uq_drop_fanouts_drop_id"),
    )
    op.create_index("ix_drop_fanouts_drop_id", "drop_fanouts", ["drop_id"])
    op.create_table(
        "drop_calendar_tokens",
        _member_fk("member_id", "drop_calendar_tokens", nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", name="pk_drop_calendar_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_drop_calendar_tokens_token_hash"),
    )


def downgrade() -> None:
    op.drop_table("drop_calendar_tokens")
    op.drop_index("ix_drop_fanouts_drop_id", table_name="drop_fanouts")
    op.drop_table("drop_fanouts")
    op.drop_index("ix_drop_reminders_member_id", table_name="drop_reminders")
    op.drop_index("ix_drop_reminders_drop_id", table_name="drop_reminders")
    op.drop_table("drop_reminders")
    op.drop_table("drop_proposals")
    op.drop_index("ix_drops_release", table_name="drops")
    op.drop_table("drops")
