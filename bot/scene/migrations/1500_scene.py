"""scene: member locations, plug follows, sightings and their confirmations

Revision ID: 1500_scene
Revises: 0001_core
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.storage.types import UtcDateTime

revision = "1500_scene"
down_revision = "0001_core"
branch_labels = ("scene",)
depends_on = None


def _member(column: str, table: str) -> sa.Column[int]:
    return sa.Column(
        column,
        sa.Integer(),
        sa.ForeignKey("members.id", name=f"fk_{table}_{column}_members", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "scene_locations",
        _member("member_id", "scene_locations"),
        sa.Column("geonameid", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(160), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("geohash", sa.String(12), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", name="pk_scene_locations"),
    )
    op.create_index("ix_scene_locations_geohash", "scene_locations", ["geohash"])
    op.create_table(
        "scene_follows",
        sa.Column("id", sa.Integer(), nullable=False),
        _member("follower_id", "scene_follows"),
        _member("plug_id", "scene_follows"),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scene_follows"),
        sa.UniqueConstraint("follower_id", "plug_id", name="uq_scene_follows_follower_id"),
    )
    op.create_index("ix_scene_follows_plug_id", "scene_follows", ["plug_id"])
    op.create_table(
        "scene_sightings",
        sa.Column("id", sa.Integer(), nullable=False),
        _member("member_id", "scene_sightings"),
        sa.Column("store", sa.String(100), nullable=False),
        sa.Column("item", sa.String(200), nullable=False),
        sa.Column("sizes", sa.JSON(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("geohash", sa.String(12), nullable=False),
        sa.Column("area", sa.String(160), nullable=False),
        sa.Column("photo", sa.String(200)),
        sa.Column("request_key", sa.String(160), nullable=False),
        sa.Column("confirmations", sa.Integer(), nullable=False),
        sa.Column("confirmed_at", UtcDateTime()),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scene_sightings"),
        sa.UniqueConstraint("request_key", name="uq_scene_sightings_request_key"),
    )
    op.create_index("ix_scene_sightings_member_id", "scene_sightings", ["member_id"])
    op.create_index("ix_scene_sightings_geohash", "scene_sightings", ["geohash"])
    op.create_index("ix_scene_sightings_created_at", "scene_sightings", ["created_at"])
    op.create_table(
        "scene_confirmations",
        sa.Column(
            "sighting_id",
            sa.Integer(),
            sa.ForeignKey(
                "scene_sightings.id", name="fk_scene_confirmations_sighting_id_scene_sightings", ondelete="CASCADE"
            ),
            nullable=False,
        ),
        _member("member_id", "scene_confirmations"),
        sa.Column("request_key", sa.String(160), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sighting_id", "member_id", name="pk_scene_confirmations"),
    )


def downgrade() -> None:
    op.drop_table("scene_confirmations")
    op.drop_index("ix_scene_sightings_created_at", table_name="scene_sightings")
    op.drop_index("ix_scene_sightings_geohash", table_name="scene_sightings")
    op.drop_index("ix_scene_sightings_member_id", table_name="scene_sightings")
    op.drop_table("scene_sightings")
    op.drop_index("ix_scene_follows_plug_id", table_name="scene_follows")
    op.drop_table("scene_follows")
    op.drop_index("ix_scene_locations_geohash", table_name="scene_locations")
    op.drop_table("scene_locations")
