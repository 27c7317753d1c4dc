"""Weights and verdicts, as pure functions (the service and the community benchmark share them).

A voter's weight is the log-odds ``ln(p / (1 - p))`` of how often they have been right, where a gold
answer counts ``gold_factor`` times a verdict and ``p`` starts from a guess worth two verdicts that
gives a new member ``new_member_weight``; it stays between 0.05 and ``max_weight``. Log-odds weights
are what the optimal weighted majority of independent voters uses (the sum of the signed weights is
the log-odds of the verdict); the gold answers anchor them to known truth.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.legitcheck.config import LegitCheckSection

REAL, FAKE, UNSURE, INCONCLUSIVE = "real", "fake", "unsure", "inconclusive"
CHOICES = (REAL, FAKE, UNSURE)
#: the fixed checklist a Fake or Unsure vote picks its reasons from: (code, label)
REASONS: tuple[tuple[str, str], ...] = (
    ("box", "Box label"),
    ("tongue", "Tongue tag"),
    ("stitching", "Stitching"),
    ("shape", "Shape"),
    ("materials", "Materials"),
    ("sole", "Sole"),
    ("print", "Print"),
)
REASON_LABELS = dict(REASONS)
#: how many verdicts the starting guess about a new member is worth
_PRIOR_COUNT = 2.0
#: the least a vote weighs: a member who is usually wrong still counts a little, never negatively
_FLOOR = 0.05


@dataclass(frozen=True)
class Record:
    agreed: int = 0
    disagreed: int = 0
    gold_right: int = 0
    gold_wrong: int = 0


def weight(record: Record, settings: LegitCheckSection, *, authenticator: bool = False) -> float:
    right = record.agreed + settings.gold_factor * record.gold_right
    judged = record.agreed + record.disagreed + settings.gold_factor * (record.gold_right + record.gold_wrong)
    prior = 1 / (1 + math.exp(-settings.new_member_weight))
    p = (right + _PRIOR_COUNT * prior) / (judged + _PRIOR_COUNT)
    value = min(max(math.log(p / (1 - p)), _FLOOR), settings.max_weight)
    return max(value, settings.authenticator_weight) if authenticator else value


def affinity(weight_now: float, earlier_votes_on_submitter: int, settings: LegitCheckSection) -> float:
    """A vote's weight after the friends discount: a member who keeps voting on the same submitter's
    checks (beyond ``friend_allowance`` earlier ones) weighs ``1 / (1 + extra)`` as much, so a group
    that takes turns asking and vouching for each other's pairs loses its pull after a few rounds,
    while a stranger's vote on anyone's check is untouched."""
    extra = max(0, earlier_votes_on_submitter - settings.friend_allowance)
    return weight_now / (1 + extra)


@dataclass(frozen=True)
class Ballot:
    choice: str
    weight: float
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """The weighted shares of a check's votes and, once decided, its verdict."""

    voters: int
    total: float
    shares: dict[str, float] = field(default_factory=dict)
    verdict: str | None = None
    reasons: tuple[str, ...] = ()


def tally(ballots: Iterable[Ballot], settings: LegitCheckSection, *, final: bool) -> Outcome:
    """Decide a check. Before the deadline (``final=False``) a verdict needs the quorum (voters AND
    weight) and one side holding ``majority`` of the weight with a lead of ``min_lead``; at the
    deadline the quorum and the majority, or else Inconclusive."""
    cast = list(ballots)
    weights = {choice: sum(b.weight for b in cast if b.choice == choice) for choice in CHOICES}
    total = sum(weights.values())
    shares = {choice: (weights[choice] / total if total else 0.0) for choice in CHOICES}
    quorum = len(cast) >= settings.min_voters and total >= settings.min_weight
    lead = abs(weights[REAL] - weights[FAKE])
    verdict: str | None = None
    if quorum and (final or lead >= settings.min_lead):
        for side in (REAL, FAKE):
            if shares[side] >= settings.majority:
                verdict = side
    if verdict is None and final:
        verdict = INCONCLUSIVE
    reasons: tuple[str, ...] = ()
    if verdict == FAKE:
        reasons = agreed_reasons(cast)
    return Outcome(len(cast), total, shares, verdict, reasons)


def agreed_reasons(ballots: list[Ballot]) -> tuple[str, ...]:
    """Reasons that at least half of the Fake weight named, in checklist order."""
    fake = [b for b in ballots if b.choice == FAKE]
    total = sum(b.weight for b in fake)
    if not total:
        return ()
    return tuple(code for code, _ in REASONS if sum(b.weight for b in fake if code in b.reasons) >= total / 2)


def simple_majority(choices: Iterable[str]) -> str:
    """One member one vote, Real against Fake (Unsure abstains); a tie is Inconclusive."""
    cast = list(choices)
    real, fake = cast.count(REAL), cast.count(FAKE)
    return REAL if real > fake else FAKE if fake > real else INCONCLUSIVE
