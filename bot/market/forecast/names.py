"""Split a sneaker name into maker, model family and colourway, so a pair nobody has sold yet can
borrow from its relatives: ``Adidas-Yeezy-Boost-350-V2-Beluga`` is adidas, family ``yeezy boost 350
v2``, colourway ``beluga``. Collaborations stay in the family (an Off-White Presto prices nothing like
a general-release one)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_TOKEN = re.compile(r"[a-z0-9]+")
_YEAR = re.compile(r"(19|20)\d\d")

MAKERS = {"adidas": "adidas", "nike": "nike", "jordan": "jordan", "reebok": "reebok", "puma": "puma",
          "converse": "converse", "vans": "vans", "asics": "asics", "yeezy": "adidas"}
NEW_BALANCE = ("new", "balance")

#: words that name a silhouette rather than a colour
_MODEL_TEXT = (
    "air jordan retro og high low mid max force presto vapormax vapor blazer zoom fly mercurial react hyperdunk "
    "flyknit dunk sb foamposite one pro yeezy boost v1 v2 v3 ultraboost ultra nmd r1 r2 xr1 cs1 cs2 human race "
    "slide foam runner wave runner qntm quantum plus tn huarache cortez vomero pegasus kobe lebron kd kyrie "
    "trainer sneaker boot chunky se lx sp premium prm qs nrg"
)
MODEL_WORDS = frozenset(_MODEL_TEXT.split())
#: collaborators, longest spelling first; the value is how the family names them
COLLABS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("virgil", "abloh", "off", "white"), "off white"),
    (("off", "white"), "off white"),
    (("travis", "scott"), "travis scott"),
    (("fragment",), "fragment"),
    (("sacai",), "sacai"),
    (("union",), "union"),
    (("comme", "des", "garcons"), "cdg"),
    (("fear", "of", "god"), "fear of god"),
    (("undefeated",), "undefeated"),
)


@dataclass(frozen=True, slots=True)
class ParsedName:
    maker: str
    family: str
    colourway: str

    @property
    def family_key(self) -> str:
        return f"{self.maker} {self.family}".strip()


def _collab_at(tokens: list[str], start: int) -> tuple[str, int] | None:
    for spelling, name in COLLABS:
        if tuple(tokens[start : start + len(spelling)]) == spelling:
            return name, len(spelling)
    return None


def _is_model_token(tokens: list[str], index: int) -> bool:
    token = tokens[index]
    if token in MODEL_WORDS:
        return True
    if not token.isdigit():
        return False
    # a year is part of the model only when more model words follow ("hyperdunk 2017 flyknit")
    if _YEAR.fullmatch(token):
        return index + 1 < len(tokens) and tokens[index + 1] in MODEL_WORDS
    return True


@lru_cache(maxsize=4096)
def parse_name(name: str) -> ParsedName:
    tokens = _TOKEN.findall(name.lower())
    maker = ""
    if tokens[:2] == ["air", "jordan"]:
        maker = "jordan"
    elif tuple(tokens[:2]) == NEW_BALANCE:
        maker, tokens = "new balance", tokens[2:]
    elif tokens and tokens[0] in MAKERS:
        maker = MAKERS[tokens[0]]
        if tokens[0] != "yeezy":
            tokens = tokens[1:]
    family: list[str] = []
    collab = ""
    index = 0
    while index < len(tokens):
        found = _collab_at(tokens, index)
        if found is not None and not collab:
            collab, width = found
            index += width
            continue
        if not _is_model_token(tokens, index):
            break
        family.append(tokens[index])
        index += 1
    # StockX spells some 350 V2s "350 Low V2"; the V2 is a low, so they are one family
    if family[-2:] == ["low", "v2"]:
        family = [*family[:-2], "v2"]
    if collab:
        family.append(collab)
    colourway = [token for token in tokens[index:] if not _YEAR.fullmatch(token) and token != "2pt0"]
    return ParsedName(maker, " ".join(family), " ".join(colourway))
