"""The rule index finds exactly what checking every rule finds (hypothesis), and stays right as rules
are added, edited and removed."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.alerts.matcher import (
    EVENT_KINDS,
    Criteria,
    MatchEvent,
    RuleRef,
    brute_force,
    distance_km,
    prepare_event,
)
from bot.alerts.rule_index import RuleIndex

WORDS = ["jordan", "4", "1", "bred", "chicago", "dunk", "low", "panda", "yeezy", "350", "og", "retro"]
BRANDS = ["jordan", "nike", "adidas"]
STORES = ["kith.com", "undefeated.com", "concepts.com"]
SIZES = ["9", "9.5", "10", "10.5", "11", "5Y"]
KINDS = ["restock", "new_product", "price_drop", "drop_reminder"]

small_set = lambda pool, n=3: st.frozensets(st.sampled_from(pool), max_size=n)  # noqa: E731
prices = st.one_of(st.none(), st.integers(min_value=50, max_value=400).map(float))

criteria = st.builds(
    Criteria,
    keywords=small_set(WORDS),
    any_groups=st.lists(st.frozensets(st.sampled_from(WORDS), min_size=1, max_size=3), max_size=2).map(tuple),
    exclude=small_set(WORDS, 2),
    brands=small_set(BRANDS, 2),
    stores=small_set(STORES, 2),
    sizes=small_set(SIZES),
    price_min=prices,
    price_max=prices,
    min_deal=st.one_of(st.none(), st.sampled_from([5.0, 20.0, 40.0])),
    location=st.one_of(st.none(), st.just((40.7, -74.0, 30.0))),
    kinds=st.frozensets(st.sampled_from(KINDS), min_size=1, max_size=3),
)

events = st.builds(
    MatchEvent,
    event_id=st.just("e"),
    kind=st.sampled_from(KINDS),
    tokens=st.frozensets(st.sampled_from(WORDS), max_size=6),
    brand=st.sampled_from(["", *BRANDS]),
    store=st.sampled_from(STORES),
    sizes=small_set(SIZES, 4),
    price=prices,
    deals=st.dictionaries(st.sampled_from(["*", *SIZES]), st.sampled_from([0.0, 10.0, 30.0, 50.0]), max_size=3),
    location=st.one_of(st.none(), st.sampled_from([(40.75, -73.99), (34.05, -118.24)])),
)


def _ids(rules: list[RuleRef]) -> list[int]:
    """The rules' ids in rule id order: the index promises each match once, in no particular order."""
    return sorted(rule.rule_id for rule in rules)


@settings(max_examples=300, deadline=None)
@given(st.lists(criteria, max_size=40), st.lists(events, min_size=1, max_size=5), st.data())
def test_index_matches_exactly_what_brute_force_matches(
    all_criteria: list[Criteria], some_events: list[MatchEvent], data: st.DataObject
) -> None:
    rules = [RuleRef(i + 1, i % 7, c, high_priority=i % 5 == 0) for i, c in enumerate(all_criteria)]
    index = RuleIndex()
    for rule in rules:
        index.add(rule)
    removed = data.draw(st.sets(st.sampled_from([r.rule_id for r in rules]))) if rules else set()
    for rule_id in removed:
        index.remove(rule_id)
    live = [rule for rule in rules if rule.rule_id not in removed]
    assert len(index) == len(live)
    for event in some_events:
        assert _ids(index.match(event)) == _ids(brute_force(live, event))


