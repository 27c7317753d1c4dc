"""economy: raffles commit their entrant list at the close and draw with HMAC over it

Revision ID: 0101_raffle_close
Revises: 0100_economy
Create Date: 2026-11-29

Raffles already drawn keep rule 1 (the draw they were announced with, still checkable by
``/raffle verify``); raffles still open draw by rule 2 at their end time.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.storage.types import UtcDateTime

revision = "0101_raffle_close"
down_revision = "0100_economy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("economy_raffles") as batch:
        batch.add_column(sa.Column("closed_at", UtcDateTime()))
        batch.add_column(sa.Column("entrants_digest", sa.String(64)))
        batch.add_column(sa.Column("draw_rule", sa.Integer(), nullable=False, server_default="1"))
    op.execute("UPDATE economy_raffles SET draw_rule = 2 WHERE status = 'open'")


def downgrade() -> None:
    with op.batch_alter_table("economy_raffles") as batch:
        batch.drop_column("draw_rule")
        batch.drop_column("entrants_digest")
        batch.drop_column("closed_at")
