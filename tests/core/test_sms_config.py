"""SMS switched on without ``public_url`` would answer every real Twilio webhook with 403 (the
signature covers the URL Twilio called): that is a config error, not a silently dead channel."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.slices import load_config
from core.errors import ConfigError


def test_sms_on_without_public_url_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "secret")
    monkeypatch.setenv("SNPD_ENCRYPTION_KEY", "x8M8nZ0y0mH3m6m2qZ8Q2bC0d7eF1gH2iJ3kL4mN5oQ=")
    path = tmp_path / "bot.toml"
    path.write_text('[sms]\nfrom_number = "+14155550100"\n')
    with pytest.raises(ConfigError, match=r"\[sms\] public_url: required when SMS is on"):
        load_config(path)
    path.write_text('[sms]\nfrom_number = "+14155550100"\npublic_url = "https://bot.example.com/twilio/sms"\n')
    assert load_config(path).frontends_enabled()["sms"] == "on"
