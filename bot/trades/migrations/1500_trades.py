"""trades: listings, preferences, proposals and their legs, reviews, the trade history and the solver lease

Revision ID: 1500_trades
Revises: 0001_core
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.storage.types import UtcDateTime

revision = "1500_trades"
down_revision = "0001_core"
branch_labels = ("trades",)
depends_on = None


def _member(table: str, column: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(
        column, sa.Integer(), sa.ForeignKey("members.id", name=f"fk_{table}_{column}_members"), nullable=nullable
    )


def _ref(table: str, column: str, target: str) -> sa.Column[int]:
    return sa.Column(column, sa.Integer(), sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}"),
                     nullable=False)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "trade_haves",
        sa.Column("id", sa.Integer(), nullable=False),
        _member("trade_haves", "member_id"),
        sa.Column("catalog_id", sa.Integer(), nullable=False),
        sa.Column("item_name", sa.String(300), nullable=False),
        sa.Column("size", sa.String(16), nullable=False),
        sa.Column("size_key", sa.String(16), nullable=False),
        sa.Column("condition", sa.String(8), nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
        sa.Column("price", sa.Float()),
        sa.Column("local_km", sa.Float()),
        sa.Column("accepts", sa.JSON()),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trade_haves"),
    )
    op.create_index("ix_trade_haves_member_id", "trade_haves", ["member_id"])
    op.create_index("ix_trade_haves_catalog_id", "trade_haves", ["catalog_id"])
    op.create_index("ix_trade_haves_status", "trade_haves", ["status"])
    op.create_table(
        "trade_wants",
        sa.Column("id", sa.Integer(), nullable=False),
        _member("trade_wants", "member_id"),
        sa.Column("catalog_id", sa.Integer(), nullable=False),
        sa.Column("item_name", sa.String(300), nullable=False),
        sa.Column("sizes", sa.JSON(), nullable=False),
        sa.Column("conditions", sa.JSON()),
        sa.Column("max_price", sa.Float()),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trade_wants"),
    )
    op.create_index("ix_trade_wants_member_id", "trade_wants", ["member_id"])
    op.create_index("ix_trade_wants_catalog_id", "trade_wants", ["catalog_id"])
    op.create_table(
        "trade_prefs",
        _member("trade_prefs", "member_id"),
        sa.Column("min_reputation", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", name="pk_trade_prefs"),
    )
    op.create_table(
        "trade_blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        _member("trade_blocks", "member_id"),
        _member("trade_blocks", "blocked_id"),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trade_blocks"),
        sa.UniqueConstraint("member_id", "blocked_id", name="uq_trade_blocks_member_id"),
    )
    op.create_index("ix_trade_blocks_member_id", "trade_blocks", ["member_id"])
    op.create_table(
        "trade_proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("local", sa.Boolean(), nullable=False),
        sa.Column("deadline", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("opened_at", UtcDateTime()),
        sa.Column("closed_at", UtcDateTime()),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trade_proposals"),
    )
    op.create_index("ix_trade_proposals_status", "trade_proposals", ["status"])
    op.create_table(
        "trade_parties",
        _ref("trade_parties", "proposal_id", "trade_proposals"),
        _member("trade_parties", "member_id"),
        sa.Column("response", sa.String(8), nullable=False),
        sa.Column("responded_at", UtcDateTime()),
        sa.PrimaryKeyConstraint("proposal_id", "member_id", name="pk_trade_parties"),
    )
    op.create_index("ix_trade_parties_member_id", "trade_parties", ["member_id"])
    op.create_table(
        "trade_legs",
        sa.Column("id", sa.Integer(), nullable=False),
        _ref("trade_legs", "proposal_id", "trade_proposals"),
        _ref("trade_legs", "have_id", "trade_haves"),
        _member("trade_legs", "giver_id"),
        _member("trade_legs", "receiver_id"),
        sa.Column("sent_at", UtcDateTime()),
        sa.Column("received_at", UtcDateTime()),
        sa.PrimaryKeyConstraint("id", name="pk_trade_legs"),
    )
    op.create_index("ix_trade_legs_proposal_id", "trade_legs", ["proposal_id"])
    op.create_index("ix_trade_legs_have_id", "trade_legs", ["have_id"])
    op.create_table(
        "trade_exclusions",
        sa.Column("id", sa.Integer(), nullable=False),
        _ref("trade_exclusions", "have_id", "trade_haves"),
        _member("trade_exclusions", "member_id"),
        sa.Column("reason", sa.String(10), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trade_exclusions"),
        sa.UniqueConstraint("have_id", "member_id", name="uq_trade_exclusions_have_id"),
    )
    op.create_index("ix_trade_exclusions_have_id", "trade_exclusions", ["have_id"])
    op.create_table(
        "trade_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        _ref("trade_reviews", "proposal_id", "trade_proposals"),
        _member("trade_reviews", "reviewer_id"),
        _member("trade_reviews", "reviewee_id"),
        sa.Column("stars", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(300), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trade_reviews"),
        sa.UniqueConstraint("proposal_id", "reviewer_id", name="uq_trade_reviews_proposal_id"),
    )
    op.create_index("ix_trade_reviews_proposal_id", "trade_reviews", ["proposal_id"])
    op.create_index("ix_trade_reviews_reviewee_id", "trade_reviews", ["reviewee_id"])
    op.create_table(
        "trade_events",
        sa.Column("id", sa.Integer(), nullable=False),
        _ref("trade_events", "proposal_id", "trade_proposals"),
        _member("trade_events", "member_id", nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("note", sa.String(300), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trade_events"),
    )
    op.create_index("ix_trade_events_proposal_id", "trade_events", ["proposal_id"])
    solver = op.create_table(
        "trade_solver",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("solved_version", sa.Integer(), nullable=False),
        sa.Column("due_at", UtcDateTime()),
        sa.Column("lease_owner", sa.String(40)),
        sa.Column("lease_until", UtcDateTime()),
        sa.PrimaryKeyConstraint("id", name="pk_trade_solver"),
    )
    op.bulk_insert(solver, [{"id": 1, "version": 0, "solved_version": 0}])


def downgrade() -> None:
    for table in ("trade_solver", "trade_events", "trade_reviews", "trade_exclusions", "trade_legs",
                  "trade_parties", "trade_proposals", "trade_blocks", "trade_prefs", "trade_wants",
                  "trade_haves"):  # fmt: skip
        op.drop_table(table)
