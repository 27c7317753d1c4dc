"""Random small markets: the solver against exhaustive search, for every cycle cap."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.trades.solver import Accept, Have, Want, build_graph, solve
from tests.trades.solver.brute import accepts, best, check_valid

MEMBERS = ("ana", "ben", "cy", "dee")
ITEMS = ("Dunk Low Panda", "Jordan 4 Pine Green", "Samba OG")
SIZES = ("9", "10")
CONDITIONS = ("DS", "used")


def _subset(values: tuple[str, ...]) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(st.sampled_from(values), min_size=1, max_size=len(values), unique=True).map(tuple)


@st.composite
def markets(
    draw: st.DrawFn, items: tuple[str, ...] = ITEMS, sizes: tuple[str, ...] = SIZES, least: int = 0
) -> tuple[list[Have], list[Want]]:
    """Up to eight haves among four members; fewer items and sizes make denser graphs with longer cycles."""
    accept_lists = st.lists(
        st.builds(Accept, item=st.sampled_from(items), size=st.sampled_from(sizes)), min_size=1, max_size=3
    ).map(tuple)
    count = draw(st.integers(min_value=least, max_value=8))
    haves = [
        Have(
            id=f"h{index}",
            member=draw(st.sampled_from(MEMBERS)),
            item=draw(st.sampled_from(items)),
            size=draw(st.sampled_from(sizes)),
            condition=draw(st.sampled_from(CONDITIONS)),
            accepts=draw(st.none() | st.none() | st.none() | accept_lists),
        )
        for index in range(count)
    ]
    wants = [
        want
        for member in MEMBERS
        for want in draw(
            st.lists(
                st.builds(
                    Want,
                    member=st.just(member),
                    item=st.sampled_from(items),
                    sizes=_subset(sizes),
                    conditions=st.none() | _subset(CONDITIONS),
                ),
                max_size=3,
            )
        )
    ]
    return haves, wants


@settings(max_examples=150, deadline=None)
@given(market=markets() | markets(items=ITEMS[:2], sizes=SIZES[:1], least=4))
def test_every_cap_matches_exhaustive_search(market: tuple[list[Have], list[Want]]) -> None:
    haves, wants = market
    graph = build_graph(haves, wants)
    for cap in (2, 3, 4, 0):
        solution = solve(graph, max_cycle=cap)
        check_valid(solution, haves, wants, cap)
        most, squares = best(haves, wants, cap)
        assert solution.items_traded == most, cap
        if cap in (2, 3):
            assert solution.sum_of_squares == squares, cap
        else:  # the unbounded and time-limited tie-breaks are heuristics
            assert solution.sum_of_squares >= squares
        assert solution.optimal and solution.items_bound == most
        if cap > 3:  # caps of 4+ are time-limited by default; without a limit the program is exact
            exact = solve(graph, max_cycle=cap, seconds=math.inf)
            assert (exact.items_traded, exact.sum_of_squares) == (most, squares)
        hurried = solve(graph, max_cycle=cap, seconds=0.0)  # no time at all: still valid, still bounded
        check_valid(hurried, haves, wants, cap)
        assert hurried.items_traded <= most <= hurried.items_bound


@settings(max_examples=100, deadline=None)
@given(market=markets())
def test_graph_has_exactly_the_acceptable_swaps(market: tuple[list[Have], list[Want]]) -> None:
    haves, wants = market
    graph = build_graph(haves, wants)
    expected = {(a, b) for a in range(len(haves)) for b in range(len(haves)) if accepts(haves[a], haves[b], wants)}
    assert set(graph.edges()) == expected


@settings(max_examples=60, deadline=None)
@given(market=markets(), vetoed=st.sets(st.sampled_from(MEMBERS), max_size=2))
def test_allow_removes_edges_and_the_solver_respects_it(
    market: tuple[list[Have], list[Want]], vetoed: set[str]
) -> None:
    haves, wants = market

    def allow(giving: Have, for_have: Have) -> bool:
        return giving.member not in vetoed  # as if every vetoed member were blocked by everyone

    solution = solve(build_graph(haves, wants, allow=allow), max_cycle=3)
    assert not {step.from_member for cycle in solution.cycles for step in cycle} & vetoed
    kept = [have for have in haves if have.member not in vetoed]
    assert solution.items_traded == best(kept, wants, 3)[0]
