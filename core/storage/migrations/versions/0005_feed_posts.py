"""feed_posts: where each keyed feed item was posted, per target, so an update can edit the message

Revision ID: 0005_feed_posts
Revises: 0004_handled_requests
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.storage.types import UtcDateTime

revision = "0005_feed_posts"
down_revision = "0004_handled_requests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed", sa.String(64), nullable=False),
        sa.Column("item_key", sa.String(120), nullable=False),
        sa.Column("target_key", sa.String(200), nullable=False),
        sa.Column("message_ref", sa.String(500), nullable=False),
        sa.Column("edits", sa.Integer(), nullable=False),
        sa.Column("posted_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feed_posts"),
        sa.UniqueConstraint("feed", "item_key", "target_key", name="uq_feed_posts_feed"),
    )
    op.create_index("ix_feed_posts_item_key", "feed_posts", ["item_key"])


def downgrade() -> None:
    op.drop_index("ix_feed_posts_item_key", table_name="feed_posts")
    op.drop_table("feed_posts")
