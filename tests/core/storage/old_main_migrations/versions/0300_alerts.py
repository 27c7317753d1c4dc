"""alerts: rules, preferences, notices, recent events, SMS verifications, and the delivery outbox

Revision ID: 0300_alerts
Revises: 0001_core
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.storage.types import UtcDateTime

revision = "0300_alerts"
down_revision = "0001_core"
branch_labels = ("alerts",)
depends_on = None


def _member_fk(table: str) -> sa.ForeignKey:
    return sa.ForeignKey("members.id", name=f"fk_{table}_member_id_members")


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("group_key", sa.String(200), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("member_id", sa.Integer(), _member_fk("outbox"), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("fallbacks", sa.JSON(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_until", UtcDateTime()),
        sa.Column("expires_at", UtcDateTime()),
        sa.Column("last_error", sa.String(300)),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("sent_at", UtcDateTime()),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("key", name="uq_outbox_key"),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_group_key", "outbox", ["group_key"])
    op.create_index("ix_outbox_member_id", "outbox", ["member_id"])

    op.create_table(
        "alert_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), _member_fk("alert_rules"), nullable=False),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("any_groups", sa.JSON(), nullable=False),
        sa.Column("exclude", sa.JSON(), nullable=False),
        sa.Column("brands", sa.JSON(), nullable=False),
        sa.Column("stores", sa.JSON(), nullable=False),
        sa.Column("sizes", sa.JSON(), nullable=False),
        sa.Column("price_min", sa.Float()),
        sa.Column("price_max", sa.Float()),
        sa.Column("min_deal", sa.Float()),
        sa.Column("latitude", sa.Float()),
        sa.Column("longitude", sa.Float()),
        sa.Column("radius_km", sa.Float()),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("high_priority", sa.Boolean(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_rules"),
    )
    op.create_index("ix_alert_rules_member_id", "alert_rules", ["member_id"])

    op.create_table(
        "alert_prefs",
        sa.Column("member_id", sa.Integer(), _member_fk("alert_prefs"), nullable=False),
        sa.Column("quiet_start", sa.Integer()),
        sa.Column("quiet_end", sa.Integer()),
        sa.Column("daily_cap", sa.Integer()),
        sa.Column("digest", sa.String(8), nullable=False),
        sa.Column("digest_hour", sa.Integer(), nullable=False),
        sa.Column("digest_sent_for", sa.String(16)),
        sa.PrimaryKeyConstraint("member_id", name="pk_alert_prefs"),
    )

    op.create_table(
        "alert_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(100), nullable=False),
        sa.Column("member_id", sa.Integer(), _member_fk("alert_notices"), nullable=False),
        sa.Column("rule_id", sa.Integer()),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("local_day", sa.String(10), nullable=False),
        sa.Column("summary", sa.String(300), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_notices"),
        sa.UniqueConstraint("event_id", "member_id", name="uq_alert_notices_event_id"),
    )
    op.create_index("ix_alert_notices_member_id", "alert_notices", ["member_id"])
    op.create_index("ix_alert_notices_local_day", "alert_notices", ["local_day"])

    op.create_table(
        "alert_recent_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(100), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("fanned_out", sa.Boolean(), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_recent_events"),
        sa.UniqueConstraint("event_id", name="uq_alert_recent_events_event_id"),
    )

    op.create_table(
        "sms_verifications",
        sa.Column("member_id", sa.Integer(), _member_fk("sms_verifications"), nullable=False),
        sa.Column("phone_secret", sa.String(512), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", name="pk_sms_verifications"),
    )


def downgrade() -> None:
    op.drop_table("sms_verifications")
    op.drop_table("alert_recent_events")
    op.drop_index("ix_alert_notices_local_day", table_name="alert_notices")
    op.drop_index("ix_alert_notices_member_id", table_name="alert_notices")
    op.drop_table("alert_notices")
    op.drop_table("alert_prefs")
    op.drop_index("ix_alert_rules_member_id", table_name="alert_rules")
    op.drop_table("alert_rules")
    op.drop_index("ix_outbox_member_id", table_name="outbox")
    op.drop_index("ix_outbox_group_key", table_name="outbox")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
