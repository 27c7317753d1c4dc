"""market: closet_items, the pairs members own

Revision ID: 0601_closet
Revises: 0600_market
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.storage.types import UtcDateTime

revision = "0601_closet"
down_revision = "0600_market"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "closet_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "member_id",
            sa.Integer(),
            sa.ForeignKey("members.id", name="fk_closet_items_member_id_members"),
            nullable=False,
        ),
        sa.Column(
            "catalog_id",
            sa.Integer(),
            sa.ForeignKey(
                "catalog_products.id", name="fk_closet_items_catalog_id_catalog_products", ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column("size", sa.String(16), nullable=False),
        sa.Column("size_key", sa.String(16), nullable=False),
        sa.Column("paid", sa.Float()),
        sa.Column("added_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_closet_items"),
    )
    op.create_index("ix_closet_items_member_id", "closet_items", ["member_id"])


def downgrade() -> None:
    op.drop_index("ix_closet_items_member_id", table_name="closet_items")
    op.drop_table("closet_items")
