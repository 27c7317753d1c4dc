"""The solver's plain values: what members offer and want, and the trades it finds.

Frozen dataclasses, so the slice can build them from database rows and the CLI from a JSON file
without either depending on the other; item, size and condition strings are compared exactly (the
caller normalises them: catalog names, sizes as the alert rules write them).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Accept:
    """One item and size a have's owner would take for that have."""

    item: str
    size: str


@dataclass(frozen=True, slots=True)
class Have:
    """A pair a member offers. ``accepts`` None means "whatever my wants say"."""

    id: str
    member: str
    item: str
    size: str
    condition: str
    accepts: tuple[Accept, ...] | None = None


@dataclass(frozen=True, slots=True)
class Want:
    """A pair a member would take in any of ``sizes``; ``conditions`` None means any condition."""

    member: str
    item: str
    sizes: tuple[str, ...]
    conditions: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """``from_member`` sends ``have`` to ``to_member`` (who gives one of their own haves in the same cycle)."""

    have: str
    from_member: str
    to_member: str


@dataclass(frozen=True, slots=True)
class TradeSolution:
    """Disjoint trade cycles; ``items_traded`` is the number of steps, ``seconds`` the solve time.

    ``items_bound`` is a proven upper bound on the items any answer within the cap could move and
    ``optimal`` whether ``items_traded`` reaches it: always, unless a time-limited capped solve was
    cut short (then the answer is within ``items_bound - items_traded`` of the best).
    """

    cycles: list[list[Step]]
    items_traded: int
    members_trading: int
    seconds: float
    max_cycle: int
    optimal: bool
    items_bound: int

    @property
    def sum_of_squares(self) -> int:
        """Sum of squared cycle lengths: the tie-break (lower is better) among equally many items."""
        return sum(len(cycle) ** 2 for cycle in self.cycles)
