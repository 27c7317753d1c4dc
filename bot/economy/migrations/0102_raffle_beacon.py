"""economy: raffles may mix a randomness beacon round, fixed when they open, into the draw

Revision ID: 0102_raffle_beacon
Revises: 0101_raffle_close
Create Date: 2026-11-29

Existing raffles have no beacon and keep their rule.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.storage.types import UtcDateTime

revision = "0102_raffle_beacon"
down_revision = "0101_raffle_close"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("economy_raffles") as batch:
        batch.add_column(sa.Column("beacon_url", sa.String(200)))
        batch.add_column(sa.Column("beacon_round", sa.BigInteger()))
        batch.add_column(sa.Column("beacon_at", UtcDateTime()))
        batch.add_column(sa.Column("beacon_randomness", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("economy_raffles") as batch:
        batch.drop_column("beacon_randomness")
        batch.drop_column("beacon_at")
        batch.drop_column("beacon_round")
        batch.drop_column("beacon_url")
