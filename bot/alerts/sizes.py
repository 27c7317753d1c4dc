"""Shoe sizes: many spellings, one canonical key, so a rule for ``10`` matches a store's ``US 10``.

Rules (Nike/Jordan chart, the one most stores and StockX use):

* A bare number is a US men's size: ``10``, ``10.0``, ``US 10``, ``M 10``, ``10M``, ``US M 10`` → ``10``.
* Women's: ``W 11.5``, ``11.5W``, ``US W 11.5``, ``WMNS 11.5`` → men's = women's − 1.5 → ``10``.
* A combined label ``M 10 / W 11.5`` uses its first part (the men's size).
* Youth / grade school: ``5Y``, ``GS 5``, ``5.5 Y`` → ``5Y`` (its own system: a 5Y is not a men's 5 in every
  brand). Toddler / crib: ``10C``, ``TD 10``, ``PS 10`` → ``10C``.
* UK: ``UK 9`` → UK + 1 → ``10``. EU: ``EU 44`` → the Nike EU chart below (42.5 → 9, 44 → 10, 45 → 11).
  Japan / centimetres: ``JP 28``, ``28 cm`` → cm − 18 → ``10``.
* Apparel and accessories: ``XS``..``XXXL`` and ``OS`` (one size) stay as upper-case letters.
* Halves are kept (``10.5``); other fractions round to the nearest half. Men's sizes must lie in 1–22.

Anything else (``size 10``, ``AU 10``, ``EU 80``) is an error naming the unknown system, for rules. Sizes
arriving in events are parsed leniently: an unknown label is kept as-is, lower-cased, so it can still
equal itself.
"""

from __future__ import annotations

import functools
import math
import re

from core.errors import BadArgument

#: Nike's EU ↔ US men's chart (EU sizes are not a linear function of US ones)
EU_TO_US_MEN: dict[float, float] = {
    35.5: 3.5, 36: 4, 36.5: 4.5, 37.5: 5, 38: 5.5, 38.5: 6, 39: 6.5, 40: 7, 40.5: 7.5, 41: 8, 42: 8.5,
    42.5: 9, 43: 9.5, 44: 10, 44.5: 10.5, 45: 11, 45.5: 11.5, 46: 12, 47: 12.5, 47.5: 13, 48: 13.5,
    48.5: 14, 49: 14.5, 49.5: 15, 50.5: 16, 51.5: 17, 52.5: 18,
}
APPAREL = ("XXS", "XS", "S", "M", "L", "XL", "XXL", "XXXL", "2XL", "3XL", "OS")
WOMEN_OFFSET = 1.5
UK_OFFSET = 1.0
CM_OFFSET = 18.0

_NUMBER = r"(\d{1,2}(?:[.,]\d{1,2})?)"
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("men", re.compile(rf"^(?:US\s*)?(?:M(?:EN'?S)?\s*)?{_NUMBER}\s*(?:M|MEN'?S)?$")),
    ("women", re.compile(rf"^(?:US\s*)?(?:W|WMNS|WOMEN'?S)\s*{_NUMBER}$")),
    ("women", re.compile(rf"^(?:US\s*)?{_NUMBER}\s*(?:W|WMNS|WOMEN'?S)$")),
    ("youth", re.compile(rf"^(?:US\s*)?(?:GS|Y)\s*{_NUMBER}$")),
    ("youth", re.compile(rf"^(?:US\s*)?{_NUMBER}\s*(?:Y|GS)$")),
    ("toddler", re.compile(rf"^(?:US\s*)?(?:TD|PS|C)\s*{_NUMBER}$")),
    ("toddler", re.compile(rf"^(?:US\s*)?{_NUMBER}\s*(?:C|TD|PS)$")),
    ("uk", re.compile(rf"^UK\s*{_NUMBER}$")),
    ("eu", re.compile(rf"^EU\s*{_NUMBER}$")),
    ("cm", re.compile(rf"^(?:JP|CM)\s*{_NUMBER}$")),
    ("cm", re.compile(rf"^{_NUMBER}\s*CM$")),
]


class SizeError(BadArgument):
    def __init__(self, raw: str, problem: str) -> None:
        super().__init__("sizes", f"`{raw}`: {problem}")


def _half(value: float) -> float:
    """Nearest half size, halves rounding up (``round`` would send 10.25 to 10)."""
    return math.floor(value * 2 + 0.5) / 2


def _show(value: float) -> str:
    return str(int(value)) if value.is_integer() else f"{value:g}"


def _men(value: float, raw: str) -> str:
    if not 1 <= value <= 22:
        raise SizeError(raw, "men's US sizes run from 1 to 22")
    return _show(_half(value))


def normalise_size(raw: str) -> str:
    """The canonical key of a size label; raises ``SizeError`` (naming the field) if unknown."""
    text = raw.strip().upper().replace("½", ".5")
    first = text.split("/")[0].strip()
    if not first:
        raise SizeError(raw, "empty size")
    compact = re.sub(r"\s+", " ", first).replace("US ", "US")
    if compact in APPAREL:
        return compact
    for system, pattern in _PATTERNS:
        match = pattern.match(compact)
        if match is None:
            continue
        value = float(match.group(1).replace(",", "."))
        if system == "men":
            return _men(value, raw)
        if system == "women":
            return _men(value - WOMEN_OFFSET, raw)
        if system == "youth":
            return f"{_show(_half(value))}Y"
        if system == "toddler":
            return f"{_show(_half(value))}C"
        if system == "uk":
            return _men(value + UK_OFFSET, raw)
        if system == "eu":
            us = EU_TO_US_MEN.get(_half(value))
            if us is None:
                raise SizeError(raw, "not on the EU chart (35.5–52.5)")
            return _men(us, raw)
        return _men(value - CM_OFFSET, raw)
    raise SizeError(raw, "unknown size system; use e.g. 10, US 10, W 11.5, 5Y, UK 9, EU 44 or L")


@functools.lru_cache(maxsize=4096)
def event_size(raw: str) -> str:
    """Lenient form for sizes a store sent: canonical if we can, else the label lower-cased.
    Cached: stores repeat the same few dozen labels in every event."""
    try:
        return normalise_size(raw)
    except SizeError:
        return raw.strip().lower()


def parse_sizes(text: str) -> list[str]:
    """``10, 10.5, EU 44`` → canonical keys, de-duplicated, in the order given."""
    out: list[str] = []
    for part in re.split(r"[,;|]", text):
        if part.strip():
            key = normalise_size(part)
            if key not in out:
                out.append(key)
    return out
