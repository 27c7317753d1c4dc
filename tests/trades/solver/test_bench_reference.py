"""The benchmark's independent checks agree with the solver on small markets, and its market is sane."""

from __future__ import annotations

import math

import pytest

from bench.trades import assignment_optimum, generate, pief_optimum, swap_matching_optimum
from bot.trades.solver import build_graph, solve
from tests.paths import SHARED_DATA
from tests.trades.solver.test_examples import random_market

CATALOG = SHARED_DATA / "stockx-products-2023.csv"


@pytest.mark.parametrize("seed", range(4))
def test_the_reference_methods_agree_with_the_solver(seed: int) -> None:
    graph = build_graph(*random_market(seed, 40))
    for cap in (2, 3, 4):
        solution = solve(graph, max_cycle=cap, seconds=math.inf)
        assert pief_optimum(graph, cap) == (solution.items_traded, solution.sum_of_squares)
    assert swap_matching_optimum(graph) == solve(graph, max_cycle=2).items_traded
    assert assignment_optimum(graph) == solve(graph, max_cycle=0).items_traded


@pytest.mark.skipif(not CATALOG.exists(), reason="the shared 2023 catalog is not beside the checkout")
def test_the_generated_market_uses_the_catalog_in_mens_sizes() -> None:
    haves, wants = generate(300, seed=5, path=CATALOG)
    assert len(haves) == 300 and len({have.id for have in haves}) == 300
    sizes = {have.size for have in haves} | {size for want in wants for size in want.sizes}
    assert all(6 <= float(size) <= 14.5 and float(size) * 2 == int(float(size) * 2) for size in sizes)
    assert {have.condition for have in haves} <= {"DS", "VNDS", "used"}
    members = {have.member for have in haves}
    assert {want.member for want in wants} <= members
    assert generate(300, seed=5, path=CATALOG) == (haves, wants)
