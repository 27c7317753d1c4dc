"""``snpd bench trades``: multi-way trade matching on 2,000 generated listings of the 2023 catalog.

The market is generated from ``stockx-products-2023.csv`` with a fixed seed. Pairs are listed in
proportion to the square of their recent sales (``salesThisPeriod``: what people own and move) and
wanted in proportion to the square of their open bids (``numberOfBids``: what people are after), so
popular pairs are both listed and wanted more (squared because a cook group crowds onto hyped pairs
more than the whole market does; unsquared, barely 2% of listings could trade). Each member has a
men's US shoe size (normal around 10, sd 1.5, in halves, 6 to 14) and one to six haves, 70% in that
size and the rest in any, in condition DS 55%, VNDS 25%, used 20%; they want two to five pairs in
their size (half of them also half a size up), in any condition (30%), DS only (40%) or DS/VNDS
(30%); 15% of haves carry their own accept list. ``listings`` counts haves (the tradeable nodes);
``wants`` is reported beside it.

``items_traded``, ``members_trading`` and ``seconds`` are the solver's, with the cycle cap at 2, 3 and
unbounded (``seconds`` is the solve alone; building the graph is ``graph_seconds``). ``optimal`` checks
each against an independent exact method on the same input: the unbounded count against scipy's dense
``linear_sum_assignment`` on the full cost matrix (the solver uses the sparse LAPJVsp matching); cap 2
against twice a maximum-cardinality matching of mutual swaps (networkx's blossom algorithm); caps 2 and
3, items and the sum of squared cycle lengths, against a position-indexed edge formulation (PIEF)
integer program, which has a variable per edge and position instead of per cycle.
"""

from __future__ import annotations

import csv
import random
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linear_sum_assignment, milp
from scipy.sparse import csr_matrix

from bot.trades.solver import Accept, Have, TradeGraph, TradeSolution, Want, build_graph, solve
from bot.trades.solver.cycles import cyclic_part

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "stockx-products-2023.csv"
LISTINGS = 2000
SEED = 2023
#: a cook group crowds onto hyped pairs more than the whole market does: weights are the statistic squared
POPULARITY_POWER = 2.0
CONDITIONS = ("DS", "VNDS", "used")


def load_catalog(path: Path = DATA) -> tuple[list[str], list[float], list[float]]:
    """Pair names with their listing weight (recent sales) and want weight (open bids), duplicates summed."""
    sales: dict[str, float] = defaultdict(float)
    bids: dict[str, float] = defaultdict(float)
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            sales[row["item"]] += float(row["salesThisPeriod"] or 0)
            bids[row["item"]] += float(row["numberOfBids"] or 0)
    names = sorted(sales)
    return (
        names,
        [sales[name] ** POPULARITY_POWER for name in names],
        [bids[name] ** POPULARITY_POWER for name in names],
    )


def _size(rng: random.Random) -> float:
    return min(14.0, max(6.0, round(rng.gauss(10.0, 1.5) * 2) / 2))


def _label(size: float) -> str:
    return f"{size:g}"


def generate(listings: int = LISTINGS, seed: int = SEED, path: Path = DATA) -> tuple[list[Have], list[Want]]:
    """A cook group's market: ``listings`` haves from members holding one to six pairs each."""
    rng = random.Random(seed)
    names, listed, wanted = load_catalog(path)
    haves: list[Have] = []
    wants: list[Want] = []
    member = 0
    while len(haves) < listings:
        name = f"m{member:04d}"
        member += 1
        size = _size(rng)
        count = min(listings - len(haves), rng.choice((1, 1, 1, 2, 2, 3, 4, 6)))
        for item in rng.choices(names, weights=listed, k=count):
            pair_size = size if rng.random() < 0.7 else _size(rng)
            accepts = None
            if rng.random() < 0.15:
                picks = rng.choices(names, weights=wanted, k=rng.randint(1, 3))
                accepts = tuple(Accept(pick, _label(size)) for pick in dict.fromkeys(picks))
            condition = rng.choices(CONDITIONS, weights=(55, 25, 20))[0]
            haves.append(Have(f"h{len(haves):05d}", name, item, _label(pair_size), condition, accepts))
        for item in dict.fromkeys(rng.choices(names, weights=wanted, k=rng.randint(2, 5))):
            sizes = (_label(size), _label(size + 0.5)) if rng.random() < 0.5 else (_label(size),)
            conditions = rng.choices([None, ("DS",), ("DS", "VNDS")], weights=(30, 40, 30))[0]
            wants.append(Want(name, item, sizes, conditions))
    return haves, wants


def assignment_optimum(graph: TradeGraph) -> int:
    """Most items by dense minimum-cost perfect matching over every have (no pruning, no sparsity)."""
    size = len(graph.haves)
    cost = np.full((size, size), 1e9)
    for source, target in graph.edges():
        cost[source, target] = 1.0
    np.fill_diagonal(cost, 2.0)
    rows, cols = linear_sum_assignment(cost)
    return int(np.count_nonzero(rows != cols))


def swap_matching_optimum(graph: TradeGraph) -> int:
    """Items moved by direct swaps only: twice a maximum matching of the mutual-swap graph."""
    edges = set(graph.edges())
    mutual = nx.Graph([(a, b) for a, b in edges if a < b and (b, a) in edges])
    return 2 * len(nx.max_weight_matching(mutual, maxcardinality=True))


