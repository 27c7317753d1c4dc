"""market: the catalog, its aliases and links from monitored products

Revision ID: 0600_market
Revises: 0001_core
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.storage.types import UtcDateTime

revision = "0600_market"
down_revision = "0001_core"
branch_labels = ("market",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(320), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("brand", sa.String(64), nullable=False),
        sa.Column("model", sa.String(160), nullable=False),
        sa.Column("colourway", sa.String(200), nullable=False),
        sa.Column("audience", sa.String(8), nullable=False),
        sa.Column("retail", sa.Float()),
        sa.Column("release_date", sa.Date()),
        sa.Column("style_code", sa.String(40)),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_catalog_products"),
        sa.UniqueConstraint("key", name="uq_catalog_products_key"),
    )
    op.create_table(
        "catalog_aliases",
        sa.Column("abbreviation", sa.String(40), nullable=False),
        sa.Column("expansion", sa.String(120), nullable=False),
        sa.Column(
            "created_by", sa.Integer(), sa.ForeignKey("members.id", name="fk_catalog_aliases_created_by_members")
        ),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("abbreviation", name="pk_catalog_aliases"),
    )
    op.create_table(
        "catalog_links",
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.String(64), nullable=False),
        sa.Column(
            "catalog_id",
            sa.Integer(),
            sa.ForeignKey(
                "catalog_products.id", name="fk_catalog_links_catalog_id_catalog_products", ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("linked_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("monitor_id", "product_id", name="pk_catalog_links"),
    )
    op.create_index("ix_catalog_links_catalog_id", "catalog_links", ["catalog_id"])


def downgrade() -> None:
    op.drop_index("ix_catalog_links_catalog_id", table_name="catalog_links")
    op.drop_table("catalog_links")
    op.drop_table("catalog_aliases")
    op.drop_table("catalog_products")