#: a few products, so events repeat them (as monitors do) and compiled plans are reused
products = st.sampled_from(
    [
        (frozenset({"jordan", "4", "bred"}), "jordan"),
        (frozenset({"jordan", "1", "chicago", "retro", "og"}), "jordan"),
        (frozenset({"dunk", "low", "panda"}), "nike"),
        (frozenset({"yeezy", "350"}), "adidas"),
    ]
)
repeat_events = st.builds(
    lambda product, **fields: MatchEvent(tokens=product[0], brand=product[1], **fields),
    product=products,
    event_id=st.just("e"),
    kind=st.sampled_from(KINDS),
    store=st.sampled_from(STORES),
    sizes=small_set(SIZES, 4),
    price=prices,
    deals=st.dictionaries(st.sampled_from(["*", *SIZES]), st.sampled_from([0.0, 10.0, 30.0, 50.0]), max_size=3),
    location=st.one_of(st.none(), st.sampled_from([(40.75, -73.99), (34.05, -118.24)])),
)
#: criteria likely to match those products, so a stale plan would show
likely_criteria = st.builds(
    Criteria,
    keywords=small_set(["jordan", "4", "bred", "1", "chicago", "dunk", "panda", "350"], 2),
    any_groups=st.one_of(st.just(()), st.just((frozenset({"bred", "chicago"}),))),
    exclude=st.one_of(st.just(frozenset()), st.just(frozenset({"og"}))),
    brands=st.one_of(st.just(frozenset()), small_set(BRANDS, 1)),
    stores=st.one_of(st.just(frozenset()), small_set(STORES, 2)),
    sizes=st.one_of(st.just(frozenset()), small_set(SIZES)),
    price_max=st.one_of(st.none(), st.just(200.0)),
    min_deal=st.one_of(st.none(), st.just(20.0)),
    kinds=st.one_of(st.just(frozenset(KINDS)), st.frozensets(st.sampled_from(KINDS), min_size=1)),
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(1, 12), st.one_of(likely_criteria, criteria)),
        st.tuples(st.just("remove"), st.integers(1, 12)),
        st.tuples(st.just("match"), repeat_events),
    ),
    min_size=10,
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(operations, st.integers(min_value=1, max_value=5))
def test_compiled_plans_follow_rule_edits(steps: list[tuple], max_plans: int) -> None:
    """Plans compiled by earlier events must reflect every later add, edit and removal, including when
    the plan cache is small enough to evict."""
    index = RuleIndex(max_plans=max_plans)
    live: dict[int, RuleRef] = {}
    for step in steps:
        if step[0] == "add":
            rule = RuleRef(step[1], step[1] % 5, step[2])
            index.add(rule)
            live[rule.rule_id] = rule
        elif step[0] == "remove":
            index.remove(step[1])
            live.pop(step[1], None)
        else:
            assert _ids(index.match(step[1])) == _ids(brute_force(live.values(), step[1]))
    assert len(index) == len(live)


def test_identical_criteria_are_checked_once_and_edits_move_rules() -> None:
    shared = Criteria(keywords=frozenset({"bred"}))
    index = RuleIndex()
    for rule_id in range(1, 101):
        index.add(RuleRef(rule_id, rule_id, shared))
    event = prepare_event(
        {"event_id": "x", "kind": "restock", "store": "kith.com", "product": {"title": "Jordan 4 Bred"}}
    )
    assert len(index.candidates(event)) == 1
    assert len(index.match(event)) == 100
    index.add(RuleRef(7, 7, Criteria(keywords=frozenset({"panda"}))))  # an edit replaces the old rule
    assert 7 not in _ids(index.match(event))
    assert len(index) == 100


def test_prepare_event_reads_a_monitor_payload() -> None:
    event = prepare_event(
        {
            "event_id": "e1",
            "kind": "price_change",
            "store": "Kith.com",
            "product": {"title": "Air Jordan 1 Retro High OG 'Chicago'", "brand": "Jordan", "tags": ["AJ1"]},
            "sizes": ["US 9", "US 10"],
            "sizes_in_stock": ["M 10 / W 11.5"],
            "price": 150.0,
            "old_price": 180.0,
        }
    )
    assert event.kind == "price_drop"
    assert {"air", "jordan", "1", "chicago", "og", "aj1"} <= event.tokens
    assert event.sizes == frozenset({"10"}) and event.store == "kith.com" and event.brand == "jordan"
    assert "price_drop" in EVENT_KINDS


def test_reasons_explain_a_miss() -> None:
    event = prepare_event(
        {"event_id": "e", "kind": "restock", "store": "kith.com", "product": {"title": "Dunk Low Panda"},
         "sizes_in_stock": ["9"], "price": 120.0}
    )
    assert Criteria(keywords=frozenset({"dunk", "bred"})).check(event) == "missing keyword bred"
    assert Criteria(sizes=frozenset({"10"})).check(event) == "none of your sizes is in this news"
    assert Criteria(price_max=100.0).check(event) == "price 120 above 100"
    assert Criteria(min_deal=10.0).check(event) == "deal unknown below 10%"
    assert Criteria(keywords=frozenset({"dunk"})).check(event) is None
    assert round(distance_km(40.7128, -74.0060, 34.0522, -118.2437)) == 3936


@settings(max_examples=200, deadline=None)
@given(
    st.lists(criteria, min_size=1, max_size=6),
    st.lists(st.integers(min_value=0, max_value=5), max_size=40),
    st.lists(events, min_size=1, max_size=5),
)
def test_rules_sharing_criteria_match_what_brute_force_matches(
    shared: list[Criteria], picks: list[int], some_events: list[MatchEvent]
) -> None:
    """Members who wrote the same rule share one run of bits in a plan; a deal or location check
    passes or drops the whole run."""
    rules = [RuleRef(i + 1, i, shared[pick % len(shared)]) for i, pick in enumerate(picks)]
    index = RuleIndex()
    for rule in rules:
        index.add(rule)
    for event in some_events:
        assert _ids(index.match(event)) == _ids(brute_force(rules, event))
