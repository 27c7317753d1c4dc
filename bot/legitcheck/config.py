"""The ``[legitcheck]`` section of bot.toml: photo limits, quorum, weights, deadlines and the feed."""

from __future__ import annotations

from pydantic import Field, model_validator

from core.config import Section
from core.photos import PhotoLimits


class LegitCheckSection(Section):
    #: the feed each check's card is posted to (one of [feeds] names; cards are not posted without it)
    feed: str = "lc"
    #: photo limits and where photos are kept (``[legitcheck.photos]``: max_mb, max_count, folder...)
    photos: PhotoLimits = Field(default_factory=PhotoLimits)
    #: a check needs at least this many photos (the required shots are listed when fewer come)
    min_photos: int = Field(default=3, ge=1, le=10)
    #: checks close early once this many members voted AND their weights add up to ``min_weight``...
    min_voters: int = Field(default=5, ge=1, le=100)
    min_weight: float = Field(default=3.0, gt=0, le=1000)
    #: ...with one side holding at least this share of the weight and leading the other by ``min_lead``
    #: (weights are log-odds, so the lead is the log-odds of the verdict); otherwise at the deadline,
    #: where the share alone decides
    majority: float = Field(default=0.6, gt=0.5, le=1.0)
    min_lead: float = Field(default=4.5, ge=0, le=1000)
    deadline_hours: float = Field(default=24.0, gt=0, le=24 * 14)
    #: a member's weight: ``new_member_weight`` until they have a record, then the log-odds of their
    #: smoothed agreement, between ``new_member_weight`` and ``max_weight``
    new_member_weight: float = Field(default=0.5, gt=0, le=100)
    max_weight: float = Field(default=4.0, gt=0, le=100)
    #: a known answer (gold check) counts this many times a verdict agreement
    gold_factor: float = Field(default=3.0, ge=1, le=20)
    #: votes on one submitter's checks beyond this many earlier ones weigh less (``1 / (1 + extra)``):
    #: a group vouching for each other's pairs loses its pull
    friend_allowance: int = Field(default=1, ge=0, le=1000)
    #: members ("discord:ID", "telegram:ID") who vote with ``authenticator_weight`` and hear appeals
    authenticators: list[str] = Field(default_factory=list)
    authenticator_weight: float = Field(default=4.0, gt=0, le=100)
    #: a submitter may appeal a verdict once, within this many hours of it
    appeal_hours: float = Field(default=72.0, gt=0, le=24 * 60)
    #: two photos are the same when their average hashes differ in at most ``match_bits`` of 64 bits
    #: and their DCT hashes (same window, same orientation) in at most ``check_bits``
    match_bits: int = Field(default=10, ge=0, le=16)
    check_bits: int = Field(default=12, ge=0, le=32)
    #: how often due deadlines are looked for (they live in the database, so any process closes them)
    sweep_seconds: int = Field(default=30, ge=1, le=3600)

    @model_validator(mode="after")
    def _weights(self) -> LegitCheckSection:
        if self.max_weight < self.new_member_weight:
            raise ValueError("max_weight must be at least new_member_weight")
        return self
