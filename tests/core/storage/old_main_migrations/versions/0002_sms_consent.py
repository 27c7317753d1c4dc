"""sms consent: phone numbers that texted STOP or that Twilio reports unreachable

Revision ID: 0002_sms_consent
Revises: 0001_core
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.storage.types import UtcDateTime

revision = "0002_sms_consent"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sms_consent",
        sa.Column("phone_hash", sa.String(128), nullable=False),
        sa.Column("opted_out_at", UtcDateTime()),
        sa.Column("reason", sa.String(32)),
        sa.Column("opted_in_at", UtcDateTime()),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("phone_hash", name="pk_sms_consent"),
    )


def downgrade() -> None:
    op.drop_table("sms_consent")
