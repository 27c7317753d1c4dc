"""Tables of the local scene.

- ``scene_locations``: a member's coarse location, the centre of the city they named (never a GPS
  point), with its geohash; shown to others only as a distance band.
- ``scene_follows``: who follows which plug; a followed plug's new listings reach the follower.
- ``scene_sightings``: in-store sightings (``/spot``), filed under the geohash of the spotter's city;
  ``request_key`` is the platform's request id, so a redelivered /spot posts once.
- ``scene_confirmations``: one per sighting and confirming member.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models import Base
from core.storage.types import utcnow


class MemberLocation(Base):
    __tablename__ = "scene_locations"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    geonameid: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(160))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    geohash: Mapped[str] = mapped_column(String(12), index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlugFollow(Base):
    __tablename__ = "scene_follows"
    __table_args__ = (UniqueConstraint("follower_id", "plug_id", name="uq_scene_follows_follower_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    follower_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    plug_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Sighting(Base):
    __tablename__ = "scene_sightings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    store: Mapped[str] = mapped_column(String(100))
    item: Mapped[str] = mapped_column(String(200))
    sizes: Mapped[list[str]] = mapped_column(JSON, default=list)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    geohash: Mapped[str] = mapped_column(String(12), index=True)
    area: Mapped[str] = mapped_column(String(160))
    photo: Mapped[str | None] = mapped_column(String(200), default=None)
    request_key: Mapped[str] = mapped_column(String(160), unique=True)
    confirmations: Mapped[int] = mapped_column(Integer, default=0)
    confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class SightingConfirmation(Base):
    __tablename__ = "scene_confirmations"

    sighting_id: Mapped[int] = mapped_column(ForeignKey("scene_sightings.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    request_key: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
