"""The CLI answers scripts and people plainly: --json failures are JSON, ``snpd bench`` alone lists the
benchmarks, and a pasted wall of text as a command is not echoed back whole."""

from __future__ import annotations

import os
import subprocess
import sys

import orjson

from core.engine import Engine
from core.identity import Caller
from tests.paths import REPO


def snpd(*args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "snpd", *args], capture_output=True, text=True, timeout=60, cwd=REPO, env=env
    )


def test_monitor_test_json_failures_are_json() -> None:
    done = snpd("monitor", "test", "ftp://example.com", "--json")
    assert done.returncode == 2
    answer = orjson.loads(done.stdout)
    assert answer["ok"] is False and "is not a web address" in answer["error"]


def test_bench_without_a_name_lists_the_benchmarks() -> None:
    done = snpd("bench")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    for name in ("alerts", "ledger", "monitor"):
        assert f"  {name} " in done.stderr


async def test_a_huge_unknown_command_is_not_echoed_back(sqlite_engine: Engine) -> None:
    reply = await sqlite_engine.dispatch_line(Caller("shell", "local", "op"), "/" + "x" * 10_000)
    assert len(reply.text) < 200 and "Unknown command" in reply.text
