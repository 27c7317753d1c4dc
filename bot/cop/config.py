"""The ``[cop]`` section of bot.toml: practice timing, group drop limits and tournament prizes."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from core.config import Section

Prize = Annotated[int, Field(gt=0, le=1_000_000)]


class CopSection(Section):
    #: the feed group drops are announced and settled in (one of [feeds] names)
    feed: str = "cop"
    #: a practice drop never opens sooner than this many seconds after /cop practice ...
    countdown_s: float = Field(default=10.0, ge=0, le=600)
    #: ... and opens at a moment drawn uniformly from the next ``random_window_s`` seconds after that
    random_window_s: float = Field(default=30.0, ge=0, le=3600)
    #: how long a practice drop takes checkouts once it has opened
    practice_window_s: int = Field(default=120, ge=10, le=3600)
    #: how long a group drop takes checkouts once it has opened (it closes sooner when it sells out)
    group_window_s: int = Field(default=600, ge=10, le=86_400)
    #: the most pairs one group drop may offer
    max_stock: int = Field(default=100, ge=1, le=10_000)
    #: how far ahead /cop schedule may place a drop
    max_schedule_days: int = Field(default=30, ge=1, le=365)
    #: characters of the confirmation code a member types back (``/cop confirm K7QF``)
    code_length: int = Field(default=4, ge=3, le=8)
    #: wrong codes that void an entry (one entry per member per drop, so the code can't be guessed)
    max_wrong_codes: int = Field(default=3, ge=1, le=10)
    #: the [economy.earn] rule a group drop winner is paid by; "" pays nothing
    earn_kind: str = Field(default="cop_win", max_length=32)
    #: LACES paid from the treasury (the economy's ``shop`` account) to the month's top finishers,
    #: first place first; the month's group drops decide the order
    tournament_prizes: list[Prize] = Field(default_factory=lambda: [300, 150, 75], max_length=10)
    #: how often due drops are opened and closed and finished months are paid (besides the exact
    #: one-off jobs each drop schedules)
    sweep_seconds: float = Field(default=5.0, ge=1, le=300)
