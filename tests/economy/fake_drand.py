"""A local fake of a drand chain's HTTP API on 127.0.0.1: ``/info`` and ``/public/{round}``.

Shaped as drand answers (quicknet: no ``previous_signature``): a round's ``randomness`` is sha256 of its
``signature``, and a round not yet published answers 425 Too Early. The test decides which rounds are
out (``publish_through``) instead of a clock, and may take the beacon down.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from aiohttp import web

GENESIS = 1_692_803_367
PERIOD = 3


def signature(round_: int) -> str:
    """A stand-in for the round's 96-byte BLS signature: fixed per round, unknowable in advance to the bot."""
    return b"".join(hashlib.sha256(f"round {round_} part {n}".encode()).digest() for n in range(3)).hex()


def randomness(round_: int) -> str:
    return hashlib.sha256(bytes.fromhex(signature(round_))).hexdigest()


def round_time(round_: int) -> datetime:
    return datetime.fromtimestamp(GENESIS + (round_ - 1) * PERIOD, UTC)


class FakeDrand:
    def __init__(self) -> None:
        self.latest = 0
        self.down = False
        self.url = ""
        self._runner: web.AppRunner | None = None

    def publish_through(self, round_: int) -> None:
        self.latest = round_

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/info", self._info)
        app.router.add_get("/public/{round}", self._round)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _info(self, _request: web.Request) -> web.Response:
        if self.down:
            return web.json_response({"error": "unavailable"}, status=503)
        return web.json_response(
            {
                "public_key": "ab" * 96,  # a stand-in: the bot never checks BLS signatures itself
                "period": PERIOD,
                "genesis_time": GENESIS,
                "hash": "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971",
                "groupHash": "cd" * 32,
                "schemeID": "bls-unchained-g1-rfc9380",
                "metadata": {"beaconID": "quicknet"},
            }
        )

    async def _round(self, request: web.Request) -> web.Response:
        if self.down:
            return web.json_response({"error": "unavailable"}, status=503)
        try:
            round_ = int(request.match_info["round"])
        except ValueError:
            return web.json_response({"error": "bad round"}, status=400)
        if round_ > self.latest:
            return web.json_response({"error": "Too Early"}, status=425)
        return web.json_response({"round": round_, "randomness": randomness(round_), "signature": signature(round_)})
