"""The ``[drops]`` section of bot.toml."""

from __future__ import annotations

from pydantic import Field, field_validator

from core.config import Section

DEFAULT_RETAILERS = [
    "Nike SNKRS",
    "Nike",
    "Adidas Confirmed",
    "Adidas",
    "Foot Locker",
    "Champs",
    "JD Sports",
    "Finish Line",
    "END.",
    "Kith",
    "Undefeated",
    "Concepts",
    "Bodega",
    "Shoe Palace",
    "A Ma Maniere",
    "SNS",
    "Size?",
    "Offspring",
    "Hibbett",
    "DTLR",
    "New Balance",
    "Puma",
    "Converse",
    "StockX",
    "GOAT",
]


class DropsSection(Section):
    #: the feed confirmed drops are posted to (and their posts updated)
    feed: str = "drops"
    #: the feed mods get proposals in (with confirm / reject buttons)
    proposals_feed: str = "drops"
    #: retailers a drop may name (matched without case); anything else is refused
    retailers: list[str] = Field(default_factory=lambda: list(DEFAULT_RETAILERS))
    #: ``/remind`` without offsets
    default_offsets: str = "1d,1h,10m"
    #: the longest offset a member may ask for
    max_offset_days: int = Field(default=30, ge=1, le=365)
    max_offsets: int = Field(default=6, ge=1, le=20)
    #: how often the reminder planner runs (a moved release re-plans within this, plus the fan-out)
    planner_s: float = Field(default=10.0, ge=0.5, le=60)
    #: reminders land in this window before their due time (the fan-out starts early enough)
    arrival_window_s: float = Field(default=60.0, ge=5, le=3600)
    #: the last reminder of a wave is planned to land this long before its due time
    guard_s: float = Field(default=3.0, ge=0, le=300)
    #: the share of a platform's rate limit a fan-out counts on (other traffic, CPU)
    rate_share: float = Field(default=0.8, gt=0, le=1)
    #: a wave that fits the window starts ``slack`` times as early as it needs (up to the window)
    slack: float = Field(default=2.0, ge=1, le=20)
    #: outbox rows are written this long before their wave starts
    plan_ahead_s: float = Field(default=60.0, ge=1, le=3600)
    #: where calendar apps reach the bot's web server (``[ops]``), e.g. ``https://bot.example.com``;
    #: empty: ``http://<ops host>:<ops port>``
    calendar_base_url: str = ""
    #: the ``REFRESH-INTERVAL`` / ``X-PUBLISHED-TTL`` hint of the .ics feed, in minutes
    calendar_refresh_minutes: int = Field(default=60, ge=5, le=10080)
    #: VALARMs in the .ics (most calendar apps ignore a subscription's alarms; the bot is the channel)
    calendar_alarms: bool = True
    #: propose catalog pairs releasing within this many days
    propose_days: int = Field(default=60, ge=1, le=365)
    #: the release hour (in ``propose_timezone``) given to proposals from a date alone
    propose_hour: int = Field(default=10, ge=0, le=23)
    propose_timezone: str = "America/New_York"

    @field_validator("retailers")
    @classmethod
    def _retailers(cls, value: list[str]) -> list[str]:
        cleaned = [name.strip() for name in value if name.strip()]
        if not cleaned:
            raise ValueError("list at least one retailer")
        return cleaned
