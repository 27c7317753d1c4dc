"""Sneaker names as members type them and as catalogs write them: folding, audiences, abbreviations,
brand and model, and the stable key a re-import finds a product by.

Everything here is pure and fast: search folds every query with it, the importer every row.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

AUDIENCES = ("men", "women", "gs", "ps", "td")
AUDIENCE_LABELS = {"men": "Men's", "women": "Women's", "gs": "GS", "ps": "PS", "td": "TD"}

#: a catalog name's audience marker: ``(GS)``, ``(W)``, ``(Women's)``...
_MARKERS = {
    "gs": "gs",
    "w": "women",
    "women's": "women",
    "womens": "women",
    "wmns": "women",
    "ps": "ps",
    "kids": "ps",
    "td": "td",
    "infants": "td",
    "infant": "td",
    "toddler": "td",
}
_MARKER = re.compile(r"\s*\((" + "|".join(re.escape(m) for m in _MARKERS) + r")\)", re.IGNORECASE)

#: audience words in a query, folded; two-word ones are joined first (``grade school`` → ``gradeschool``)
QUERY_AUDIENCE = {
    "gs": "gs",
    "gradeschool": "gs",
    "ps": "ps",
    "preschool": "ps",
    "kids": "ps",
    "td": "td",
    "toddler": "td",
    "infant": "td",
    "infants": "td",
    "baby": "td",
    "womens": "women",
    "women": "women",
    "woman": "women",
    "wmns": "women",
    "wmn": "women",
    "w": "women",
    "ladies": "women",
    "mens": "men",
    "men": "men",
}
_TWO_WORD_AUDIENCE = re.compile(r"\bgrade school\b|\bpre school\b")

#: community abbreviations; ``CatalogAlias`` rows extend (or override) these
BUILTIN_ALIASES: dict[str, str] = {
    "aj": "jordan",
    "air jordan": "jordan",
    "af1": "air force 1",
    "af": "air force",
    "am": "air max",
    "yzy": "yeezy",
    "yeezys": "yeezy",
    "nb": "new balance",
    "ts": "travis scott",
    "travis": "travis scott",
    "cactus jack": "travis scott",
    "ow": "off white",
    "offwhite": "off white",
    "cdg": "comme des garcons",
    "vm": "vapormax",
    "bb": "bad bunny",
    "uni": "university",
    "ua": "under armour",
    "tnf": "the north face",
    "mcqueen": "alexander mcqueen",
    "nike sb": "sb",
    "lo": "low",
    "hi": "high",
}
#: abbreviations glued to a number: ``aj1`` → ``jordan 1``, ``am90`` → ``air max 90``, ``nb550`` → ``new balance 550``
_NUMBERED = re.compile(r"^(aj|j|af|am|nb|yzy|yeezy|jordan|dunk|max|vm)(\d+[a-z]?)$")
_NUMBERED_EXPANSION = {
    "aj": "jordan",
    "j": "jordan",
    "af": "air force",
    "am": "air max",
    "nb": "new balance",
    "yzy": "yeezy",
    "yeezy": "yeezy",
    "jordan": "jordan",
    "dunk": "dunk",
    "max": "max",
    "vm": "vapormax",
}

_NON_WORD = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """Lowercase ASCII words separated by single spaces: accents dropped, apostrophes joined
    (``women's`` → ``womens``, ``'07`` → ``07``), ``&`` read as ``and``, other punctuation a space."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    text = text.replace("'", "").replace("\u2019", "").replace("&", " and ")
    return _NON_WORD.sub(" ", text).strip()


def split_audience(name: str) -> tuple[str, str]:
    """``("Nike Dunk Low Panda", "gs")`` for ``Nike Dunk Low Panda (GS)``; no marker means men's."""
    found = _MARKER.search(name)
    if found is None:
        return name.strip(), "men"
    return (name[: found.start()] + name[found.end() :]).strip(), _MARKERS[found.group(1).lower()]


def expand(words: Iterable[str], aliases: Mapping[str, str]) -> list[str]:
    """Folded words with abbreviations replaced by what they stand for, two-word ones first."""
    source = list(words)
    out: list[str] = []
    index = 0
    while index < len(source):
        word = source[index]
        pair = f"{word} {source[index + 1]}" if index + 1 < len(source) else None
        if pair is not None and pair in aliases:
            out.extend(aliases[pair].split())
            index += 2
            continue
        numbered = _NUMBERED.match(word)
        if word in aliases:
            out.extend(aliases[word].split())
        elif numbered is not None:
            out.extend(_NUMBERED_EXPANSION[numbered.group(1)].split())
            out.append(numbered.group(2))
        else:
            out.append(word)
        index += 1
    return out


def name_words(name: str, aliases: Mapping[str, str] = BUILTIN_ALIASES) -> list[str]:
    """The searchable words of a catalog name (audience marker removed), aliases expanded so
    ``Air Jordan 1`` and ``Jordan 1`` index alike."""
    base, _ = split_audience(name)
    return expand(fold(base).split(), aliases)


