"""The trade graph: one node per have, an edge A→B when A may go to B's owner in exchange for B.

B's owner accepts A for B when A's item and size are in B's own ``accepts`` list, or, if B has none,
when one of that member's wants names A's item, A's size and (if the want restricts it) A's
condition. A member never trades with themself. ``allow(a, b)`` is the slice's veto on top of that
(blocked members, reputation minimums, meet-up radius, value balance, a declined proposal).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from bot.trades.solver.model import Have, Want

Allow = Callable[[Have, Have], bool]


@dataclass(frozen=True, slots=True, eq=False)
class TradeGraph:
    """Haves in input order and, per have index, the sorted indices of the haves it may be swapped for."""

    haves: tuple[Have, ...]
    successors: tuple[tuple[int, ...], ...]
    positions: dict[str, int]

    @property
    def edge_count(self) -> int:
        return sum(len(targets) for targets in self.successors)

    def edges(self) -> Iterator[tuple[int, int]]:
        for source, targets in enumerate(self.successors):
            for target in targets:
                yield source, target

    def has_edge(self, giving: str, for_have: str) -> bool:
        """Whether have ``giving`` may go to the owner of have ``for_have``."""
        source, target = self.positions.get(giving), self.positions.get(for_have)
        return source is not None and target is not None and target in self.successors[source]


def build_graph(haves: Sequence[Have], wants: Iterable[Want], *, allow: Allow | None = None) -> TradeGraph:
    """Every acceptable swap among ``haves``; a have id given twice is a ValueError."""
    positions: dict[str, int] = {}
    for position, have in enumerate(haves):
        if positions.setdefault(have.id, position) != position:
            raise ValueError(f"have id {have.id!r} appears twice")
    wanted: dict[tuple[str, str], list[Want]] = defaultdict(list)
    for want in wants:
        for size in want.sizes:
            wanted[want.item, size].append(want)
    by_wants: dict[str, list[int]] = defaultdict(list)
    by_accepts: dict[tuple[str, str], list[int]] = defaultdict(list)
    for position, have in enumerate(haves):
        if have.accepts is None:
            by_wants[have.member].append(position)
        else:
            for accept in {(accept.item, accept.size) for accept in have.accepts}:
                by_accepts[accept].append(position)
    successors: list[tuple[int, ...]] = []
    for have in haves:
        targets = set(by_accepts.get((have.item, have.size), ()))
        takers = {
            want.member
            for want in wanted.get((have.item, have.size), ())
            if want.conditions is None or have.condition in want.conditions
        }
        for member in takers:
            targets.update(by_wants.get(member, ()))
        successors.append(
            tuple(
                sorted(
                    target
                    for target in targets
                    if haves[target].member != have.member and (allow is None or allow(have, haves[target]))
                )
            )
        )
    return TradeGraph(haves=tuple(haves), successors=tuple(successors), positions=positions)
