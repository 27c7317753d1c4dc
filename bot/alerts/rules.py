"""Alert rules as members type them, validated into stored rows and compiled into matcher criteria.

Text formats (the same on every platform):

* ``keywords``: words that must all appear in the product title, e.g. ``jordan 4 bred``.
* ``any``: groups of alternatives, groups split by ``;``, alternatives by ``|``: ``chicago|bred; high|og``.
* ``exclude``: words that veto a match: ``gs td``.
* ``brands``, ``stores``, ``kinds``, ``channels``: comma-separated lists.
* ``sizes``: comma-separated sizes in any system (see ``bot.alerts.sizes``).
* ``near``: ``lat,lon`` with ``radius`` in km (default 25).

Every error names the field it is about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.alerts.matcher import EVENT_KINDS, Criteria, RuleRef, fold, words
from bot.alerts.models import AlertRule
from bot.alerts.sizes import parse_sizes
from core.errors import BadArgument, UserError
from core.geo import parse_lat_lon
from core.identity import CHANNELS

#: a value that clears an optional field in ``/alerts edit``
CLEAR = {"-", "none", "clear", "any"}
DEFAULT_RADIUS_KM = 25.0
DEFAULT_KINDS = ["restock", "new_product"]
_HOST = re.compile(r"^[a-z0-9.-]+\.[a-z]{2,}$")


@dataclass
class RuleInput:
    """The optional fields of ``/alerts add`` and ``/alerts edit`` (None: not given)."""

    name: str | None = None
    keywords: str | None = None
    any: str | None = None
    exclude: str | None = None
    brands: str | None = None
    stores: str | None = None
    sizes: str | None = None
    min_price: float | None = None
    max_price: float | None = None
    min_deal: float | None = None
    near: str | None = None
    radius: float | None = None
    kinds: str | None = None
    channels: str | None = None
    priority: str | None = None


def _list(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,;]", text) if part.strip()]


def _cleared(text: str | None) -> bool:
    return text is not None and text.strip().lower() in CLEAR


def parse_keywords(text: str, field: str) -> list[str]:
    found = list(dict.fromkeys(words(text)))
    if not found:
        raise BadArgument(field, "needs at least one letter or digit")
    return found


def parse_any(text: str) -> list[list[str]]:
    groups: list[list[str]] = []
    for raw_group in text.split(";"):
        group = sorted({word for alt in raw_group.split("|") for word in words(alt)})
        if group:
            groups.append(group)
    if not groups:
        raise BadArgument("any", "expected alternatives like `chicago|bred; high|og`")
    return groups


def parse_stores(text: str) -> list[str]:
    stores: list[str] = []
    for raw in _list(text):
        host = raw.lower().removeprefix("https://").removeprefix("http://").split("/")[0].removeprefix("www.")
        if not _HOST.match(host):
            raise BadArgument("stores", f"`{raw}` is not a store host like kith.com")
        stores.append(host)
    return list(dict.fromkeys(stores))


def parse_kinds(text: str) -> list[str]:
    kinds: list[str] = []
    for raw in _list(text):
        kind = raw.lower().replace(" ", "_").replace("-", "_")
        kind = {"new": "new_product", "drop": "drop_reminder", "price": "price_drop", "predictions": "prediction"}.get(
            kind, kind
        )
        if kind not in EVENT_KINDS:
            raise BadArgument("kinds", f"`{raw}` is not one of {', '.join(EVENT_KINDS)}")
        kinds.append(kind)
    return list(dict.fromkeys(kinds))


def parse_channels(text: str) -> list[str]:
    channels = [c.lower() for c in _list(text.replace(">", ","))]
    for channel in channels:
        if channel not in CHANNELS:
            raise BadArgument("channels", f"`{channel}` is not one of {', '.join(CHANNELS)}")
    if len(set(channels)) != len(channels):
        raise BadArgument("channels", "list each channel at most once")
    return channels


def parse_near(text: str) -> tuple[float, float]:
    return parse_lat_lon(text, "near")


def apply(rule: AlertRule, given: RuleInput) -> None:
    """Apply the fields that were given to ``rule`` (a new or an existing one), then check it whole."""
    if given.name is not None:
        rule.name = given.name.strip()[:60]
    text_fields: list[tuple[str, str | None, Any]] = [
        ("keywords", given.keywords, lambda t: parse_keywords(t, "keywords")),
        ("any_groups", given.any, parse_any),
        ("exclude", given.exclude, lambda t: parse_keywords(t, "exclude")),
        ("brands", given.brands, lambda t: [fold(b) for b in _list(t) if fold(b)]),
        ("stores", given.stores, parse_stores),
        ("sizes", given.sizes, parse_sizes),
        ("kinds", given.kinds, parse_kinds),
        ("channels", given.channels, parse_channels),
    ]
    for attribute, value, parse in text_fields:
        if value is None:
            continue
        setattr(rule, attribute, [] if _cleared(value) else parse(value))
    if given.min_price is not None:
        rule.price_min = given.min_price if given.min_price > 0 else None
    if given.max_price is not None:
        rule.price_max = given.max_price if given.max_price > 0 else None
    if given.min_deal is not None:
        rule.min_deal = given.min_deal if given.min_deal > 0 else None
    if given.near is not None:
        if _cleared(given.near):
            rule.latitude = rule.longitude = rule.radius_km = None
        else:
            rule.latitude, rule.longitude = parse_near(given.near)
            rule.radius_km = rule.radius_km or DEFAULT_RADIUS_KM
    if given.radius is not None:
        if rule.latitude is None:
            raise BadArgument("radius", "give `near` (latitude,longitude) with a radius")
        rule.radius_km = given.radius
    if given.priority is not None:
        rule.high_priority = given.priority.lower() == "high"
    validate(rule)


def validate(rule: AlertRule) -> None:
    has_criteria = any(
        [
            rule.keywords,
            rule.any_groups,
            rule.brands,
            rule.stores,
            rule.sizes,
            rule.price_min is not None,
            rule.price_max is not None,
            rule.min_deal is not None,
            rule.latitude is not None,
        ]
    )
    if not has_criteria:
        raise UserError(
            "A rule needs at least one criterion: keywords, any, brands, stores, sizes, "
            "min_price/max_price, min_deal or near."
        )
    if rule.price_min is not None and rule.price_max is not None and rule.price_min > rule.price_max:
        raise BadArgument("max_price", f"{rule.price_max:g} is below min_price {rule.price_min:g}")
    overlap = set(rule.keywords) & set(rule.exclude)
    if overlap:
        raise BadArgument("exclude", f"`{sorted(overlap)[0]}` is also a required keyword")
    if not rule.kinds:
        rule.kinds = list(DEFAULT_KINDS)
    if not rule.name:
        rule.name = (" ".join(rule.keywords) or ", ".join(rule.brands) or "alert")[:60]


def compile_rule(rule: AlertRule, member_id: int | None = None) -> RuleRef:
    location = None
    if rule.latitude is not None and rule.longitude is not None:
        location = (rule.latitude, rule.longitude, rule.radius_km or DEFAULT_RADIUS_KM)
    criteria = Criteria(
        keywords=frozenset(rule.keywords),
        any_groups=tuple(frozenset(group) for group in rule.any_groups),
        exclude=frozenset(rule.exclude),
        brands=frozenset(rule.brands),
        stores=frozenset(rule.stores),
        sizes=frozenset(rule.sizes),
        price_min=rule.price_min,
        price_max=rule.price_max,
        min_deal=rule.min_deal,
        location=location,
        kinds=frozenset(rule.kinds or DEFAULT_KINDS),
    )
    return RuleRef(rule.id, member_id or rule.member_id, criteria, rule.high_priority)


def describe(rule: AlertRule) -> str:
    """One line summarising the rule, for lists and confirmations."""
    parts: list[str] = []
    if rule.keywords:
        parts.append(" ".join(rule.keywords))
    parts.extend("(" + " | ".join(group) + ")" for group in rule.any_groups)
    if rule.exclude:
        parts.append("not " + " ".join(rule.exclude))
    if rule.brands:
        parts.append("brand " + ", ".join(rule.brands))
    if rule.stores:
        parts.append("at " + ", ".join(rule.stores))
    if rule.sizes:
        parts.append("size " + ", ".join(rule.sizes))
    if rule.price_min is not None or rule.price_max is not None:
        low = f"{rule.price_min:g}" if rule.price_min is not None else "0"
        high = f"{rule.price_max:g}" if rule.price_max is not None else "∞"
        parts.append(f"${low}–{high}")
    if rule.min_deal is not None:
        parts.append(f"deal ≥ {rule.min_deal:g}%")
    if rule.latitude is not None:
        parts.append(f"within {rule.radius_km:g} km")
    parts.append("kinds " + ", ".join(rule.kinds or DEFAULT_KINDS))
    if rule.channels:
        parts.append("via " + " → ".join(rule.channels))
    if rule.high_priority:
        parts.append("**high priority**")
    return " · ".join(parts)
