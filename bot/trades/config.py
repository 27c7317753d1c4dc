"""The ``[trades]`` section of bot.toml: the matcher's cycle cap and filters, proposal deadlines and
the rules that keep reputation from being farmed."""

from __future__ import annotations

from pydantic import Field, field_validator

from core.config import Section
from core.photos import PhotoLimits


class TradesSection(Section):
    #: longest trade cycle the matcher proposes (2 = direct swaps only; 0 = unbounded). Shipping
    #: chains are risky: every extra member is one more parcel that can go missing.
    max_cycle: int = Field(default=3, ge=0, le=20)
    #: a listing change waits this long for others before the matcher runs, so a burst of edits
    #: costs one solve
    debounce_seconds: float = Field(default=30.0, ge=0, le=3600)
    #: how often the scheduler looks for a due solve and for expired proposals
    check_seconds: float = Field(default=15.0, ge=1, le=3600)
    #: how long members have to accept a proposal
    proposal_hours: float = Field(default=48.0, gt=0, le=24 * 14)
    #: each side of a trade must be worth within this percentage of the other at market (price
    #: table 30-day median); None switches the balance off
    value_balance_pct: float | None = Field(default=None, gt=0, le=1000)
    #: the largest meet-up radius a local-only listing may ask for
    max_local_km: float = Field(default=200.0, gt=0, le=2000)
    #: a review of this many stars or more earns the reviewed member LACES (economy earn rule)
    good_review_stars: int = Field(default=4, ge=1, le=5)
    #: the economy earn rule a completed trade with a good review pays through
    earn_kind: str = Field(default="trade_completed", min_length=1, max_length=40)
    #: trades between the same two members closer together than this add to reputation once
    repeat_window_days: float = Field(default=30.0, ge=0, le=3650)
    #: trades where either account is younger than this don't add to reputation
    min_account_age_days: float = Field(default=14.0, ge=0, le=3650)
    #: a feed that disputes are posted to for mods (empty: only ``/trades disputes`` lists them)
    dispute_feed: str = ""
    #: most open listings (haves plus wants) one member may keep
    max_listings: int = Field(default=100, ge=1, le=10_000)
    #: photos a have may carry (``[trades.photos]``: max_mb, max_count, folder...)
    photos: PhotoLimits = Field(default_factory=lambda: PhotoLimits(max_count=4))

    @field_validator("max_cycle")
    @classmethod
    def _not_one(cls, value: int) -> int:
        if value == 1:
            raise ValueError("a cycle needs at least 2 members (use 0 for unbounded)")
        return value