def pief_optimum(graph: TradeGraph, cap: int) -> tuple[int, int]:
    """(items, sum of squared cycle lengths) by the position-indexed edge formulation.

    For every start node s, ``x[u, v, k, s]`` says edge u→v is the k-th step of a cycle whose smallest
    node is s. Flow in at position k equals flow out at k+1 for every node but s, each node is entered
    at most once overall, and a cycle closes when an edge enters s at position k (k items, k² squares).
    """
    successors = cyclic_part(graph.successors)
    preds: list[list[int]] = [[] for _ in successors]
    for source, targets in enumerate(successors):
        for target in targets:
            preds[target].append(source)
    variables: list[tuple[int, int, int, int]] = []
    for start in range(len(successors)):
        back = _reach(preds, start, cap)  # steps still needed from a node back to start
        out = _reach(successors, start, cap)  # steps to get from start to a node
        for u in out:
            steps = [1] if u == start else range(max(2, out[u] + 1), cap + 1)
            for v in successors[u]:
                if v == start or v in back:
                    variables.extend((u, v, k, start) for k in steps if v == start or k + back[v] <= cap)
    if not variables:
        return 0, 0
    big = len(successors) * cap + 1
    weights = [big - (k * k if v == start else 0) for _u, v, k, start in variables]
    rows: list[int] = []
    cols: list[int] = []
    values: list[float] = []
    lower: list[float] = []
    upper: list[float] = []
    entered: dict[int, int] = {}
    flow: dict[tuple[int, int, int], int] = {}

    def row(key: Any, table: dict[Any, int], low: float, high: float) -> int:
        if key not in table:
            table[key] = len(lower)
            lower.append(low)
            upper.append(high)
        return table[key]

    for column, (u, v, k, start) in enumerate(variables):
        rows.append(row(v, entered, 0.0, 1.0))
        cols.append(column)
        values.append(1.0)
        if v != start:  # what enters v at step k leaves it at step k+1
            rows.append(row((v, k, start), flow, 0.0, 0.0))
            cols.append(column)
            values.append(1.0)
        if u != start:
            rows.append(row((u, k - 1, start), flow, 0.0, 0.0))
            cols.append(column)
            values.append(-1.0)
    matrix = csr_matrix((values, (rows, cols)), shape=(len(lower), len(variables)))
    result = milp(
        c=-np.asarray(weights, dtype=float),
        constraints=LinearConstraint(matrix, lower, upper),
        integrality=np.ones(len(variables)),
        bounds=Bounds(0, 1),
        options={"mip_rel_gap": 0.0},
    )
    chosen = [variables[i] for i, value in enumerate(result.x) if value > 0.5]
    return len(chosen), sum(k * k for _u, v, k, start in chosen if v == start)


def _reach(adjacency: Sequence[Sequence[int]], start: int, depth: int) -> dict[int, int]:
    """Breadth-first steps from ``start`` over nodes above it, up to ``depth`` (start itself 0)."""
    distance = {start: 0}
    frontier = [start]
    for step in range(1, depth + 1):
        reached = []
        for node in frontier:
            for nxt in adjacency[node]:
                if nxt > start and nxt not in distance:
                    distance[nxt] = step
                    reached.append(nxt)
        frontier = reached
    return distance


def _summary(solution: TradeSolution) -> dict[str, Any]:
    return {
        "items_traded": solution.items_traded,
        "members_trading": solution.members_trading,
        "cycles": len(solution.cycles),
        "longest_cycle": max((len(cycle) for cycle in solution.cycles), default=0),
        "sum_of_squares": solution.sum_of_squares,
        "seconds": round(solution.seconds, 4),
    }


def run(listings: int = LISTINGS, path: Path = DATA) -> dict[str, Any]:
    haves, wants = generate(listings, SEED, path)
    started = time.perf_counter()
    graph = build_graph(haves, wants)
    graph_seconds = time.perf_counter() - started
    results = {
        "cap2": solve(graph, max_cycle=2),
        "cap3": solve(graph, max_cycle=3),
        "unbounded": solve(graph, max_cycle=0),
    }
    summaries = {name: _summary(solution) for name, solution in results.items()}
    pief = {cap: pief_optimum(graph, cap) for cap in (2, 3)}
    assignment = assignment_optimum(graph)
    swaps = swap_matching_optimum(graph)
    optimal = {
        "unbounded_vs_dense_assignment": [results["unbounded"].items_traded, assignment],
        "cap2_vs_blossom_matching": [results["cap2"].items_traded, swaps],
        "cap2_vs_pief_ip": [[results["cap2"].items_traded, results["cap2"].sum_of_squares], list(pief[2])],
        "cap3_vs_pief_ip": [[results["cap3"].items_traded, results["cap3"].sum_of_squares], list(pief[3])],
    }
    all_optimal = (
        results["unbounded"].items_traded == assignment
        and results["cap2"].items_traded == swaps
        and all((results[f"cap{cap}"].items_traded, results[f"cap{cap}"].sum_of_squares) == pief[cap] for cap in (2, 3))
    )
    return {
        "listings": len(haves),
        "wants": len(wants),
        "members": len({have.member for have in haves}),
        "edges": graph.edge_count,
        "graph_seconds": round(graph_seconds, 4),
        "items_traded": {name: summary["items_traded"] for name, summary in summaries.items()},
        "seconds": {name: summary["seconds"] for name, summary in summaries.items()},
        "solutions": summaries,
        "optimal": all_optimal,
        "optimal_checks": optimal,
        "targets": {"seconds_unbounded": 2.0, "seconds_cap3": 2.0, "optimal": True},
    }
