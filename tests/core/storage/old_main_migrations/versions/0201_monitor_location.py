"""monitors: an optional shop location, so in-store restocks carry one for alert rules' near/radius

Revision ID: 0201_monitor_location
Revises: 0200_monitors
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0201_monitor_location"
down_revision = "0200_monitors"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite can add columns in place but can only drop them by copying the table
    with op.batch_alter_table("monitors") as batch:
        batch.add_column(sa.Column("latitude", sa.Float()))
        batch.add_column(sa.Column("longitude", sa.Float()))


def downgrade() -> None:
    with op.batch_alter_table("monitors") as batch:
        batch.drop_column("longitude")
        batch.drop_column("latitude")
