"""The fakes with the platforms' global limits enforced the strictest way: a sliding one-second log,
counted when the server handles each request, answering 429 past it (as each platform answers).

Real platforms count with buckets that forgive a little bunching; a strict window does not, so a bot
that never provokes a 429 here will not provoke one there. The benchmark and the rate-limit tests
share these. Every limit is multiplied by ``scale`` (the bot's limiters take the same factor).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.discord_api import API_PREFIX, FakeDiscord
from tests.fakes.telegram_api import ApiError, FakeTelegramAPI
from tests.fakes.twilio_api import FakeTwilioAPI, error_body

#: Discord's global limit, Telegram's overall broadcast limit, Twilio's per long-code number
DISCORD_PER_S = 50.0
TELEGRAM_PER_S = 30.0
SMS_PER_NUMBER_PER_S = 1.0


class Window:
    """A sliding one-window log: ``limit`` events per ``seconds``, the strictest way to count."""

    def __init__(self, limit: float, seconds: float = 1.0) -> None:
        self.limit = limit
        self.seconds = seconds
        self._times: deque[float] = deque()

    def admit(self, now: float) -> float | None:
        """None if this request is within the limit (and counts it), else seconds until it would be."""
        while self._times and self._times[0] <= now - self.seconds:
            self._times.popleft()
        if len(self._times) + 1 > self.limit:
            return self._times[0] + self.seconds - now
        self._times.append(now)
        return None


class StrictDiscord(FakeDiscord):
    """Every REST request but interaction callbacks counts against the global limit (as on Discord)."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.window = Window(DISCORD_PER_S * scale)
        self.rejected = 0
        #: when each counted request was admitted (``time.monotonic``)
        self.sends: list[float] = []

    async def _api(self, request: web.Request) -> web.StreamResponse:
        counted = request.method == "POST" and request.path.startswith(API_PREFIX + "/")
        if counted and "interactions" not in request.path:
            now = time.monotonic()
            wait = self.window.admit(now)
            if wait is not None:
                self.rejected += 1
                body = {"message": "You are being rate limited.", "retry_after": round(wait, 3), "global": True}
                headers = {"X-RateLimit-Global": "true", "Retry-After": f"{wait:.3f}"}
                return web.json_response(body, status=429, headers=headers)
            self.sends.append(now)
        return await super()._api(request)


class StrictTelegram(FakeTelegramAPI):
    """Messages and photos count against the overall limit."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.window = Window(TELEGRAM_PER_S * scale)
        self.rejected = 0
        self.sends: list[float] = []

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path.endswith(("/sendMessage", "/sendPhoto")):
            now = time.monotonic()
            wait = self.window.admit(now)
            if wait is not None:
                self.rejected += 1
                retry = max(1, round(wait))
                return ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry}).to_response()
            self.sends.append(now)
        return await super()._handle(request)


class StrictTwilio(FakeTwilioAPI):
    """Messages created count against their sending number's limit."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale
        self.windows: dict[str, Window] = {}
        self.rejected = 0
        self.sends: list[float] = []

    async def _create_message(self, request: web.Request) -> web.Response:
        form = await request.post()
        now = time.monotonic()
        window = self.windows.setdefault(str(form.get("From")), Window(SMS_PER_NUMBER_PER_S * self.scale))
        if window.admit(now) is not None:
            self.rejected += 1
            return web.json_response(error_body(20429), status=429)
        self.sends.append(now)
        return await super()._create_message(request)


@dataclass
class StrictFakes:
    """The three strict fakes started together, as a benchmark's server process runs them, with
    ``discord_users`` members in the Discord guild to DM."""

    discord: StrictDiscord
    telegram: StrictTelegram
    twilio: StrictTwilio
    users: list[str]

    @classmethod
    async def start(cls, scale: float, discord_users: int) -> StrictFakes:
        discord, telegram, twilio = StrictDiscord(scale), StrictTelegram(scale), StrictTwilio(scale)
        await discord.start()
        await telegram.start()
        await twilio.start()
        users = [str(discord.add_member(f"d{i}").user.id) for i in range(discord_users)]
        return cls(discord, telegram, twilio, users)

    def connection(self) -> dict[str, Any]:
        """What the bot's process needs to reach them (sent over a pipe, so plain values)."""
        return {
            "discord_token": self.discord.token,
            "discord_api_base": self.discord.api_base,
            "guild_id": self.discord.guild_id,
            "telegram_token": self.telegram.token,
            "telegram_port": self.telegram.port,
            "twilio_base": self.twilio.base_url,
            "users": self.users,
        }

    async def close(self) -> None:
        await self.twilio.close()
        await self.telegram.close()
        await self.discord.stop()
