"""`snpd demo` keeps the promises its banner makes (issue 11, item 10): the restock and the member's
own alert arrive within the time it names, it says the drop repeats, and the log file it names exists.

The demo runs as a subprocess fed through a pipe, as `make demo` runs it, without a terminal."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.paths import REPO


class Transcript:
    """Lines a process prints, each with the time it arrived."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[tuple[float, str]] = []
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def first(self, pattern: str, timeout: float) -> tuple[float, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, line in list(self.lines):
                if re.search(pattern, line):
                    return at, line
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern!r} in:\n" + "\n".join(line for _, line in self.lines))

    @property
    def text(self) -> str:
        return "\n".join(line for _, line in self.lines)


def test_demo_banner_is_true(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "TELEGRAM_", "TWILIO_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "snpd", "demo"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(REPO)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        transcript = Transcript(process)
        banner_at, _ = transcript.first(r"/quit", timeout=60)
        banner = transcript.text
        promised = re.search(r"restock[^\n]*?within about (\d+) s", banner, re.IGNORECASE)
        assert promised, banner
        seconds = int(promised.group(1))
        assert re.search(r"repeats every \d+ s", banner), banner
        logs = re.findall(r"Logs?: (\S+)", banner)
        assert logs, banner
        for named in logs:
            assert (tmp_path / named).exists() or Path(named).exists(), f"{named} named but missing"

        restock_at, _ = transcript.first(r"\[feed:restocks\] == 🟢 Restock", timeout=seconds + 30)
        dm_at, dm = transcript.first(r"\[DM\].*Restock", timeout=seconds + 30)
        assert restock_at - banner_at <= seconds, f"restock after {restock_at - banner_at:.1f} s, promised {seconds}"
        assert dm_at - banner_at <= seconds, f"DM after {dm_at - banner_at:.1f} s, promised {seconds}"
        assert "Jordan 4" in dm
    finally:
        if process.stdin is not None and process.poll() is None:
            process.stdin.write("/quit\n")
            process.stdin.flush()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0
