"""legitcheck: checks, photos, photo hashes, votes and voters

Revision ID: 1400_legitcheck
Revises: 0001_core
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.storage.types import UtcDateTime

revision = "1400_legitcheck"
down_revision = "0001_core"
branch_labels = ("legitcheck",)
depends_on = None


def _member(column: str, table: str, **kwargs: object) -> sa.Column[int]:
    return sa.Column(column, sa.Integer(), sa.ForeignKey("members.id", name=f"fk_{table}_{column}_members"), **kwargs)  # type: ignore[arg-type]


def upgrade() -> None:
    op.create_table(
        "lc_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        _member("member_id", "lc_checks", nullable=False),
        sa.Column("item", sa.String(200), nullable=False),
        sa.Column("size", sa.String(16)),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("request_key", sa.String(160)),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("deadline_at", UtcDateTime(), nullable=False),
        sa.Column("closed_at", UtcDateTime()),
        sa.Column("verdict", sa.String(16)),
        sa.Column("real_share", sa.Float(), nullable=False),
        sa.Column("fake_share", sa.Float(), nullable=False),
        sa.Column("unsure_share", sa.Float(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("reuse", sa.JSON(), nullable=False),
        sa.Column("gold_answer", sa.String(8)),
        sa.Column("appeal_note", sa.String(300)),
        sa.Column("appealed_at", UtcDateTime()),
        sa.Column("appeal_state", sa.String(12)),
        sa.Column("void_reason", sa.String(200)),
        sa.Column("paid", sa.Boolean(), nullable=False),
        sa.Column("announced", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lc_checks"),
        sa.UniqueConstraint("request_key", name="uq_lc_checks_request_key"),
    )
    op.create_index("ix_lc_checks_member_id", "lc_checks", ["member_id"])
    op.create_index("ix_lc_checks_status_deadline", "lc_checks", ["status", "deadline_at"])
    op.create_table(
        "lc_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "check_id",
            sa.Integer(),
            sa.ForeignKey("lc_checks.id", name="fk_lc_photos_check_id_lc_checks"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("media_type", sa.String(32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lc_photos"),
    )
    op.create_index("ix_lc_photos_check_id", "lc_photos", ["check_id"])
    op.create_table(
        "lc_photo_hashes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "photo_id",
            sa.Integer(),
            sa.ForeignKey("lc_photos.id", name="fk_lc_photo_hashes_photo_id_lc_photos"),
            nullable=False,
        ),
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.Column("check", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lc_photo_hashes"),
    )
    op.create_index("ix_lc_photo_hashes_photo_id", "lc_photo_hashes", ["photo_id"])
    op.create_table(
        "lc_votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "check_id",
            sa.Integer(),
            sa.ForeignKey("lc_checks.id", name="fk_lc_votes_check_id_lc_checks"),
            nullable=False,
        ),
        _member("member_id", "lc_votes", nullable=False),
        sa.Column("choice", sa.String(8), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lc_votes"),
        sa.UniqueConstraint("check_id", "member_id", name="uq_lc_votes_check_id"),
    )
    op.create_index("ix_lc_votes_check_id", "lc_votes", ["check_id"])
    op.create_index("ix_lc_votes_member_id", "lc_votes", ["member_id"])
    op.create_table(
        "lc_drafts",
        sa.Column(
            "check_id",
            sa.Integer(),
            sa.ForeignKey("lc_checks.id", name="fk_lc_drafts_check_id_lc_checks"),
            nullable=False,
        ),
        _member("member_id", "lc_drafts", nullable=False),
        sa.Column("choice", sa.String(8), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("check_id", "member_id", name="pk_lc_drafts"),
    )
    op.create_table(
        "lc_voters",
        _member("member_id", "lc_voters", nullable=False),
        sa.Column("agreed", sa.Integer(), nullable=False),
        sa.Column("disagreed", sa.Integer(), nullable=False),
        sa.Column("gold_right", sa.Integer(), nullable=False),
        sa.Column("gold_wrong", sa.Integer(), nullable=False),
        sa.Column("barred", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", name="pk_lc_voters"),
    )


def downgrade() -> None:
    op.drop_table("lc_voters")
    op.drop_table("lc_drafts")
    op.drop_index("ix_lc_votes_member_id", table_name="lc_votes")
    op.drop_index("ix_lc_votes_check_id", table_name="lc_votes")
    op.drop_table("lc_votes")
    op.drop_index("ix_lc_photo_hashes_photo_id", table_name="lc_photo_hashes")
    op.drop_table("lc_photo_hashes")
    op.drop_index("ix_lc_photos_check_id", table_name="lc_photos")
    op.drop_table("lc_photos")
    op.drop_index("ix_lc_checks_status_deadline", table_name="lc_checks")
    op.drop_index("ix_lc_checks_member_id", table_name="lc_checks")
    op.drop_table("lc_checks")