@dataclass(frozen=True)
class Query:
    words: list[str]
    #: the audience the member asked for, ``None`` when they named none
    audience: str | None


def parse_query(text: str, aliases: Mapping[str, str]) -> Query:
    """Fold a member's query, pull out its audience words and expand abbreviations."""
    folded = _TWO_WORD_AUDIENCE.sub(lambda m: m.group(0).replace(" ", ""), fold(text))
    audience: str | None = None
    words: list[str] = []
    for word in folded.split():
        if word in QUERY_AUDIENCE:
            audience = QUERY_AUDIENCE[word]
        else:
            words.append(word)
    return Query(expand(words, aliases), audience)


def key_for(name: str, audience: str, style_code: str | None) -> str:
    """The stable key: the style code when known, else the folded name (``Air Jordan`` = ``Jordan``,
    ``2pt0`` = ``2.0``) and the audience."""
    if style_code:
        return "style:" + re.sub(r"\s+", "", style_code.upper())
    base, _ = split_audience(name)
    folded = " ".join(expand(fold(base.replace("2pt0", "2.0")).split(), {"air jordan": "jordan"}))
    return f"name:{folded}|{audience}"[:320]


#: words StockX writes with a hyphen of their own, put back when a slug is turned into a name
_HYPHENATED = {"off white": "Off-White", "semi frozen": "Semi Frozen", "t shirt": "T-Shirt"}
#: a sales file's brand column names the collaboration; the maker is what a catalog calls the brand
_BRAND_OF_SLUG = {"yeezy": "adidas", "off-white": "Nike"}


def slug_to_name(slug: str) -> str:
    """``Adidas-Yeezy-Boost-350-V2-Beluga-2pt0`` → ``Adidas Yeezy Boost 350 V2 Beluga 2.0``."""
    name = " ".join(part for part in slug.strip().split("-") if part).replace("2pt0", "2.0")
    for plain, proper in _HYPHENATED.items():
        name = re.sub(rf"\b{plain}\b", proper, name, flags=re.IGNORECASE)
    return name


_BRANDS = (
    ("air jordan", "Jordan"),
    ("jordan", "Jordan"),
    ("nike", "Nike"),
    ("adidas", "adidas"),
    ("new balance", "New Balance"),
    ("asics", "ASICS"),
    ("converse", "Converse"),
    ("puma", "Puma"),
    ("reebok", "Reebok"),
    ("vans", "Vans"),
    ("crocs", "Crocs"),
    ("ugg", "UGG"),
    ("salomon", "Salomon"),
    ("hoka one one", "Hoka One One"),
    ("under armour", "Under Armour"),
)
#: words that belong to a model name rather than a colourway
_MODEL_WORDS = frozenset(
    {
        "air",
        "max",
        "force",
        "jordan",
        "retro",
        "high",
        "low",
        "mid",
        "og",
        "sb",
        "dunk",
        "blazer",
        "yeezy",
        "boost",
        "slide",
        "foam",
        "rnr",
        "samba",
        "gazelle",
        "campus",
        "forum",
        "presto",
        "vapormax",
        "zoom",
        "fly",
        "mercurial",
        "react",
        "hyperdunk",
        "flyknit",
        "cortez",
        "huarache",
        "foamposite",
        "pro",
        "one",
        "350",
        "700",
        "500",
        "v2",
        "v3",
        "se",
        "lx",
        "prm",
        "premium",
        "qs",
        "sp",
        "vintage",
        "77",
        "next",
        "nature",
        "court",
        "legacy",
        "lift",
        "vision",
        "plus",
        "tn",
        "ultraboost",
        "nmd",
        "superstar",
        "stan",
        "smith",
        "chuck",
        "taylor",
        "all",
        "star",
        "70",
        "classic",
        "clog",
        "knit",
        "runner",
        "spizike",
    }
)


@dataclass(frozen=True)
class Parsed:
    brand: str
    model: str
    colourway: str


def parse_name(name: str, brand_hint: str | None = None) -> Parsed:
    """Brand, model and colourway from a catalog name: the brand is the leading brand word (else the
    hint, a sales file's label such as ``Yeezy``, read as the maker), the model the run of model words
    and numbers after it, the colourway the rest."""
    base, _ = split_audience(name)
    base = re.sub(r"\s*\([^)]*\)", "", base).strip()
    words = base.split()
    lowered = fold(base)
    brand = ""
    skip = 0
    for prefix, label in _BRANDS:
        if lowered == prefix or lowered.startswith(prefix + " "):
            brand = label
            skip = len(prefix.split()) if label != "Jordan" else 0
            break
    if not brand and brand_hint:
        hint = brand_hint.strip()
        brand = _BRAND_OF_SLUG.get(hint.lower(), hint)
    end = skip
    while end < len(words) and (fold(words[end]) in _MODEL_WORDS or any(ch.isdigit() for ch in words[end])):
        end += 1
    if end == skip and end < len(words):
        end += 1
    model = " ".join(words[skip:end]) or base
    brand = brand or (words[0] if words else "?")
    return Parsed(brand=brand[:64], model=model[:160], colourway=" ".join(words[end:])[:200])
