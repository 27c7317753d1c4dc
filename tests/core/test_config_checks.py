"""``snpd config check`` refuses what would only fail later: unsupported database drivers, feed names
nobody configured, and cross-references between sections; messages name the key in plain words."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import REPO


def check(tmp_path: Path, text: str, *, flag_after: bool = True) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "bot.toml"
    path.write_text(text)
    place = ["config", "check", "--config", str(path)] if flag_after else ["--config", str(path), "config", "check"]
    return subprocess.run(
        [sys.executable, "-m", "snpd", *place], cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[bot]\ndatabase_url = "mysql://x"\n', "[bot] database_url: SNPD runs on SQLite"),
        ('[bot]\ndatabase_url = "postgresql://u@h/db"\n', "use the asyncpg driver: postgresql+asyncpg://"),
        ('[economy]\nraffle_feed = "nosuch"\n', "[economy] raffle_feed: no feed named 'nosuch'"),
        ('[monitors]\ndefault_feed = "nosuch"\n', "[monitors] default_feed: no feed named 'nosuch'"),
        (
            '[[economy.shop]]\nsku = "vip"\nname = "VIP"\nkind = "premium_feed"\nprice = 5\nvalue = "vipfeed"\n',
            "vip value: no feed named 'vipfeed'",
        ),
        ("[delivery]\nsms_validity_s = 60\n", "[delivery] sms_validity_s: moved: set [sms] validity_period_seconds"),
        (
            '[[economy.shop]]\nsku = "BAD SKU"\nname = "x"\nkind = "flair"\nprice = 5\nvalue = "v"\n',
            "sku: use 1 to 24 lowercase letters, digits or dashes",
        ),
    ],
)
def test_config_check_names_the_key_and_the_rule(tmp_path: Path, text: str, expected: str) -> None:
    done = check(tmp_path, text)
    assert done.returncode == 2, done.stdout
    assert expected in done.stderr
    assert "Value error" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("flag_after", [True, False])
def test_config_flag_works_before_or_after_the_sub_command(tmp_path: Path, flag_after: bool) -> None:
    done = check(tmp_path, '[bot]\nname = "Kicks"\n', flag_after=flag_after)
    assert done.returncode == 0, done.stderr
    assert f"config OK: {tmp_path / 'bot.toml'}" in done.stdout
