"""Hand-made markets whose best trades are known."""

from __future__ import annotations

import random

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from bot.trades.solver import Accept, Have, Want, build_graph, solve
from tests.trades.solver.brute import accepts, as_tuples, check_valid


def ring(members: list[str]) -> tuple[list[Have], list[Want]]:
    """Each member has pair P<i> and wants the previous member's pair: one cycle through all of them."""
    haves = [Have(f"h{i}", member, f"P{i}", "10", "DS") for i, member in enumerate(members)]
    wants = [Want(member, f"P{(i - 1) % len(members)}", ("10",)) for i, member in enumerate(members)]
    return haves, wants


def test_direct_swap() -> None:
    haves = [Have("a", "ana", "Samba OG", "9", "DS"), Have("b", "ben", "Dunk Low Panda", "10", "DS")]
    wants = [Want("ana", "Dunk Low Panda", ("10", "10.5")), Want("ben", "Samba OG", ("9",))]
    solution = solve(build_graph(haves, wants), max_cycle=2)
    assert as_tuples(solution.cycles) == [[("a", "ana", "ben"), ("b", "ben", "ana")]]
    assert (solution.items_traded, solution.members_trading) == (2, 2)


def test_three_way_cycle_needs_a_cap_of_three() -> None:
    haves, wants = ring(["ana", "ben", "cy"])
    graph = build_graph(haves, wants)
    assert solve(graph, max_cycle=2).items_traded == 0
    solution = solve(graph, max_cycle=3)
    assert as_tuples(solution.cycles) == [[("h0", "ana", "ben"), ("h1", "ben", "cy"), ("h2", "cy", "ana")]]
    assert solve(graph, max_cycle=0).items_traded == 3


def test_a_five_way_cycle_trades_only_unbounded() -> None:
    haves, wants = ring(["ana", "ben", "cy", "dee", "eve"])
    graph = build_graph(haves, wants)
    assert [solve(graph, max_cycle=cap).items_traded for cap in (2, 3, 4, 5, 0)] == [0, 0, 0, 5, 5]


def test_two_swaps_beat_one_four_way_cycle_covering_the_same_pairs() -> None:
    haves, wants = ring(["ana", "ben", "cy", "dee"])
    wants += [
        Want("ana", "P1", ("10",)),
        Want("ben", "P0", ("10",)),
        Want("cy", "P3", ("10",)),
        Want("dee", "P2", ("10",)),
    ]
    graph = build_graph(haves, wants)
    for cap in (4, 0):
        solution = solve(graph, max_cycle=cap)
        assert solution.items_traded == 4
        assert sorted(len(cycle) for cycle in solution.cycles) == [2, 2]


def test_more_items_beat_shorter_cycles() -> None:
    """A swap between ana and ben would strand cy; the three-way cycle moves three pairs."""
    haves, wants = ring(["ana", "ben", "cy"])
    wants.append(Want("ben", "P0", ("10",)))
    wants.append(Want("ana", "P1", ("10",)))
    solution = solve(build_graph(haves, wants), max_cycle=3)
    assert solution.items_traded == 3 and len(solution.cycles) == 1


def test_never_with_themself() -> None:
    haves = [Have("a1", "ana", "Samba OG", "9", "DS"), Have("a2", "ana", "Dunk Low Panda", "9", "DS")]
    wants = [Want("ana", "Samba OG", ("9",)), Want("ana", "Dunk Low Panda", ("9",))]
    graph = build_graph(haves, wants)
    assert graph.edge_count == 0
    assert solve(graph, max_cycle=0).cycles == []


def test_size_and_condition_must_fit() -> None:
    haves = [Have("a", "ana", "Samba OG", "9", "used"), Have("b", "ben", "Dunk Low Panda", "10", "DS")]
    wrong_size = [Want("ana", "Dunk Low Panda", ("9",)), Want("ben", "Samba OG", ("9",))]
    wrong_condition = [Want("ana", "Dunk Low Panda", ("10",)), Want("ben", "Samba OG", ("9",), ("DS",))]
    right = [Want("ana", "Dunk Low Panda", ("10",)), Want("ben", "Samba OG", ("9",), ("DS", "used"))]
    assert build_graph(haves, wrong_size).edge_count == 1
    assert build_graph(haves, wrong_condition).edge_count == 1
    assert solve(build_graph(haves, right)).items_traded == 2


def test_a_haves_own_accept_list_replaces_the_members_wants() -> None:
    haves = [
        Have("a", "ana", "Samba OG", "9", "DS", accepts=(Accept("Jordan 4 Pine Green", "10"),)),
        Have("b", "ben", "Dunk Low Panda", "10", "DS"),
        Have("c", "cy", "Jordan 4 Pine Green", "10", "used"),
    ]
    wants = [Want("ana", "Dunk Low Panda", ("10",)), Want("ben", "Samba OG", ("9",)), Want("cy", "Samba OG", ("9",))]
    graph = build_graph(haves, wants)
    assert not graph.has_edge("b", "a")  # ana wants the Dunk, but not for this have
    assert graph.has_edge("c", "a")
    solution = solve(graph, max_cycle=2)
    assert as_tuples(solution.cycles) == [[("a", "ana", "cy"), ("c", "cy", "ana")]]


