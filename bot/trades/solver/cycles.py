"""Graph plumbing for the solver: strongly connected components and short-cycle enumeration.

Only edges inside one strongly connected component can lie on a cycle, so the solver drops every
other node and edge first. Cycles of length <= cap are listed once each, starting at their smallest
node, by a depth-first search that only extends a path to nodes that can still get back to the start
within the cap (a reverse breadth-first search from the start gives those distances).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

Successors = Sequence[Sequence[int]]


#: steps of the depth-first search between two looks at the clock
CLOCK_EVERY = 4096


class CyclesCut(Exception):
    """Listing stopped at the caller's budget or deadline; ``found`` holds the cycles listed so far."""

    def __init__(self, found: list[tuple[int, ...]]) -> None:
        super().__init__(f"stopped after {len(found)} cycles")
        self.found = found


def strong_components(successors: Successors) -> list[int]:
    """Component label per node."""
    count = len(successors)
    if count == 0:
        return []
    rows = [source for source, targets in enumerate(successors) for _ in targets]
    cols = [target for targets in successors for target in targets]
    matrix = csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(count, count))
    _, labels = connected_components(matrix, directed=True, connection="strong")
    return [int(label) for label in labels]


def cyclic_part(successors: Successors) -> list[list[int]]:
    """The edges that lie on some cycle: those inside a strongly connected component."""
    labels = strong_components(successors)
    return [
        [target for target in targets if labels[target] == labels[source]] for source, targets in enumerate(successors)
    ]


def predecessors(successors: Successors) -> list[list[int]]:
    result: list[list[int]] = [[] for _ in successors]
    for source, targets in enumerate(successors):
        for target in targets:
            result[target].append(source)
    return result


def short_cycles(
    successors: Successors, cap: int, *, budget: int | None = None, deadline: float | None = None
) -> list[tuple[int, ...]]:
    """Every simple cycle of at most ``cap`` nodes, as its nodes in order from the smallest.

    More than ``budget`` cycles, or the clock past ``deadline`` (a ``time.perf_counter`` value), raises
    :class:`CyclesCut` with the cycles listed so far.
    """
    preds = predecessors(successors)
    found: list[tuple[int, ...]] = []
    for start in range(len(successors)):
        distance = _distances_back(preds, start, cap - 1)
        if len(distance) > 1:
            _cycles_from(successors, start, distance, cap, found, budget, deadline)
    return found


def _cycles_from(
    successors: Successors,
    start: int,
    distance: dict[int, int],
    cap: int,
    found: list[tuple[int, ...]],
    budget: int | None,
    deadline: float | None,
) -> None:
    """Append the cycles whose smallest node is ``start``; ``distance`` says who can still get back in time."""
    path = [start]
    on_path = {start}
    steps = [0]

    def extend(node: int) -> None:
        steps[0] += 1
        if deadline is not None and steps[0] % CLOCK_EVERY == 1 and time.perf_counter() > deadline:
            raise CyclesCut(found)
        for nxt in successors[node]:
            if nxt == start:
                found.append(tuple(path))
                if budget is not None and len(found) > budget:
                    raise CyclesCut(found)
                continue
            back = distance.get(nxt)
            if back is None or nxt in on_path or len(path) + back > cap:
                continue
            path.append(nxt)
            on_path.add(nxt)
            extend(nxt)
            path.pop()
            on_path.discard(nxt)

    extend(start)


def _distances_back(preds: Successors, start: int, depth: int) -> dict[int, int]:
    """Edges needed to reach ``start`` from each node above it, up to ``depth`` (start itself is 0)."""
    distance = {start: 0}
    frontier = [start]
    for step in range(1, depth + 1):
        reached: list[int] = []
        for node in frontier:
            for previous in preds[node]:
                if previous > start and previous not in distance:
                    distance[previous] = step
                    reached.append(previous)
        if not reached:
            break
        frontier = reached
    return distance
