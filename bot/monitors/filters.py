"""Per-monitor filters: keywords (``+word``, ``-word``, ``a|b`` groups) and sizes.

Keywords match whole words of the product's title, handle, brand, type and tags, case-insensitively,
so ``4`` matches "Jordan 4" but not "Jordan 40". A keyword written with dashes (``air-max``) is a
phrase: its words must appear in that order. A bare word means the same as ``+word``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")
_NUMBER = re.compile(r"\d{1,2}(?:[.,]\d)?")
_LETTER_SIZES = {"xxs", "xs", "s", "m", "l", "xl", "xxl", "xxxl", "2xl", "3xl", "os"}


def words(text: str) -> str:
    """``text`` as lowercase words joined by single spaces, padded so phrases match on boundaries."""
    return " " + " ".join(_WORD.findall(text.lower())) + " "


def _phrase(token: str) -> str:
    found = _WORD.findall(token.lower())
    if not found:
        raise ValueError(f"`{token}` has no letters or digits to match")
    return " ".join(found)


@dataclass(frozen=True)
class KeywordFilter:
    required: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    any_of: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> KeywordFilter:
        """Raises ``ValueError`` with a message fit for the user."""
        required: list[str] = []
        excluded: list[str] = []
        groups: list[tuple[str, ...]] = []
        for token in (text or "").replace(",", " ").split():
            if "|" in token:
                options = [part.lstrip("+") for part in token.split("|")]
                if any(not part or part.startswith("-") for part in options):
                    raise ValueError(f"`{token}`: write an OR group as `a|b`, with no empty or `-` parts")
                groups.append(tuple(_phrase(part) for part in options))
            elif token.startswith("-"):
                if len(token) == 1:
                    raise ValueError("a lone `-` excludes nothing; write `-kids`")
                excluded.append(_phrase(token[1:]))
            else:
                bare = token.removeprefix("+")
                if not bare:
                    raise ValueError("a lone `+` requires nothing; write `+jordan`")
                required.append(_phrase(bare))
        return cls(tuple(required), tuple(excluded), tuple(groups))

    def __bool__(self) -> bool:
        return bool(self.required or self.excluded or self.any_of)

    def matches(self, haystack: str) -> bool:
        """``haystack`` is the output of ``words``."""
        if any(f" {word} " not in haystack for word in self.required):
            return False
        if any(f" {word} " in haystack for word in self.excluded):
            return False
        return all(any(f" {word} " in haystack for word in group) for group in self.any_of)

    def describe(self) -> str:
        parts = [f"+{w}" for w in self.required] + ["|".join(g) for g in self.any_of]
        parts += [f"-{w}" for w in self.excluded]
        return " ".join(part.replace(" ", "-") for part in parts)


def size_key(size: str | None) -> str | None:
    """A size reduced for matching: ``US 10``, ``10.0`` and ``M 10 / W 11.5`` → ``10``; ``EU 44`` →
    ``eu44``; ``UK 9`` → ``uk9``; letter sizes lowercased. ``None`` if nothing size-like is in it."""
    if size is None:
        return None
    text = size.strip().lower()
    if text in _LETTER_SIZES:
        return text
    match = _NUMBER.search(text)
    if match is None:
        return None
    number = match.group(0).replace(",", ".")
    if number.endswith(".0"):
        number = number[:-2]
    prefix = text[: match.start()]
    system = "eu" if "eu" in prefix else "uk" if "uk" in prefix else ""
    return system + number


def parse_sizes(text: str | None) -> list[str]:
    """``9, 9.5 10`` → ``["9", "9.5", "10"]``; raises ``ValueError`` on something that is not a size."""
    sizes: list[str] = []
    for token in re.split(r"[,\s]+", (text or "").strip()):
        if not token:
            continue
        key = size_key(token)
        if key is None or len(token) > 12:
            raise ValueError(f"`{token}` is not a size; write sizes like `9, 9.5, 10`")
        if key not in sizes:
            sizes.append(key)
    return sizes


def wanted_sizes(sizes: Iterable[str], wanted: Iterable[str]) -> list[str]:
    """The entries of ``sizes`` whose size key is in ``wanted`` (all of them when ``wanted`` is empty)."""
    keys = set(wanted)
    listed = list(sizes)
    if not keys:
        return listed
    return [size for size in listed if size_key(size) in keys]
