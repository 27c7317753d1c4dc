"""account: /link requests waiting for the owner's confirm, and shared counters for rate limits

Revision ID: 0501_link_requests_and_throttles
Revises: 0500_account
Create Date: 2026-11-29

Wrong /link codes, texted /sms codes and wrong /sms codes are counted in ``account_throttles``
(one row per counter, changed by conditional UPDATEs), so ``sms_verifications.attempts``, which a
new code used to reset, goes; tries already made on a waiting code are carried into the member's counter.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.storage.types import UtcDateTime, utcnow

revision = "0501_link_requests_and_throttles"
down_revision = "0500_account"
branch_labels = None
depends_on = None


def upgrade() -> None:
    throttles = op.create_table(
        "account_throttles",
        sa.Column("key", sa.String(120), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("window_start", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_account_throttles"),
    )
    op.create_table(
        "link_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "code",
            sa.String(16),
            sa.ForeignKey("link_codes.code", name="fk_link_requests_code_link_codes"),
            nullable=False,
        ),
        sa.Column(
            "owner_id",
            sa.Integer(),
            sa.ForeignKey("members.id", name="fk_link_requests_owner_id_members"),
            nullable=False,
        ),
        sa.Column(
            "joiner_id",
            sa.Integer(),
            sa.ForeignKey("members.id", name="fk_link_requests_joiner_id_members"),
            nullable=False,
        ),
        sa.Column("joiner_label", sa.String(140), nullable=False),
        sa.Column("joiner_platform", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("decided_at", UtcDateTime()),
        sa.PrimaryKeyConstraint("id", name="pk_link_requests"),
        sa.UniqueConstraint("code", name="uq_link_requests_code"),
    )
    op.create_index("ix_link_requests_owner_id", "link_requests", ["owner_id"])
    # wrong tries already made against a waiting code keep counting, now per member
    tried = op.get_bind().execute(sa.text("SELECT member_id, attempts FROM sms_verifications WHERE attempts > 0"))
    now = utcnow()
    carried = [
        {"key": f"sms-try:member:{member_id}", "count": attempts, "window_start": now} for member_id, attempts in tried
    ]
    if carried:
        op.bulk_insert(throttles, carried)
    with op.batch_alter_table("sms_verifications") as batch:
        batch.drop_column("attempts")


def downgrade() -> None:
    with op.batch_alter_table("sms_verifications") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
    op.drop_index("ix_link_requests_owner_id", table_name="link_requests")
    op.drop_table("link_requests")
    op.drop_table("account_throttles")
