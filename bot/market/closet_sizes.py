"""Sizes for /closet: a size is checked against the pair's audience, so a GS pair is owned in a
GS size (``5.5Y``), a toddler pair in a ``C`` size, and a men's pair in a men's size (also written
as women's, UK, EU or cm, converted the way alert rules convert them).

The stored key is reduced the way price observations reduce theirs (``bot.monitors.filters.size_key``),
so a closet ``5.5Y`` is valued from StockX's ``5.5Y`` sales.
"""

from __future__ import annotations

import re

from bot.alerts.sizes import WOMEN_OFFSET, SizeError, normalise_size
from bot.monitors.filters import size_key
from core.errors import UserError

_SIZE = re.compile(
    r"^(?:us\s*)?(?P<pre>wmns|w|m|gs|y|ps|td|c)?\s*(?P<n>\d{1,2}(?:\.5)?)\s*(?P<post>wmns|w|m|y|gs|c|ps|td)?$",
    re.IGNORECASE,
)
_SYSTEM = {"wmns": "w", "w": "w", "m": "m", "gs": "y", "y": "y", "ps": "c", "td": "c", "c": "c"}
RANGES = {
    "men": "men's sizes run 3 to 18",
    "women": "women's sizes run 4 to 15",
    "gs": "GS sizes run 3.5Y to 7Y",
    "ps": "PS sizes run 10.5C to 3Y",
    "td": "TD sizes run 1C to 10C",
}


def _show(value: float) -> str:
    return str(int(value)) if value.is_integer() else f"{value:g}"


def _label(value: float, system: str, audience: str) -> str | None:
    """The size as its audience writes it, or ``None`` if it lies outside that audience's run."""
    if audience == "men":
        if system == "w":
            value -= WOMEN_OFFSET
        return _show(value) if system in ("", "m", "w") and 3 <= value <= 18 else None
    if audience == "women":
        return _show(value) if system in ("", "w") and 4 <= value <= 15 else None
    if audience == "gs":
        return f"{_show(value)}Y" if system in ("", "y") and 3.5 <= value <= 7 else None
    if audience == "td":
        return f"{_show(value)}C" if system in ("", "c") and 1 <= value <= 10 else None
    if system in ("", "c") and 10.5 <= value <= 13.5:
        return f"{_show(value)}C"
    return f"{_show(value)}Y" if system in ("", "y") and 1 <= value <= 3 else None


def closet_size(raw: str, audience: str, pair: str) -> tuple[str, str]:
    """``(label, key)`` of ``raw`` for a pair of ``audience``; a ``UserError`` naming the sizes that
    exist when it is not one of them."""
    text = raw.strip()
    found = _SIZE.match(text)
    label: str | None = None
    if found is not None:
        markers = {_SYSTEM[m.lower()] for m in (found.group("pre"), found.group("post")) if m}
        if len(markers) <= 1:
            label = _label(float(found.group("n")), next(iter(markers), ""), audience)
    elif audience == "men":
        try:
            converted = normalise_size(text)
        except SizeError:
            converted = ""
        label = converted if re.fullmatch(r"\d{1,2}(?:\.5)?", converted) else None
    key = size_key(label) if label else None
    if label is None or key is None:
        raise UserError(f"Size `{text[:20]}` doesn't exist for {pair}: {RANGES.get(audience, RANGES['men'])}.")
    return label, key
