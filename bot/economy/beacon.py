"""A drand randomness beacon over its HTTP API: public randomness nobody knows before it is published.

drand (the League of Entropy's network, mirrored by api.drand.sh and drand.cloudflare.com) publishes
one value per round; round ``r`` comes out at ``genesis_time + (r - 1) * period``. A raffle fixes, when
it opens, the first round due a margin after its end time, and mixes that round's ``randomness`` into
the draw: whoever holds the seed still cannot compute, before the close, which entrant list wins.
Each round's ``randomness`` is ``sha256(signature)``, checked here; the BLS signature itself can be
checked against the chain's public key with drand's own tools.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

#: the HTTP statuses drand answers for a round not published yet
_NOT_YET = {404, 425}


class BeaconError(Exception):
    """The beacon did not answer, or answered something that is not a drand round."""


@dataclass(frozen=True)
class ChainInfo:
    genesis: int
    period: int

    def time_of(self, round_: int) -> datetime:
        return datetime.fromtimestamp(self.genesis + (round_ - 1) * self.period, UTC)

    def first_round_after(self, when: datetime) -> int:
        """The first round published strictly after ``when``."""
        elapsed = when.timestamp() - self.genesis
        return max(1, math.floor(elapsed / self.period) + 2)


class Beacon:
    def __init__(self, url: str, *, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    def round_url(self, round_: int) -> str:
        return f"{self.url}/public/{round_}"

    async def info(self) -> ChainInfo:
        status, body = await self._get(f"{self.url}/info")
        if status != 200:
            raise BeaconError(f"{self.url}/info answered HTTP {status}")
        genesis, period = body.get("genesis_time"), body.get("period")
        if not isinstance(genesis, int) or not isinstance(period, int) or period <= 0:
            raise BeaconError(f"{self.url}/info is not a drand chain's info")
        return ChainInfo(genesis, period)

    async def randomness(self, round_: int) -> str | None:
        """The round's randomness (64 hex digits), or None while the round is still to come."""
        status, body = await self._get(self.round_url(round_))
        if status in _NOT_YET:
            return None
        if status != 200:
            raise BeaconError(f"{self.round_url(round_)} answered HTTP {status}")
        randomness, signature = body.get("randomness"), body.get("signature")
        if body.get("round") != round_ or not isinstance(randomness, str) or not isinstance(signature, str):
            raise BeaconError(f"{self.round_url(round_)} is not drand round {round_}")
        try:
            expected = hashlib.sha256(bytes.fromhex(signature)).hexdigest()
        except ValueError:
            raise BeaconError(f"round {round_}'s signature is not hex") from None
        if randomness.lower() != expected:
            raise BeaconError(f"round {round_}'s randomness is not sha256 of its signature")
        return expected

    async def _get(self, url: str) -> tuple[int, dict[str, Any]]:
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout) as session,
                session.get(url, headers={"Accept": "application/json"}) as response,
            ):
                if response.status != 200:
                    return response.status, {}
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise BeaconError(f"{url} did not answer ({type(exc).__name__})") from None
        if not isinstance(body, dict):
            raise BeaconError(f"{url} did not answer with a JSON object")
        return 200, body


#: how long after the end time the beacon round must come out: time for the bot to close the raffle
#: and publish the entrant digest before anyone can know the round's value
CLOSE_MARGIN = timedelta(seconds=60)
