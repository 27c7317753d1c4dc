"""The ``[market]`` section of bot.toml: Deadstock Detective's list and its prediction alerts."""

from __future__ import annotations

from pydantic import Field

from core.config import Section


class MarketSection(Section):
    #: pairs /detective lists
    detective_pairs: int = Field(default=10, ge=1, le=25)
    #: a pair needs this many sales in the price table before the detective ranks it
    detective_min_sales: int = Field(default=5, ge=1, le=1000)
    #: how long a fitted forecast is reused before the stored sales are read and fitted again
    detective_cache_s: float = Field(default=900.0, ge=0, le=86_400)
    #: a pair whose predicted 30-day rise reaches this percentage is published as a "prediction" event
    prediction_threshold_pct: float = Field(default=10.0, gt=0, le=1000)
    #: how often the prediction job looks for such pairs (each pair is published at most once a day)
    prediction_check_s: float = Field(default=3600.0, ge=10, le=86_400)