def test_a_member_with_two_haves_trades_both_in_different_cycles() -> None:
    haves = [
        Have("a1", "ana", "Samba OG", "9", "DS", accepts=(Accept("Dunk Low Panda", "10"),)),
        Have("a2", "ana", "Gazelle", "9", "DS", accepts=(Accept("Air Max 1", "10"),)),
        Have("b", "ben", "Dunk Low Panda", "10", "DS"),
        Have("c", "cy", "Air Max 1", "10", "DS"),
    ]
    wants = [Want("ben", "Samba OG", ("9",)), Want("cy", "Gazelle", ("9",))]
    solution = solve(build_graph(haves, wants), max_cycle=2)
    assert solution.items_traded == 4 and solution.members_trading == 3
    assert as_tuples(solution.cycles) == [
        [("a1", "ana", "ben"), ("b", "ben", "ana")],
        [("a2", "ana", "cy"), ("c", "cy", "ana")],
    ]


def test_allow_vetoes_an_edge() -> None:
    haves, wants = ring(["ana", "ben", "cy"])
    graph = build_graph(haves, wants, allow=lambda giving, for_have: (giving.member, for_have.member) != ("cy", "ana"))
    assert not graph.has_edge("h2", "h0")
    assert solve(graph, max_cycle=0).items_traded == 0


def test_empty_market() -> None:
    for cap in (2, 3, 0):
        solution = solve(build_graph([], []), max_cycle=cap)
        assert (solution.cycles, solution.items_traded, solution.members_trading) == ([], 0, 0)


@pytest.mark.parametrize("cap", [-1, 1])
def test_a_cap_of_one_or_below_zero_is_refused(cap: int) -> None:
    with pytest.raises(ValueError, match="max_cycle"):
        solve(build_graph([], []), max_cycle=cap)


def random_market(seed: int, haves_count: int) -> tuple[list[Have], list[Want]]:
    rng = random.Random(seed)
    items = [f"P{i}" for i in range(12)]
    members = [f"m{i}" for i in range(haves_count // 2)]
    haves = [
        Have(f"h{i}", rng.choice(members), rng.choice(items), rng.choice(["9", "10"]), rng.choice(["DS", "used"]))
        for i in range(haves_count)
    ]
    wants = [
        Want(member, rng.choice(items), tuple(rng.sample(["9", "10"], rng.randint(1, 2))))
        for member in members
        for _ in range(rng.randint(1, 3))
    ]
    return haves, wants


@pytest.mark.parametrize("seed", range(5))
def test_unbounded_equals_the_dense_assignment_optimum(seed: int) -> None:
    """Cross-check against scipy's dense Hungarian-style solver on the full cost matrix."""
    haves, wants = random_market(seed, 80)
    cost = np.full((len(haves), len(haves)), 1e6)
    for a, giving in enumerate(haves):
        for b, for_have in enumerate(haves):
            if accepts(giving, for_have, wants):
                cost[a, b] = 1.0
        cost[a, a] = 2.0
    rows, cols = linear_sum_assignment(cost)
    optimum = int(sum(1 for row, col in zip(rows, cols, strict=True) if row != col))
    solution = solve(build_graph(haves, wants), max_cycle=0)
    check_valid(solution, haves, wants, 0)
    assert solution.items_traded == optimum
    assert optimum >= solve(build_graph(haves, wants), max_cycle=3).items_traded


def test_output_is_deterministic_and_starts_each_cycle_at_its_smallest_have() -> None:
    haves, wants = random_market(7, 60)
    first = solve(build_graph(haves, wants), max_cycle=3)
    again = solve(build_graph(list(haves), list(wants)), max_cycle=3)
    assert as_tuples(first.cycles) == as_tuples(again.cycles)
    assert all(cycle[0].have == min(step.have for step in cycle) for cycle in first.cycles)
    assert [cycle[0].have for cycle in first.cycles] == sorted(cycle[0].have for cycle in first.cycles)


def test_a_time_limited_capped_solve_reports_a_proven_bound() -> None:
    """Whether or not the limit is hit, the packing is valid and the bound is at least the optimum."""
    haves, wants = random_market(3, 80)
    graph = build_graph(haves, wants)
    exact = solve(graph, max_cycle=5)
    hurried = solve(graph, max_cycle=5, seconds=0.0)
    check_valid(hurried, haves, wants, 5)
    assert exact.optimal and exact.items_bound == exact.items_traded
    assert hurried.items_traded <= exact.items_traded <= hurried.items_bound
    if hurried.optimal:
        assert (hurried.items_traded, hurried.items_bound) == (exact.items_traded, exact.items_traded)


def test_chord_cuts_keep_every_have_and_every_edge_valid() -> None:
    """A ring with chords everywhere: the unbounded answer still trades all of it, in short cycles."""
    members = [f"m{i}" for i in range(12)]
    haves, wants = ring(members)
    wants += [Want(member, f"P{(i + 1) % 12}", ("10",)) for i, member in enumerate(members)]
    solution = solve(build_graph(haves, wants), max_cycle=0)
    check_valid(solution, haves, wants, 0)
    assert solution.items_traded == 12
    assert {len(cycle) for cycle in solution.cycles} == {2}


def test_a_duplicate_have_id_is_refused() -> None:
    twice = [Have("a", "ana", "Samba OG", "9", "DS"), Have("a", "ben", "Samba OG", "9", "DS")]
    with pytest.raises(ValueError, match="'a' appears twice"):
        build_graph(twice, [])
