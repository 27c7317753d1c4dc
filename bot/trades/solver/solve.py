"""Pick the trade cycles that move the most items.

Capped (``max_cycle`` >= 2): every cycle of at most ``max_cycle`` haves is listed and the best set of
disjoint ones is chosen by an exact integer program (``packing.py``): the most items, then, among
equally many items, the least sum of squared cycle lengths (2+2 beats 4, 3+3 beats 2+4).

Unbounded (``max_cycle`` 0): TradeMaximizer's minimum-cost perfect matching (``matching.py``) gives
the most items exactly; ``refine.py`` then looks for the same number of items in shorter cycles as far
as its budgets reach, never losing an item.

Only edges inside a strongly connected component can lie on a cycle; the rest are dropped first.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence

from bot.trades.solver.cycles import cyclic_part
from bot.trades.solver.graph import TradeGraph
from bot.trades.solver.matching import assignment_cycles
from bot.trades.solver.model import Step, TradeSolution
from bot.trades.solver.packing import Cycle, best_packing, items, squares
from bot.trades.solver.refine import SECONDS, shortest_max_items

#: most cycles a time-limited solve lists for its longer cap (memory and program size stay modest)
HURRIED_BUDGET = 50_000
#: default time limit for caps of 4 or more (exact answers there can take hours on a busy market)
LONG_CAP_SECONDS = 30.0


def solve(graph: TradeGraph, *, max_cycle: int = 3, seconds: float | None = None) -> TradeSolution:
    """The trades moving the most haves, cycles at most ``max_cycle`` long (0 = unbounded).

    Caps up to 3 are always exact in items (they take well under a second at 2,000 listings). A cap of
    4 or more is exact only with ``seconds=math.inf``; otherwise it runs ``seconds`` (default
    ``LONG_CAP_SECONDS``, programs may overrun somewhat) and answers with the best of the exact cap-3
    packing plus longer cycles among the haves it leaves and the full program's best in the time left,
    ``items_bound`` the least proven upper bound (the program's dual bound, or the unbounded
    matching's optimum) and ``optimal`` whether the items reach it. The unbounded solve is always
    exact in items; there ``seconds`` (default ``refine.SECONDS``) only bounds the search for shorter
    cycles.
    """
    if max_cycle < 0 or max_cycle == 1:
        raise ValueError(f"max_cycle must be 0 (unbounded) or at least 2, not {max_cycle}")
    started = time.perf_counter()
    successors = cyclic_part(graph.successors)
    if max_cycle == 0:
        cycles = shortest_max_items(successors, seconds=SECONDS if seconds is None else seconds)
        bound = items(cycles)
    elif max_cycle <= 3 or seconds == math.inf:
        cycles = best_packing(successors, max_cycle).cycles
        bound = items(cycles)
    else:
        limit = LONG_CAP_SECONDS if seconds is None else seconds
        cycles, bound = _hurried(successors, max_cycle, started + limit)
    elapsed = time.perf_counter() - started
    return _solution(graph, cycles, max_cycle, elapsed, items_bound=bound)


def _hurried(successors: Sequence[Sequence[int]], cap: int, deadline: float) -> tuple[list[Cycle], int]:
    """Within ``deadline`` as far as it can: the exact cap-3 packing, longer cycles among the haves it
    leaves, then the full cap-``cap`` program with the time left, the best of them; and an items bound."""
    bound = items(assignment_cycles(successors))
    cycles = best_packing(successors, 3).cycles
    if items(cycles) == bound or deadline <= time.perf_counter():
        return cycles, bound
    used = {node for cycle in cycles for node in cycle}
    rest = cyclic_part(
        [[t for t in targets if n not in used and t not in used] for n, targets in enumerate(successors)]
    )
    left = deadline - time.perf_counter()
    cycles = cycles + best_packing(rest, cap, budget=HURRIED_BUDGET, seconds=left / 2).cycles
    left = deadline - time.perf_counter()
    if items(cycles) == bound or left <= 0:
        return cycles, bound
    full = best_packing(successors, cap, budget=HURRIED_BUDGET, seconds=left)
    if full.items_bound is not None:
        bound = min(bound, full.items_bound)
    if (items(full.cycles), -squares(full.cycles)) > (items(cycles), -squares(cycles)):
        cycles = full.cycles
    return cycles, bound


def _solution(
    graph: TradeGraph, cycles: Iterable[Cycle], max_cycle: int, seconds: float, *, items_bound: int
) -> TradeSolution:
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
        optimal=sum(len(cycle) for cycle in steps) >= items_bound,
        items_bound=items_bound,
    )
