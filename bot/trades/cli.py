"""``snpd trades``: the matcher on a JSON file (``solve``, from the solver package)."""

from __future__ import annotations

import argparse

from bot.trades.solver import add_solve_command


def add_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = subparsers.add_parser("trades", help="multi-way trade matching")
    commands = group.add_subparsers(dest="trades_command", required=True)
    add_solve_command(commands)
