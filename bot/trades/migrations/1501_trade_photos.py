"""trades: a have's photos (content hashes in the photo store)

Revision ID: 1501_trade_photos
Revises: 1500_trades
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1501_trade_photos"
down_revision = "1500_trades"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("trade_haves", sa.Column("photos", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    op.drop_column("trade_haves", "photos")
