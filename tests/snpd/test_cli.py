"""The ``snpd`` command line, run as a real process: shell, manifest, config check, db upgrade, run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from bot.slices import migration_locations
from core.storage.migrate import alembic_config
from tests.paths import REPO


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DISCORD_TOKEN", "TELEGRAM_TOKEN", "TWILIO_ACCOUNT_SID"}}
    env["PYTHONPATH"] = str(REPO)
    return env


def _snpd(tmp_path: Path, *args: str, stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "snpd", *args],
        cwd=tmp_path,
        env=_env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_shell_answers_help_and_profile_on_a_fresh_directory(tmp_path: Path) -> None:
    done = _snpd(tmp_path, "shell", stdin="/help\n/profile\n/bogus\n")
    assert done.returncode == 0, done.stderr
    assert "== SNPD commands ==" in done.stdout
    assert "/profile — Your account" in done.stdout
    assert "Member: #1" in done.stdout
    assert "Unknown command /bogus" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert (tmp_path / "data" / "snpd.db").exists()


def test_commands_manifest_lists_foundation_commands_on_all_frontends(tmp_path: Path) -> None:
    done = _snpd(tmp_path, "commands", "--json")
    assert done.returncode == 0, done.stderr
    manifest = {entry["name"]: entry for entry in json.loads(done.stdout)["commands"]}
    for name in ("help", "ping", "link", "profile", "settings", "feed bind"):
        assert manifest[name]["frontends"] == ["discord", "telegram", "sms", "shell"], name
    assert manifest["feed bind"]["permission"] == "admin"
    assert [p["name"] for p in manifest["settings"]["parameters"]] == ["timezone", "dm", "sms", "channels"]


def test_config_check_reports_frontends_and_rejects_bad_files(tmp_path: Path) -> None:
    good = _snpd(tmp_path, "--config", str(REPO / "bot.toml"), "config", "check")
    assert good.returncode == 0 and "shell     on: no tokens set" in good.stdout
    (tmp_path / "bad.toml").write_text("[sms]\nwebhook_port = 99999\n")
    bad = _snpd(tmp_path, "--config", "bad.toml", "config", "check")
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "config error: bad.toml: [sms] webhook_port: Input should be less than or equal to 65535, got 99999"
    )


def test_db_upgrade_is_idempotent(tmp_path: Path) -> None:
    first = _snpd(tmp_path, "db", "upgrade")
    second = _snpd(tmp_path, "db", "upgrade")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    heads = ScriptDirectory.from_config(alembic_config(migration_locations())).get_heads()
    assert first.stdout.strip() == f"database at: {', '.join(sorted(heads))}"
    assert first.stdout == second.stdout


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_run_without_tokens_starts_the_shell_and_stops_cleanly_on_signal(tmp_path: Path, sig: int) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "snpd", "run"],
        cwd=tmp_path,
        env=_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    banner = process.stdout.readline()
    assert "SNPD shell" in banner
    time.sleep(0.3)
    process.send_signal(sig)
    try:
        code = process.wait(timeout=15)
    finally:
        process.kill()
    stderr = process.stderr.read() if process.stderr else ""
    assert code == 0, stderr
    assert "Traceback" not in stderr


async def test_run_starts_the_telegram_frontend_from_its_token_and_stops_on_sigterm(tmp_path: Path) -> None:
    """``snpd run`` as a real process, talking to the fake Bot API: it answers, then shuts down cleanly."""
    import asyncio

    from tests.fakes.telegram_api import FakeTelegramAPI, FakeUser

    user = FakeUser(id=4242, first_name="Newcomer", username="newcomer")
    async with FakeTelegramAPI() as fake:
        (tmp_path / "bot.toml").write_text(
            f'[telegram]\napi_base = "http://127.0.0.1:{fake.port}"\npoll_timeout = 1\n'
        )
        env = _env() | {"TELEGRAM_TOKEN": fake.token}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "snpd", "run", cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            fake.command(user, "/ping")
            answer = await fake.wait_for_message(user.id, timeout=30)
            assert answer.text.startswith("🏓 Pong")
            process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), timeout=20)
        finally:
            if process.returncode is None:
                process.kill()
        stderr = (await process.stderr.read()).decode() if process.stderr else ""
        assert code == 0, stderr
        assert "Traceback" not in stderr
        assert fake.token not in stderr, "the token leaked into the log"
