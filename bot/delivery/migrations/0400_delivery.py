"""delivery: the outbox every feature sends through

Revision ID: 0400_delivery
Revises: 0001_core
Create Date: 2026-11-29

Databases created before the delivery slice had its own branch got the outbox from 0300_alerts;
those keep their table (and its rows) untouched, so both kinds of database end in one schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.storage.types import UtcDateTime

revision = "0400_delivery"
down_revision = "0001_core"
branch_labels = ("delivery",)
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("outbox"):
        return
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("group_key", sa.String(200), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column(
            "member_id",
            sa.Integer(),
            sa.ForeignKey("members.id", name="fk_outbox_member_id_members"),
            nullable=False,
        ),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("fallbacks", sa.JSON(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_until", UtcDateTime()),
        sa.Column("expires_at", UtcDateTime()),
        sa.Column("last_error", sa.String(300)),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("sent_at", UtcDateTime()),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("key", name="uq_outbox_key"),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_group_key", "outbox", ["group_key"])
    op.create_index("ix_outbox_member_id", "outbox", ["member_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_member_id", table_name="outbox")
    op.drop_index("ix_outbox_group_key", table_name="outbox")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
