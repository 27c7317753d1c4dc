"""The ``[account]`` section of bot.toml."""

from __future__ import annotations

from pydantic import Field

from core.config import Section


class AccountSection(Section):
    #: seconds a phone verification code from /sms verify stays valid
    sms_code_ttl_s: int = Field(default=600, ge=60, le=86_400)
    #: codes /sms verify texts per member, and to one number whoever asks, per sms_limit_window_s
    sms_codes_per_member: int = Field(default=3, ge=1, le=100)
    sms_codes_per_number: int = Field(default=5, ge=1, le=100)
    #: wrong /sms confirm codes a member may send per sms_limit_window_s, however many codes they ask for
    sms_code_attempts: int = Field(default=5, ge=1, le=20)
    sms_limit_window_s: int = Field(default=3600, ge=60, le=7 * 86_400)
    #: wrong /link codes one member, and everyone together, may send before /link locks for
    #: link_lockout_s (counted over the same span)
    link_failures_per_member: int = Field(default=5, ge=1, le=100)
    link_failures_global: int = Field(default=50, ge=1, le=10_000)
    link_lockout_s: int = Field(default=900, ge=60, le=86_400)
    #: seconds a redeemed /link code waits for its owner's Confirm
    link_request_ttl_s: int = Field(default=3600, ge=60, le=7 * 86_400)
