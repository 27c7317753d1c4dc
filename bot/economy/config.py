"""The ``[economy]`` section of bot.toml: limits, anti-abuse rules, earn rules and config-defined shop items."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from core.config import Section

SKU = re.compile(r"[a-z0-9][a-z0-9-]{0,23}")
ItemKind = Literal["role", "raffle_entry", "premium_feed", "flair"]
ITEM_KINDS: tuple[str, ...] = ("role", "raffle_entry", "premium_feed", "flair")


class EarnRule(Section):
    """What one event of a kind pays a member, and how often it may."""

    amount: int = Field(gt=0, le=1_000_000)
    #: most LACES one member may earn from this kind per UTC day; 0 means no cap
    daily_cap: int = Field(default=0, ge=0)
    #: least time between two awards of this kind to the same member
    cooldown_seconds: int = Field(default=0, ge=0)


class ShopItemConfig(Section):
    #: short enough that a buy button's command line fits Telegram's 64-byte callback data
    sku: str

    @field_validator("sku")
    @classmethod
    def _short_id(cls, value: str) -> str:
        if not SKU.fullmatch(value):
            raise ValueError("use 1 to 24 lowercase letters, digits or dashes, not starting with a dash")
        return value
    name: str = Field(min_length=1, max_length=100)
    kind: ItemKind
    price: int = Field(gt=0)
    #: a Discord role id, a raffle id, a feed name or the flair text, depending on ``kind``
    value: str = Field(min_length=1, max_length=100)
    #: how long a role or premium feed access lasts; None means for good
    days: int | None = Field(default=None, gt=0, le=3650)


def _default_rules() -> dict[str, EarnRule]:
    """Cooldowns only on what a member triggers themself (reports): an outcome others decide (a won
    vote, a reviewed trade, a confirmed sighting) would otherwise go unpaid when two land close together."""
    return {
        "restock_report": EarnRule(amount=2, daily_cap=10, cooldown_seconds=600),
        "restock_confirmed": EarnRule(amount=10, daily_cap=50, cooldown_seconds=300),
        "legit_vote_won": EarnRule(amount=5, daily_cap=25, cooldown_seconds=0),
        "trade_completed": EarnRule(amount=25, daily_cap=75, cooldown_seconds=0),
        "weekly_streak": EarnRule(amount=50, daily_cap=50, cooldown_seconds=0),
        "cop_win": EarnRule(amount=20, daily_cap=60, cooldown_seconds=0),
        "sighting_confirmed": EarnRule(amount=10, daily_cap=50, cooldown_seconds=0),
    }


class EconomySection(Section):
    currency: str = Field(default="LACES", min_length=1, max_length=16)
    #: the largest amount one tip, grant, revoke, price or raffle cost may be
    max_amount: int = Field(default=100_000, gt=0, le=10**12)
    #: a member must have existed this long before earn events pay them
    min_account_age_days: float = Field(default=3, ge=0)
    #: least time between two tips from the same sender to the same recipient
    tip_pair_cooldown_seconds: int = Field(default=3600, ge=0)
    history_page_size: int = Field(default=8, ge=1, le=25)
    leaderboard_page_size: int = Field(default=10, ge=1, le=25)
    #: the feed raffle openings and draws are announced to
    raffle_feed: str = "raffles"
    #: a drand chain's HTTP URL whose randomness, published after each raffle closes, is mixed into the
    #: draw (README: Raffles are provably fair); empty: the seed and the entrant list alone
    raffle_beacon: str = ""

    @field_validator("raffle_beacon")
    @classmethod
    def _beacon_url(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("give the drand chain's URL, e.g. https://api.drand.sh, or leave it empty")
        return value
    #: how often expired roles, due raffles and interrupted purchases are handled
    sweep_seconds: int = Field(default=30, ge=1, le=3600)
    earn: dict[str, EarnRule] = Field(default_factory=_default_rules)
    shop: list[ShopItemConfig] = Field(default_factory=list)
    #: Discord role ids (in a home server) that shop items may give; roles of ``shop`` items count too
    grantable_role_ids: list[int] = Field(default_factory=list)

    def grantable_roles(self) -> frozenset[int]:
        """Every role a purchase may give: the allow-list plus the roles bot.toml's own items give."""
        configured = {int(item.value) for item in self.shop if item.kind == "role" and item.value.isdigit()}
        return frozenset(self.grantable_role_ids) | configured

    @model_validator(mode="after")
    def _unique_skus(self) -> EconomySection:
        skus = [item.sku for item in self.shop]
        duplicates = sorted({sku for sku in skus if skus.count(sku) > 1})
        if duplicates:
            raise ValueError(f"shop sku {duplicates[0]!r} is defined twice")
        for item in self.shop:
            if item.price > self.max_amount:
                raise ValueError(f"shop item {item.sku!r} costs more than max_amount")
            if item.kind == "role" and not item.value.isdigit():
                raise ValueError(f"shop item {item.sku!r}: a role item's value is the Discord role id")
        return self


