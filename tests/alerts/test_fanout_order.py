"""The fan-out's order: high-priority members first, each group by member id, cut into a first chunk
and then chunks of the fan-out size, whichever way the first chunk was chosen."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.alerts.matcher import Criteria, RuleRef
from bot.alerts.service import FanOutOrder

members = st.dictionaries(st.integers(1, 500), st.booleans(), max_size=60)


@given(members, st.integers(1, 8), st.integers(1, 9))
def test_chunks_follow_the_plain_order(urgency: dict[int, bool], first: int, size: int) -> None:
    by_member = {member_id: RuleRef(member_id, member_id, Criteria(), high_priority=high)
                 for member_id, high in urgency.items()}  # fmt: skip
    urgent = sorted(member_id for member_id, high in urgency.items() if high)
    ordered = urgent + sorted(member_id for member_id, high in urgency.items() if not high)
    expected = [ordered[:first]] + [ordered[start : start + size] for start in range(first, len(ordered), size)]

    order = FanOutOrder(by_member, first)

    assert list(order.chunks(size)) == expected
    assert order.first == ordered[:first]
    assert order.more_than_first == (len(ordered) > first)
