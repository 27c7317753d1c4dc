"""The ``[alerts]`` section of bot.toml."""

from __future__ import annotations

from pydantic import Field

from core.config import Section


class AlertsSection(Section):
    #: events kept for /alerts test
    recent_events: int = Field(default=200, ge=10, le=10_000)
    #: how many of them /alerts test looks at
    test_events: int = Field(default=20, ge=1, le=200)
    max_rules_per_member: int = Field(default=25, ge=1, le=1000)
    default_digest_hour: int = Field(default=9, ge=0, le=23)
    #: members written to the outbox per transaction in a fan-out (the first chunk is small so the
    #: first alert leaves at once)
    fanout_chunk: int = Field(default=250, ge=10, le=100_000)
    first_chunk: int = Field(default=3, ge=1, le=10_000)
    #: items listed in one digest message
    digest_items: int = Field(default=15, ge=1, le=100)
    #: how often the digest and recovery job runs, in seconds
    housekeeping_s: float = Field(default=60.0, ge=1, le=3600)
