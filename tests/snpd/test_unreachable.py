"""A service that can't be reached gets one line naming it, never a page of traceback; a chat
platform that is down at start-up is retried while the bot keeps running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.fakes.harness import free_port
from tests.paths import REPO


def _env(**extra: str) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO), **extra}
    return env


def test_a_database_that_refuses_connections_is_one_line(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "bot.toml").write_text(
        f'[bot]\ndata_dir = "{tmp_path}"\ndatabase_url = "postgresql+asyncpg://postgres@127.0.0.1:{port}/test"\n'
    )
    for command in (["db", "upgrade"], ["run"]):
        done = subprocess.run(
            [sys.executable, "-m", "snpd", "--config", str(tmp_path / "bot.toml"), *command],
            capture_output=True, text=True, timeout=60, env=_env(), cwd=tmp_path, stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 1, done.stderr
        lines = done.stderr.strip().splitlines()
        assert lines == [lines[0]] and lines[0].startswith(f"can't reach the database at 127.0.0.1:{port}: ")
        assert "Traceback" not in done.stderr


def test_telegram_down_at_start_is_retried_while_the_bot_runs(tmp_path: Path) -> None:
    port = free_port()  # nothing listens: the Bot API is "down"
    (tmp_path / "bot.toml").write_text(
        f'[bot]\ndata_dir = "{tmp_path}"\n[telegram]\napi_base = "http://127.0.0.1:{port}/bot"\n'
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "snpd", "--config", str(tmp_path / "bot.toml"), "run"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, stdin=subprocess.DEVNULL,
        env=_env(TELEGRAM_TOKEN="123:abc"),
    )
    try:
        deadline = time.monotonic() + 30
        seen = ""
        assert process.stderr is not None
        while time.monotonic() < deadline and "retrying in" not in seen:
            seen += process.stderr.readline()
        assert "telegram: can't connect (" in seen and "retrying in 5 s" in seen, seen
        assert process.poll() is None  # still running: the rest of the bot keeps working
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Traceback" not in seen + err
