"""``snpd trades solve FILE.json [--max-cycle N] [--json]``: the matcher on a file, for tests and tools.

The ``snpd trades`` group belongs to the trades slice, whose ``add_cli`` passes its sub-parsers to
:func:`add_solve_command`. A malformed file gets one line naming the problem and exit status 2.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

import orjson

from bot.trades.solver.graph import build_graph
from bot.trades.solver.problem import ProblemError, load_problem, solution_to_json
from bot.trades.solver.solve import solve

#: refuse files bigger than this rather than reading them into memory
MAX_FILE_BYTES = 64 * 1024 * 1024


def add_solve_command(subparsers: Any) -> None:
    """Register ``solve`` under the ``snpd trades`` sub-parsers."""
    command = subparsers.add_parser("solve", help="find the trade cycles that move the most items in a JSON file")
    command.add_argument("file", metavar="FILE.json", help='{"haves": [...], "wants": [...]} (see bot/trades/solver)')
    command.add_argument("--max-cycle", type=int, default=3, help="longest cycle, in haves (default 3; 0 = unbounded)")
    command.add_argument(
        "--seconds",
        type=float,
        default=math.inf,
        help="time limit for caps of 4 or more (default: none, the exact answer however long it takes)",
    )
    command.add_argument("--json", action="store_true", help="print the solution as one JSON object")
    command.set_defaults(func=run_solve)


def run_solve(args: argparse.Namespace) -> int:
    if args.max_cycle < 0 or args.max_cycle == 1:
        print(f"--max-cycle must be 0 (unbounded) or at least 2, not {args.max_cycle}", file=sys.stderr)
        return 2
    if not args.seconds > 0:
        print(f"--seconds must be more than 0, not {args.seconds}", file=sys.stderr)
        return 2
    path = Path(args.file)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            print(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB", file=sys.stderr)
            return 2
        haves, wants = load_problem(path.read_bytes())
    except OSError as exc:
        print(f"{path}: cannot read ({exc.strerror or exc})", file=sys.stderr)
        return 2
    except ProblemError as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 2
    solution = solve(build_graph(haves, wants), max_cycle=args.max_cycle, seconds=args.seconds)
    if args.json:
        sys.stdout.write(orjson.dumps(solution_to_json(solution)).decode() + "\n")
        return 0
    cap = "unbounded" if args.max_cycle == 0 else f"at most {args.max_cycle}"
    proof = "optimal" if solution.optimal else f"at most {solution.items_bound} possible"
    print(
        f"{solution.items_traded} items among {solution.members_trading} members in {len(solution.cycles)} cycles "
        f"({cap}; {proof}), {solution.seconds:.3f} s"
    )
    for number, cycle in enumerate(solution.cycles, 1):
        print(f"{number}. " + "; ".join(f"{step.from_member} sends {step.have} to {step.to_member}" for step in cycle))
    return 0
