"""An independent reference: the acceptance rule written out plainly and exhaustive search over cycle packings.

Shares nothing with the solver but the value classes: edges come from :func:`accepts`, cycles from
permutations of node subsets, and the packing from trying every set of disjoint cycles. Only for a
handful of haves.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations, permutations

from bot.trades.solver import Have, Step, TradeSolution, Want


def accepts(giving: Have, for_have: Have, wants: Sequence[Want]) -> bool:
    """Whether ``for_have``'s owner takes ``giving`` in exchange for ``for_have``."""
    if giving.member == for_have.member:
        return False
    if for_have.accepts is not None:
        return any(a.item == giving.item and a.size == giving.size for a in for_have.accepts)
    return any(
        w.member == for_have.member
        and w.item == giving.item
        and giving.size in w.sizes
        and (w.conditions is None or giving.condition in w.conditions)
        for w in wants
    )


def all_cycles(haves: Sequence[Have], wants: Sequence[Want], cap: int) -> list[tuple[int, ...]]:
    """Every simple cycle (node 0 of the tuple is its smallest), at most ``cap`` long (0 = any length)."""
    longest = len(haves) if cap == 0 else min(cap, len(haves))
    cycles = []
    for length in range(2, longest + 1):
        for nodes in combinations(range(len(haves)), length):
            first, rest = nodes[0], nodes[1:]
            for order in permutations(rest):
                cycle = (first, *order)
                if all(accepts(haves[cycle[i]], haves[cycle[(i + 1) % length]], wants) for i in range(length)):
                    cycles.append(cycle)
    return cycles


def best(haves: Sequence[Have], wants: Sequence[Want], cap: int) -> tuple[int, int]:
    """(most items traded, least sum of squared cycle lengths among those) over all packings."""
    starting: dict[int, list[tuple[int, ...]]] = {}
    for cycle in all_cycles(haves, wants, cap):
        starting.setdefault(cycle[0], []).append(cycle)

    def search(node: int, used: frozenset[int]) -> tuple[int, int]:
        """Each packing once: ``node`` either trades in a cycle it starts, or not at all (or already does)."""
        if node == len(haves):
            return (0, 0)
        result = search(node + 1, used)
        if node in used:
            return result
        for cycle in starting.get(node, ()):
            if used.isdisjoint(cycle):
                items, squares = search(node + 1, used | set(cycle))
                candidate = (items + len(cycle), squares + len(cycle) ** 2)
                if (candidate[0], -candidate[1]) > (result[0], -result[1]):
                    result = candidate
        return result

    return search(0, frozenset())


def check_valid(solution: TradeSolution, haves: Sequence[Have], wants: Sequence[Want], cap: int) -> None:
    """Every step an acceptable swap, every have at most once, every cycle within the cap."""
    by_id = {have.id: have for have in haves}
    seen: set[str] = set()
    for cycle in solution.cycles:
        assert len(cycle) >= 2
        assert cap == 0 or len(cycle) <= cap
        for index, step in enumerate(cycle):
            following = cycle[(index + 1) % len(cycle)]
            giving, receiving = by_id[step.have], by_id[following.have]
            assert step.have not in seen
            seen.add(step.have)
            assert step.from_member == giving.member
            assert step.to_member == receiving.member
            assert accepts(giving, receiving, wants)
    assert solution.items_traded == len(seen)
    assert solution.members_trading == len({by_id[have].member for have in seen})


def as_tuples(cycles: list[list[Step]]) -> list[list[tuple[str, str, str]]]:
    return [[(step.have, step.from_member, step.to_member) for step in cycle] for cycle in cycles]
