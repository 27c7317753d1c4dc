"""The ``[scene]`` section of bot.toml: distance bands, plug search limits, sightings and the heat map."""

from __future__ import annotations

import itertools

from pydantic import Field, field_validator

from core.config import Section
from core.photos import PhotoLimits


class SceneSection(Section):
    #: upper edges of the distance bands members see instead of distances ("< 10 km", "10–25 km", …)
    distance_bands_km: list[float] = Field(default_factory=lambda: [10.0, 25.0, 50.0, 100.0, 250.0])
    #: /plug without a radius looks this far
    plug_radius_km: float = Field(default=50.0, gt=0, le=20_000)
    #: a larger radius is refused: a "plug" across a continent is no plug
    max_radius_km: float = Field(default=500.0, gt=0, le=20_000)
    #: plugs one /plug lists
    plug_results: int = Field(default=10, ge=1, le=25)
    #: a member's reputation score must reach this to be listed as a plug
    min_plug_score: float = Field(default=0.0, ge=0)
    #: the channel feed sightings are posted to (add it to [feeds] names to bind it); "" posts none
    spotted_feed: str = "spotted"
    #: characters of the geohash that names a sighting's area (4: cells of about 39 × 20 km)
    geohash_precision: int = Field(default=4, ge=2, le=6)
    #: confirmations by other members that make a sighting confirmed (and pay its spotter)
    confirmations_needed: int = Field(default=2, ge=1, le=20)
    #: a sighting can be confirmed for this long after it was posted
    confirm_hours: float = Field(default=12.0, gt=0, le=168)
    #: the economy earn rule a confirmed sighting pays through
    sighting_earn_kind: str = Field(default="sighting_confirmed", min_length=1, max_length=64)
    #: the photo a /spot may carry
    photos: PhotoLimits = Field(default_factory=lambda: PhotoLimits(max_count=1))
    #: /heatmap without days shows this many; more than max_days is refused
    heatmap_days: int = Field(default=14, ge=1, le=365)
    heatmap_max_days: int = Field(default=90, ge=1, le=365)
    #: half-width of a heat map around a city, in km
    heatmap_radius_km: float = Field(default=150.0, ge=10, le=3000)

    @field_validator("distance_bands_km")
    @classmethod
    def _increasing(cls, value: list[float]) -> list[float]:
        if not value or any(b <= a for a, b in itertools.pairwise(value)) or value[0] <= 0:
            raise ValueError("give one or more positive band edges in increasing order, e.g. [10, 25, 50]")
        return value
