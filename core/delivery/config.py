"""The ``[delivery]`` section of bot.toml: retries, leases and the limiter's scale."""

from __future__ import annotations

from pydantic import Field

from core.config import Section
from core.delivery.limits import PlatformLimits
from core.delivery.worker import WorkerSettings


class DeliverySection(Section):
    max_attempts: int = Field(default=6, ge=1, le=50)
    backoff_base_s: float = Field(default=2.0, gt=0, le=3600)
    backoff_max_s: float = Field(default=600.0, gt=0, le=86400)
    lease_s: float = Field(default=30.0, ge=1, le=3600)
    resend_in_doubt: bool = True
    send_concurrency: int = Field(default=8, ge=1, le=256)
    send_timeout_s: float = Field(default=30.0, gt=0, le=600)
    #: how long the worker gathers state changes into one commit (see ``WorkerSettings``)
    mark_linger_s: float = Field(default=0.01, ge=0, le=1)
    headroom: float = Field(default=0.95, gt=0, le=1)
    discord_requests_per_dm: int = Field(default=2, ge=1, le=5)
    sms_per_number_per_s: float = Field(default=1.0, gt=0, le=1000)
    rate_scale: float = Field(default=1.0, gt=0, le=1000)

    def limits(self) -> PlatformLimits:
        return PlatformLimits(
            headroom=self.headroom,
            discord_requests_per_dm=self.discord_requests_per_dm,
            sms_per_number_per_s=self.sms_per_number_per_s,
            scale=self.rate_scale,
        )

    def worker_settings(self, *, sms_sender: str = "", sms_validity_s: int = 900) -> WorkerSettings:
        """``sms_validity_s`` is ``[sms] validity_period_seconds``: one setting for Twilio and for us."""
        return WorkerSettings(
            max_attempts=self.max_attempts,
            backoff_base_s=self.backoff_base_s,
            backoff_max_s=self.backoff_max_s,
            lease_s=self.lease_s,
            resend_in_doubt=self.resend_in_doubt,
            send_concurrency=self.send_concurrency,
            send_timeout_s=self.send_timeout_s,
            mark_linger_s=self.mark_linger_s,
            sms_sender=sms_sender,
            validity_s={"sms": float(sms_validity_s)},
        )

