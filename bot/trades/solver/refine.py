"""The unbounded solve's tie-break: the matching's items, in shorter cycles where they can be found.

The matching maximises items but knows nothing of cycle length, and on a busy market it returns a few
very long cycles. Candidates, all with the matching's number of items, the one with the least sum of
squared cycle lengths kept:

1. The matching (biased toward edges on short cycles, ``matching.py``), cut along chords: a cycle
   ``… a → a' … b → b' …`` with edges ``a → b'`` and ``b → a'`` is two cycles over the same haves; the
   most even cut is taken, again and again.
2. The capped packing with caps 2, 3, …: if its optimum moves as many items it is the answer (the
   least squares with cycles that short); otherwise its edges are the matching's preferred edges for
   one more candidate, which keeps many of its short cycles.
3. Then, group by group (traded haves forming a strongly connected component), an exact cover of the
   group's haves by cycles of at most 2, 3, … haves, where one is found.

Steps 2 and 3 stop at a budget of listed cycles and a time limit, so on a dense market the answer
keeps some long cycles; the number of items is the matching's optimum whatever happens.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from bot.trades.solver.cycles import CyclesCut, short_cycles, strong_components
from bot.trades.solver.matching import assignment_cycles
from bot.trades.solver.packing import Cycle, best_packing, items, pack, squares

#: most cycles listed for one refinement program (bigger programs get slow fast)
BUDGET = 2_000
#: longest cycles the refinement programs list
MAX_CAP = 8
#: wall-clock seconds steps 2 and 3 may take together
SECONDS = 0.75


def shortest_max_items(successors: Sequence[Sequence[int]], *, seconds: float = SECONDS) -> list[Cycle]:
    """A maximum-items packing of cycles of any length, re-cut toward short cycles within the budgets."""
    deadline = time.perf_counter() + seconds
    targets = [frozenset(nexts) for nexts in successors]
    best = _cut(assignment_cycles(successors), targets)
    most = items(best)
    for cap in range(2, min(max((len(cycle) for cycle in best), default=0), MAX_CAP) + 1):
        left = deadline - time.perf_counter()
        if left <= 0:
            return best
        found = best_packing(successors, cap, budget=BUDGET, seconds=left)
        if found.items_bound is None:
            break  # too many cycles (or too little time) for this cap: longer caps only have more
        packing = found.cycles
        if items(packing) == most:
            return packing if squares(packing) < squares(best) else best
        prefer = frozenset((cycle[i], cycle[(i + 1) % len(cycle)]) for cycle in packing for i in range(len(cycle)))
        candidate = _cut(assignment_cycles(successors, prefer), targets)
        if squares(candidate) < squares(best):
            best = candidate
    return _by_group(successors, best, deadline)


def _cut(cycles: list[Cycle], targets: Sequence[frozenset[int]]) -> list[Cycle]:
    return [piece for cycle in cycles for piece in split(cycle, targets)]


def split(cycle: Cycle, targets: Sequence[frozenset[int]]) -> list[Cycle]:
    """``cycle`` cut along chords into pieces of two or more, most even cut first."""
    done: list[Cycle] = []
    pending = [cycle]
    while pending:
        piece = pending.pop()
        cut = _most_even_cut(piece, targets)
        if cut is None:
            done.append(piece)
            continue
        i, j = cut
        length = len(piece)
        pending.append(tuple(piece[(i + 1 + k) % length] for k in range((j - i) % length)))
        pending.append(tuple(piece[(j + 1 + k) % length] for k in range((i - j) % length)))
    return done


def _most_even_cut(cycle: Cycle, targets: Sequence[frozenset[int]]) -> tuple[int, int] | None:
    """(i, j) with edges c[i] → c[j+1] and c[j] → c[i+1], both pieces at least 2 long, most even."""
    length = len(cycle)
    if length < 4:
        return None
    position = {node: index for index, node in enumerate(cycle)}
    best: tuple[int, int, int] | None = None
    for i, node in enumerate(cycle):
        after_i = cycle[(i + 1) % length]
        for target in targets[node]:
            landing = position.get(target)
            if landing is None:
                continue
            j = (landing - 1) % length
            first = (j - i) % length
            if first < 2 or length - first < 2 or after_i not in targets[cycle[j]]:
                continue
            worst = max(first, length - first)
            if best is None or worst < best[0]:
                best = (worst, i, j)
    return None if best is None else (best[1], best[2])


def _by_group(successors: Sequence[Sequence[int]], cycles: list[Cycle], deadline: float) -> list[Cycle]:
    traded = {node for cycle in cycles for node in cycle}
    inside = [[t for t in targets if node in traded and t in traded] for node, targets in enumerate(successors)]
    labels = strong_components(inside)
    groups: dict[int, list[Cycle]] = {}
    for cycle in cycles:
        groups.setdefault(labels[cycle[0]], []).append(cycle)
    result: list[Cycle] = []
    for group in groups.values():
        cover = _shortest_cover(inside, group, deadline)
        result.extend(cover if cover is not None and squares(cover) < squares(group) else group)
    return result


def _shortest_cover(successors: Sequence[Sequence[int]], group: list[Cycle], deadline: float) -> list[Cycle] | None:
    """Cycles of at most 2, 3, … haves covering exactly the group's haves, least squares; None if none found."""
    longest = max(len(cycle) for cycle in group)
    if all(len(cycle) == 2 for cycle in group) or (len(group) == 1 and longest <= 3):
        return None  # nothing shorter covers these haves
    nodes = {node for cycle in group for node in cycle}
    local = [[t for t in targets if node in nodes and t in nodes] for node, targets in enumerate(successors)]
    for cap in range(2, min(longest, MAX_CAP) + 1):
        left = deadline - time.perf_counter()
        if left <= 0:
            return None
        try:
            options = short_cycles(local, cap, budget=BUDGET)
        except CyclesCut:
            return None
        if {node for cycle in options for node in cycle} != nodes:
            continue
        cover = pack(options, [-(len(cycle) ** 2) for cycle in options], exact_cover=True, seconds=left).cycles
        if cover is not None and {node for cycle in cover for node in cycle} == nodes:
            return cover
    return None
