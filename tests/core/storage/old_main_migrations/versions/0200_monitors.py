"""monitors: monitors, snapshots, event outbox, price observations, restock reports

Revision ID: 0200_monitors
Revises: 0001_core
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.storage.types import UtcDateTime

revision = "0200_monitors"
down_revision = "0001_core"
branch_labels = ("monitors",)
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "monitors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("keywords", sa.String(300), nullable=False),
        sa.Column("sizes", sa.JSON(), nullable=False),
        sa.Column("feed", sa.String(64)),
        sa.Column("role", sa.String(100)),
        sa.Column("interval_s", sa.Integer(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("selectors", sa.JSON(), nullable=False),
        sa.Column("currency", sa.String(8)),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("members.id", name="fk_monitors_created_by_members")),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("last_error", sa.String(300)),
        sa.Column("last_good_at", UtcDateTime()),
        sa.Column("baseline_at", UtcDateTime()),
        sa.Column("password", sa.Boolean()),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_monitors"),
    )
    op.create_index("ix_monitors_host", "monitors", ["host"])
    op.create_table(
        "monitor_products",
        sa.Column(
            "monitor_id",
            sa.Integer(),
            sa.ForeignKey("monitors.id", name="fk_monitor_products_monitor_id_monitors", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("product_id", sa.String(64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("monitor_id", "product_id", name="pk_monitor_products"),
    )
    op.create_table(
        "monitor_events",
        sa.Column("event_id", sa.String(160), nullable=False),
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("published_at", UtcDateTime()),
        sa.PrimaryKeyConstraint("event_id", name="pk_monitor_events"),
    )
    op.create_index("ix_monitor_events_monitor_id", "monitor_events", ["monitor_id"])
    op.create_index("ix_monitor_events_unpublished", "monitor_events", ["published_at", "created_at"])
    op.create_table(
        "price_observations",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("observed_at", UtcDateTime(), nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("product", sa.String(300), nullable=False),
        sa.Column("product_key", sa.String(300), nullable=False),
        sa.Column("sku", sa.String(64)),
        sa.Column("brand", sa.String(64)),
        sa.Column("size", sa.String(32)),
        sa.Column("size_key", sa.String(16)),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("url", sa.String(500)),
        sa.Column("external_id", sa.String(120), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_price_observations"),
        sa.UniqueConstraint("source", "external_id", name="uq_price_observations_source"),
    )
    op.create_index(
        "ix_price_observations_product", "price_observations", ["product_key", "size_key", "observed_at"]
    )
    op.create_index("ix_price_observations_sku", "price_observations", ["sku", "observed_at"])
    op.create_table(
        "restock_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "member_id",
            sa.Integer(),
            sa.ForeignKey("members.id", name="fk_restock_reports_member_id_members"),
            nullable=False,
        ),
        sa.Column("store", sa.String(100), nullable=False),
        sa.Column("item", sa.String(200), nullable=False),
        sa.Column("size", sa.String(32)),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_restock_reports"),
    )
    op.create_index("ix_restock_reports_member_id", "restock_reports", ["member_id"])


def downgrade() -> None:
    op.drop_index("ix_restock_reports_member_id", table_name="restock_reports")
    op.drop_table("restock_reports")
    op.drop_index("ix_price_observations_sku", table_name="price_observations")
    op.drop_index("ix_price_observations_product", table_name="price_observations")
    op.drop_table("price_observations")
    op.drop_index("ix_monitor_events_unpublished", table_name="monitor_events")
    op.drop_index("ix_monitor_events_monitor_id", table_name="monitor_events")
    op.drop_table("monitor_events")
    op.drop_table("monitor_products")
    op.drop_index("ix_monitors_host", table_name="monitors")
    op.drop_table("monitors")
