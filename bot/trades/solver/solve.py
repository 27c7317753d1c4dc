"""Pick the trade cycles that move the most items.

Capped (``max_cycle`` >= 2): every cycle of at most ``max_cycle`` haves is listed and the best set of
node-disjoint ones is chosen by an integer program (``scipy.optimize.milp``, HiGHS, relative gap 0,
so the answer is exact). A cycle of length L weighs ``L * BIG - L**2`` with BIG above any possible
sum of squares: the most items first, then, among equally many items, the smallest sum of squared
cycle lengths (many short cycles beat a few long ones: 2+2 beats 4, 3+3 beats 2+4). Each strongly
connected component is its own program.

Unbounded (``max_cycle`` 0): TradeMaximizer's formulation. Each have is a sender row and a receiver
column; a trade edge costs 1 and the have's own "no trade" diagonal costs 2, so a minimum-cost
perfect matching (``scipy.sparse.csgraph.min_weight_full_bipartite_matching``) sends the most items;
the permutation it returns splits into the cycles. Shorter cycles are then preferred without losing an
item: the capped program above is tried with caps 2, 3, ... and the first whose optimum moves as many
items wins (the least sum of squares with cycles that short). When listing cycles outgrows a budget
first, the matching's traded haves are re-covered instead, group by group (those forming a strongly
connected component) and then cycle by cycle, as exact-cover programs over ever longer cycles; a cycle
too dense for the budget stays as the matching made it. Items are always the matching's optimum; the
tie-break is exact only as far as that budget (and a half-second cap) reach.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from bot.trades.solver.cycles import CycleBudgetExceeded, cyclic_part, short_cycles, strong_components
from bot.trades.solver.graph import TradeGraph
from bot.trades.solver.model import Step, TradeSolution

#: most short cycles listed for one refinement program (unbounded mode only)
REFINE_BUDGET = 20_000
#: longest cycle length the unbounded refinement tries to split cycles into
REFINE_MAX_CAP = 8
#: wall-clock seconds the unbounded refinement may spend in total
REFINE_SECONDS = 0.5

Cycle = tuple[int, ...]


def solve(graph: TradeGraph, *, max_cycle: int = 3) -> TradeSolution:
    """The trades moving the most haves, cycles at most ``max_cycle`` long (0 = unbounded)."""
    if max_cycle < 0 or max_cycle == 1:
        raise ValueError(f"max_cycle must be 0 (unbounded) or at least 2, not {max_cycle}")
    started = time.perf_counter()
    successors = cyclic_part(graph.successors)
    if max_cycle == 0:
        cycles = _refine(successors, _assignment_cycles(successors), started + REFINE_SECONDS)
    else:
        cycles = _best_packing(successors, max_cycle)
    return _solution(graph, cycles, max_cycle, time.perf_counter() - started)


def _best_packing(successors: Sequence[Sequence[int]], cap: int, *, budget: int | None = None) -> list[Cycle]:
    labels = strong_components(successors)
    groups: dict[int, list[Cycle]] = {}
    for cycle in short_cycles(successors, cap, budget=budget):
        groups.setdefault(labels[cycle[0]], []).append(cycle)
    big = len(successors) * cap + 1
    chosen: list[Cycle] = []
    for cycles in groups.values():
        weights = [len(cycle) * big - len(cycle) ** 2 for cycle in cycles]
        picked = _pack(cycles, weights, exact_cover=False)
        assert picked is not None  # packing nothing is always feasible
        chosen.extend(picked)
    return chosen


def _pack(cycles: Sequence[Cycle], weights: Sequence[float], *, exact_cover: bool) -> list[Cycle] | None:
    """Node-disjoint cycles of greatest total weight (``exact_cover``: covering all their nodes), or None."""
    if len(cycles) == 1:
        return list(cycles)
    nodes = sorted({node for cycle in cycles for node in cycle})
    row = {node: position for position, node in enumerate(nodes)}
    rows = [row[node] for cycle in cycles for node in cycle]
    cols = [column for column, cycle in enumerate(cycles) for _ in cycle]
    matrix = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(nodes), len(cycles)))
    lower = 1.0 if exact_cover else 0.0
    result = milp(
        c=-np.asarray(weights, dtype=float),
        constraints=LinearConstraint(matrix, lower, 1.0),
        integrality=np.ones(len(cycles)),
        bounds=Bounds(0, 1),
        options={"mip_rel_gap": 0.0},
    )
    if result.x is None:
        return None
    return [cycle for cycle, value in zip(cycles, result.x, strict=True) if value > 0.5]


def _assignment_cycles(successors: Sequence[Sequence[int]]) -> list[Cycle]:
    """Maximum-items cycle cover by minimum-cost perfect matching (trade edge 1, no-trade diagonal 2)."""
    live = [node for node, targets in enumerate(successors) if targets]
    if not live:
        return []
    position = {node: index for index, node in enumerate(live)}
    rows = [position[node] for node in live]
    cols = list(rows)
    costs = [2.0] * len(live)
    for node in live:
        for target in successors[node]:
            rows.append(position[node])
            cols.append(position[target])
            costs.append(1.0)
    size = len(live)
    matrix = coo_matrix((costs, (rows, cols)), shape=(size, size)).tocsr()
    row_ind, col_ind = min_weight_full_bipartite_matching(matrix)
    receiver = dict(zip(row_ind.tolist(), col_ind.tolist(), strict=True))
    return _permutation_cycles(live, receiver)


def _permutation_cycles(live: Sequence[int], receiver: dict[int, int]) -> list[Cycle]:
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


def _refine(successors: Sequence[Sequence[int]], cycles: list[Cycle], deadline: float) -> list[Cycle]:
    """Re-cover with shorter cycles where that is cheap to find; never fewer items than ``cycles``."""
    items = sum(len(cycle) for cycle in cycles)
    longest = max((len(cycle) for cycle in cycles), default=0)
    for cap in range(2, min(longest, REFINE_MAX_CAP) + 1):
        if time.perf_counter() > deadline:
            break
        try:
            packing = _best_packing(successors, cap, budget=REFINE_BUDGET)
        except CycleBudgetExceeded:
            break
        if sum(len(cycle) for cycle in packing) == items:
            return packing
    traded = {node for cycle in cycles for node in cycle}
    inside = [
        [target for target in targets if node in traded and target in traded] for node, targets in enumerate(successors)
    ]
    labels = strong_components(inside)
    groups: dict[int, list[Cycle]] = {}
    for cycle in cycles:
        groups.setdefault(labels[cycle[0]], []).append(cycle)
    result: list[Cycle] = []
    for group in groups.values():
        result.extend(_refine_group(inside, group, deadline))
    return result


def _refine_group(successors: Sequence[Sequence[int]], group: list[Cycle], deadline: float) -> list[Cycle]:
    longest = max(len(cycle) for cycle in group)
    if all(len(cycle) == 2 for cycle in group) or (len(group) == 1 and longest <= 3):
        return group  # nothing shorter covers these haves
    nodes = {node for cycle in group for node in cycle}
    local = [
        [target for target in targets if node in nodes and target in nodes] for node, targets in enumerate(successors)
    ]
    for cap in range(2, min(longest, REFINE_MAX_CAP) + 1):
        if time.perf_counter() > deadline:
            break
        try:
            options = short_cycles(local, cap, budget=REFINE_BUDGET)
        except CycleBudgetExceeded:
            break
        if {node for cycle in options for node in cycle} != nodes:
            continue
        cover = _pack(options, [-(len(cycle) ** 2) for cycle in options], exact_cover=True)
        if cover is not None:
            return cover
    if len(group) == 1:
        return group
    return [piece for cycle in group for piece in _refine_group(successors, [cycle], deadline)]


def _solution(graph: TradeGraph, cycles: Iterable[Cycle], max_cycle: int, seconds: float) -> TradeSolution:
    haves = graph.haves
    steps: list[list[Step]] = []
    for cycle in cycles:
        first = min(range(len(cycle)), key=lambda index: haves[cycle[index]].id)
        ordered = cycle[first:] + cycle[:first]
        steps.append(
            [
                Step(
                    have=haves[node].id,
                    from_member=haves[node].member,
                    to_member=haves[ordered[(index + 1) % len(ordered)]].member,
                )
                for index, node in enumerate(ordered)
            ]
        )
    steps.sort(key=lambda cycle: cycle[0].have)
    members = {step.from_member for cycle in steps for step in cycle}
    return TradeSolution(
        cycles=steps,
        items_traded=sum(len(cycle) for cycle in steps),
        members_trading=len(members),
        seconds=round(seconds, 6),
        max_cycle=max_cycle,
    )
