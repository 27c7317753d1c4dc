"""The ``[monitors]`` section of bot.toml. Every key has a default; bot.toml documents each one."""

from __future__ import annotations

from pydantic import Field

from core.config import Section


class MonitorsSection(Section):
    default_interval_seconds: int = Field(default=30, ge=1, le=86400)
    min_interval_seconds: float = Field(default=15.0, ge=1.0, le=3600.0)
    host_min_interval: dict[str, float] = Field(default_factory=lambda: {"127.0.0.1": 1.0, "localhost": 1.0})
    jitter_fraction: float = Field(default=0.1, ge=0.0, le=0.5)
    backoff_base_seconds: float = Field(default=5.0, ge=0.1, le=600.0)
    backoff_max_seconds: float = Field(default=900.0, ge=0.1, le=86400.0)
    flap_window_seconds: float = Field(default=120.0, ge=0.0, le=86400.0)
    request_timeout_seconds: float = Field(default=15.0, ge=1.0, le=120.0)
    max_pages: int = Field(default=40, ge=1, le=400)
    default_feed: str = "restocks"
    max_cart_buttons: int = Field(default=25, ge=0, le=25)
    chromium_path: str = "/usr/bin/chromium"
    #: run chromium as this unprivileged user (with its sandbox on) when the bot itself runs as root
    chromium_user: str = ""
    #: monitors may reach loopback and private networks: only for the local demo and tests
    allow_private_addresses: bool = False
    page_timeout_seconds: float = Field(default=20.0, ge=1.0, le=120.0)
    report_cooldown_seconds: int = Field(default=120, ge=0, le=86400)
    events_retention_days: int = Field(default=30, ge=1, le=3650)
    ebay_api_base: str = ""
    ebay_marketplace: str = "EBAY_US"

    def host_minimum(self, host: str) -> float:
        """The shortest poll interval allowed for ``host`` (``host:port`` falls back to ``host``)."""
        bare = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        for key in (host, bare):
            if key in self.host_min_interval:
                return self.host_min_interval[key]
        return self.min_interval_seconds


