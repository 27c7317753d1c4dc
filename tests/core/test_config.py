"""bot.toml validation: defaults, clear errors naming the key, and frontends decided by secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.slices import load_config, load_models
from core.errors import ConfigError
from tests.paths import REPO


def test_shipped_bot_toml_is_valid() -> None:
    load_models()  # the slices own [economy], [monitors], [alerts]...
    config = load_config(REPO / "bot.toml")
    assert config.bot.name == "SNPD"
    assert config.bot.resolved_database_url().startswith("sqlite+aiosqlite:///")


def test_every_shipped_key_is_documented() -> None:
    lines = (REPO / "bot.toml").read_text().splitlines()
    for index, line in enumerate(lines):
        if "=" in line and not line.lstrip().startswith("#") and not line.startswith("["):
            previous = lines[index - 1].strip()
            assert previous.startswith("#") or "=" in previous, f"undocumented key: {line}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[bot]\nlog_level = 'LOUD'\n", "[bot] log_level"),
        ("[sms]\nwebhook_port = 'abc'\n", "[sms] webhook_port"),
        ("[bot]\nnmae = 'x'\n", "[bot] nmae: unknown key"),
        ("[bots]\nname = 'x'\n", "unknown section [bots]"),
        ("[bot]\ndefault_timezone = 'Mars/Base'\n", "unknown IANA timezone"),
        ("[permissions]\nadmins = ['12345']\n", "discord:1234"),
        ("[bot\nname=1", "not valid TOML"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bot.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert expected in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml")


def test_frontends_follow_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DISCORD_TOKEN", "TELEGRAM_TOKEN", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    enabled = load_config(None).frontends_enabled()
    assert enabled["shell"].startswith("on")
    monkeypatch.setenv("TELEGRAM_TOKEN", "123:abc")
    enabled = load_config(None).frontends_enabled()
    assert enabled["telegram"] == "on"
    assert enabled["shell"].startswith("off")
    assert "123:abc" not in repr(load_config(None).secrets)
