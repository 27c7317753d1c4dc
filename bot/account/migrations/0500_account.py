"""account: phone numbers waiting for their SMS verification code

Revision ID: 0500_account
Revises: 0001_core
Create Date: 2026-11-29

Databases created before the account slice had its own branch got ``sms_verifications`` from
0300_alerts; those keep their table (and its rows) untouched, so both kinds of database end in one
schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.storage.types import UtcDateTime

revision = "0500_account"
down_revision = "0001_core"
branch_labels = ("account",)
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("sms_verifications"):
        return
    op.create_table(
        "sms_verifications",
        sa.Column(
            "member_id",
            sa.Integer(),
            sa.ForeignKey("members.id", name="fk_sms_verifications_member_id_members"),
            nullable=False,
        ),
        sa.Column("phone_secret", sa.String(512), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", name="pk_sms_verifications"),
    )


def downgrade() -> None:
    op.drop_table("sms_verifications")
