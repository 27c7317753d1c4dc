"""Help topics read from the command registry: which feature (slice) each command belongs to, and
what a ``/help TOPIC`` word names. Nothing here is a hand-kept list, so a new slice's commands show up
in /help the moment it is registered in bot/slices.py.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process, utils

from core.commands import Command

#: where commands declared outside a ``bot/<slice>/`` folder (a test's, a plugin's) are listed
OTHER = "other"
#: how alike a word must be to a topic before it is offered as "did you mean"
SUGGEST_CUTOFF = 70
#: suggestions further than this behind the best one are noise
SUGGEST_SPREAD = 8


@dataclass(frozen=True)
class Feature:
    """A slice and the commands it declared, sorted by name."""

    name: str
    commands: tuple[Command, ...]


def feature_of(command: Command) -> str:
    """The slice that declared ``command``: the ``bot/<slice>/`` package its handler lives in (a slice's
    folder is its name, see bot/slices.py), else ``other``."""
    handler: object = command.handler
    while isinstance(handler, functools.partial):
        handler = handler.func
    module = getattr(inspect.unwrap(handler), "__module__", "") or ""  # type: ignore[arg-type]
    parts = module.split(".")
    return parts[1] if len(parts) >= 2 and parts[0] == "bot" else OTHER


def features(commands: Iterable[Command]) -> list[Feature]:
    """The commands grouped by slice, features in name order with ``other`` last."""
    grouped: dict[str, list[Command]] = {}
    for command in commands:
        grouped.setdefault(feature_of(command), []).append(command)
    names = sorted(grouped, key=lambda name: (name == OTHER, name))
    return [Feature(name, tuple(sorted(grouped[name], key=lambda c: c.name))) for name in names]


def normalise(topic: str) -> str:
    """``/Drop  Show`` and ``drop show`` name the same topic."""
    return " ".join(topic.lower().strip().lstrip("/").split())


def group_members(commands: Sequence[Command], key: str) -> list[Command]:
    """The sub-commands of command group ``key`` (``/help lc``), in name order."""
    return sorted((c for c in commands if c.name.startswith(key + " ")), key=lambda c: c.name)


def suggestions(word: str, choices: Sequence[str], limit: int = 3) -> list[str]:
    """The topics closest to ``word``, best first: only those near the best match, so a clear typo
    (``pnig``) gets one answer and a vague word gets a short list."""
    found = process.extract(
        word,
        choices,
        scorer=fuzz.WRatio,
        processor=utils.default_process,
        limit=limit,
        score_cutoff=SUGGEST_CUTOFF,
    )
    if not found:
        return []
    best = found[0][1]
    return [choice for choice, score, _ in found if score >= best - SUGGEST_SPREAD]
