"""handled_requests: platform request ids claimed once, with the first answer, so a redelivered update
returns that answer instead of running again

Revision ID: 0004_handled_requests
Revises: 0003_conversations
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.storage.types import UtcDateTime

revision = "0004_handled_requests"
down_revision = "0003_conversations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handled_requests",
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.Column("claimed_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name="pk_handled_requests"),
    )
    op.create_index("ix_handled_requests_claimed_at", "handled_requests", ["claimed_at"])


def downgrade() -> None:
    op.drop_index("ix_handled_requests_claimed_at", table_name="handled_requests")
    op.drop_table("handled_requests")
