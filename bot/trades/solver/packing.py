"""Cycle packing by integer program: the capped solve, and the unbounded solve's tie-break refinement.

Every cycle of at most ``cap`` haves is a 0/1 column, every have a row allowing at most one chosen cycle
through it (exactly one for an exact cover). ``scipy.optimize.milp`` runs HiGHS with a relative gap of
0, so without a time limit the answer is optimal. Each strongly connected component is its own program.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_matrix

from bot.trades.solver.cycles import CyclesCut, short_cycles, strong_components

Cycle = tuple[int, ...]


def items(cycles: Sequence[Cycle]) -> int:
    return sum(len(cycle) for cycle in cycles)


def squares(cycles: Sequence[Cycle]) -> int:
    return sum(len(cycle) ** 2 for cycle in cycles)


@dataclass(frozen=True, slots=True)
class Packing:
    """Chosen cycles, whether they are proven best, and a proven upper bound on items (None if listing was cut)."""

    cycles: list[Cycle]
    optimal: bool
    items_bound: int | None


def best_packing(
    successors: Sequence[Sequence[int]], cap: int, *, budget: int | None = None, seconds: float | None = None
) -> Packing:
    """Disjoint cycles of at most ``cap``: the most haves, then the least sum of squared lengths.

    A cycle of length L weighs ``L * big - L**2``; ``big`` exceeds any sum of squares (at most haves ×
    cap), so one more item always outweighs the tie-break. With neither ``budget`` (cycles listed)
    nor ``seconds`` the answer is exact. Past either, listing stops and the answer is the better of the
    program's best in the time left and a greedy packing (shortest cycles first) of the cycles listed;
    if every cycle was listed, HiGHS's dual bound gives ``items_bound``, else it is None.
    """
    deadline = None if seconds is None else time.perf_counter() + seconds
    complete = True
    try:
        listed = short_cycles(successors, cap, budget=budget, deadline=deadline)
    except CyclesCut as cut:
        listed, complete = cut.found, False
    labels = strong_components(successors)
    groups: dict[int, list[Cycle]] = {}
    for cycle in listed:
        groups.setdefault(labels[cycle[0]], []).append(cycle)
    big = len(successors) * cap + 1
    chosen: list[Cycle] = []
    bound = 0
    optimal = complete
    for cycles in groups.values():
        weights = [len(cycle) * big - len(cycle) ** 2 for cycle in cycles]
        left = None if deadline is None else deadline - time.perf_counter()
        result = pack(cycles, weights, exact_cover=False, seconds=left)
        picked = result.cycles or []
        if not result.optimal:
            optimal = False
            greedy = _greedy(cycles)
            if (items(greedy), -squares(greedy)) > (items(picked), -squares(picked)):
                picked = greedy
        chosen.extend(picked)
        nodes = len({node for cycle in cycles for node in cycle})
        bound += min(nodes, math.floor(result.weight_bound / big + 1 - 1e-9))
    return Packing(
        cycles=chosen, optimal=optimal, items_bound=items(chosen) if optimal else bound if complete else None
    )


def _greedy(cycles: Sequence[Cycle]) -> list[Cycle]:
    used: set[int] = set()
    picked: list[Cycle] = []
    for cycle in sorted(cycles, key=len):
        if used.isdisjoint(cycle):
            used.update(cycle)
            picked.append(cycle)
    return picked


@dataclass(frozen=True, slots=True)
class _Result:
    cycles: list[Cycle] | None
    weight_bound: float
    optimal: bool


def pack(
    cycles: Sequence[Cycle], weights: Sequence[float], *, exact_cover: bool, seconds: float | None = None
) -> _Result:
    """Node-disjoint cycles of greatest total weight (``exact_cover``: covering all their nodes).

    ``cycles`` is None when no packing was found (an exact cover may not exist); ``weight_bound`` is the
    proven upper bound on the total weight.
    """
    if len(cycles) == 1:
        return _Result(cycles=list(cycles), weight_bound=float(weights[0]), optimal=True)
    nodes = sorted({node for cycle in cycles for node in cycle})
    row = {node: position for position, node in enumerate(nodes)}
    rows = [row[node] for cycle in cycles for node in cycle]
    cols = [column for column, cycle in enumerate(cycles) for _ in cycle]
    matrix = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(nodes), len(cycles)))
    options: dict[str, float] = {"mip_rel_gap": 0.0}
    if seconds is not None:
        options["time_limit"] = max(seconds, 0.01)
    result = milp(
        c=-np.asarray(weights, dtype=float),
        constraints=LinearConstraint(matrix, 1.0 if exact_cover else 0.0, 1.0),
        integrality=np.ones(len(cycles)),
        bounds=Bounds(0, 1),
        options=options,
    )
    dual = result.get("mip_dual_bound")
    bound = -float(dual) if dual is not None and math.isfinite(dual) else float(sum(max(w, 0.0) for w in weights))
    if result.x is None:
        return _Result(cycles=None, weight_bound=bound, optimal=result.status == 0)
    picked = [cycle for cycle, value in zip(cycles, result.x, strict=True) if value > 0.5]
    return _Result(cycles=picked, weight_bound=bound, optimal=result.status == 0)
