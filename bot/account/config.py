"""The ``[account]`` section of bot.toml."""

from __future__ import annotations

from pydantic import Field

from core.config import Section


class AccountSection(Section):
    #: seconds a phone verification code from /sms verify stays valid
    sms_code_ttl_s: int = Field(default=600, ge=60, le=86_400)
