"""Multi-way trade matching: the cycles of swaps that move the most items (issue 15, part 2).

Pure and platform-free (no database, no chat library), so the trades slice, the CLI and the benchmark
share it. The API:

- :class:`Have` ``(id, member, item, size, condition, accepts=None)``, :class:`Accept` ``(item, size)``,
  :class:`Want` ``(member, item, sizes, conditions=None)``: frozen dataclasses; strings compare exactly.
- :func:`build_graph` ``(haves, wants, *, allow=None) -> TradeGraph``: edge A→B when have A may go to
  the owner of have B in exchange for B (B's ``accepts`` if given, else its owner's wants; never a
  member with themself); ``allow(a, b)`` drops edges (blocks, reputation, radius, value balance).
- :func:`solve` ``(graph, *, max_cycle=3, seconds=None) -> TradeSolution`` (0 = unbounded): ``cycles``
  of :class:`Step` ``(have, from_member, to_member)``, ``items_traded``, ``members_trading``,
  ``seconds``, ``optimal``, ``items_bound``. Exact in items for caps up to 3 and unbounded; among
  equally many items the capped solve minimises the sum of squared cycle lengths exactly, the
  unbounded one as far as a bounded refinement finds (see ``solve.py``). A cap of 4 or more is
  time-limited (``seconds``, default 30; ``math.inf`` for exact): the better of the exact cap-3
  answer extended by longer cycles and the full program's best in time, with a proven
  ``items_bound`` and ``optimal`` saying whether it is reached.
- :func:`load_problem` ``(json_bytes) -> (haves, wants)`` raising :class:`ProblemError` naming the
  problem, and :func:`solution_to_json` for the CLI's shape; :func:`add_solve_command` wires
  ``snpd trades solve`` into the slice's sub-parsers.

Every have is its own node: a member with several haves may trade each of them, in one cycle or in
several, and receives for each something they accept for that have.
"""

from bot.trades.solver.cli import add_solve_command, run_solve
from bot.trades.solver.graph import Allow, TradeGraph, build_graph
from bot.trades.solver.model import Accept, Have, Step, TradeSolution, Want
from bot.trades.solver.problem import ProblemError, load_problem, solution_to_json
from bot.trades.solver.solve import solve

__all__ = [
    "Accept",
    "Allow",
    "Have",
    "ProblemError",
    "Step",
    "TradeGraph",
    "TradeSolution",
    "Want",
    "add_solve_command",
    "build_graph",
    "load_problem",
    "run_solve",
    "solution_to_json",
    "solve",
]
