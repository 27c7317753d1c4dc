"""The unbounded solve's core: TradeMaximizer's minimum-cost perfect matching.

Each have is a sender row and a receiver column. Sending have A to B's owner (a trade edge) costs
``M`` plus a small bias; the diagonal, A "sent" to its own owner (no trade), costs ``2M``. Every have is
matched exactly once, so the cost is ``(haves + untraded) * M`` plus the biases, and as the biases add
up to less than ``M`` the cheapest perfect matching trades the most. The bias only chooses among
maximum-items matchings: 0 for an edge the caller prefers (the refinement passes a short-cycle
packing's edges), then 1 for an edge on a swap, 2 on a three-way cycle, 3 otherwise, toward
matchings whose cycles are short.
The matching is a permutation whose cycles (fixed points left out) are the trades. Solved sparse by
LAPJVsp (``scipy.sparse.csgraph.min_weight_full_bipartite_matching``); the diagonal keeps it feasible.
"""

from __future__ import annotations

from collections.abc import Sequence

from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from bot.trades.solver.cycles import predecessors

Cycle = tuple[int, ...]


def assignment_cycles(
    successors: Sequence[Sequence[int]], prefer: frozenset[tuple[int, int]] = frozenset()
) -> list[Cycle]:
    """A maximum-items set of disjoint cycles of any length, using edges in ``prefer`` where it can."""
    live = [node for node, targets in enumerate(successors) if targets]
    if not live:
        return []
    position = {node: index for index, node in enumerate(live)}
    unit = 3 * len(live) + 1
    rows = list(range(len(live)))
    cols = list(rows)
    costs = [2 * unit] * len(live)
    targets = [frozenset(nexts) for nexts in successors]
    sources = [frozenset(previous) for previous in predecessors(successors)]
    for node in live:
        for target in successors[node]:
            rows.append(position[node])
            cols.append(position[target])
            bias = 0 if (node, target) in prefer else 1 + _bias(node, target, targets, sources)
            costs.append(unit + bias)
    matrix = coo_matrix((costs, (rows, cols)), shape=(len(live), len(live))).tocsr()
    row_ind, col_ind = min_weight_full_bipartite_matching(matrix)
    receiver = dict(zip(row_ind.tolist(), col_ind.tolist(), strict=True))
    seen: set[int] = set()
    cycles: list[Cycle] = []
    for start in range(len(live)):
        if start in seen or receiver[start] == start:
            continue
        cycle = []
        node = start
        while node not in seen:
            seen.add(node)
            cycle.append(live[node])
            node = receiver[node]
        cycles.append(tuple(cycle))
    return cycles


def _bias(node: int, target: int, targets: Sequence[frozenset[int]], sources: Sequence[frozenset[int]]) -> int:
    """0 if ``node → target`` lies on a two-cycle, 1 on a three-cycle, else 2."""
    if node in targets[target]:
        return 0
    return 1 if not targets[target].isdisjoint(sources[node]) else 2
