"""The raffle draw as pure functions, so a member can re-implement it from the README and get the same winners.

The rule since revision 0101 (``DRAW_HMAC``): entries freeze at the end time; at the close the bot
commits ``digest`` = ``sha256("id1,id2,...")`` over the entrants' member ids, de-duplicated and sorted
ascending, then for round ``k`` = 0, 1, ... picks ``pool[r mod len(pool)]`` (removing it) with
``r`` = ``HMAC-SHA256(key=seed_hex, message=f"{raffle_id}:{digest}:{k}")`` read as a big-endian
integer. With a randomness beacon configured (``DRAW_BEACON``, revision 0102) the message also carries
the beacon's value for a round published only after the close: ``f"{raffle_id}:{digest}:{beacon}:{k}"``,
so whoever knows the seed still cannot tell, before the close, which entrant list wins. Raffles drawn
before revision 0101 (``DRAW_SHA256``) used ``r = sha256(f"{seed_hex}:{digest}:{k}")`` and are still
checked by that rule.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

DRAW_SHA256 = 1
DRAW_HMAC = 2
DRAW_BEACON = 3

RULES = {
    DRAW_SHA256: "r = sha256(`seed:digest:k`)",
    DRAW_HMAC: "r = HMAC-SHA256(key = seed, message = `raffle:digest:k`)",
    DRAW_BEACON: "r = HMAC-SHA256(key = seed, message = `raffle:digest:beacon:k`)",
}


def seed_hash(seed_hex: str) -> str:
    return hashlib.sha256(seed_hex.encode("ascii")).hexdigest()


def entrants_digest(entrants: Iterable[int]) -> str:
    return hashlib.sha256(",".join(str(member) for member in sorted(set(entrants))).encode("ascii")).hexdigest()


def _roll(rule: int, raffle_id: int, seed_hex: str, digest: str, beacon: str | None, round_: int) -> int:
    if rule == DRAW_SHA256:
        mac = hashlib.sha256(f"{seed_hex}:{digest}:{round_}".encode("ascii")).digest()
    else:
        mixed = f"{digest}:{beacon}" if rule == DRAW_BEACON else digest
        message = f"{raffle_id}:{mixed}:{round_}".encode("ascii")
        mac = hmac.new(seed_hex.encode("ascii"), message, hashlib.sha256).digest()
    return int.from_bytes(mac, "big")


def draw_winners(
    rule: int, raffle_id: int, seed_hex: str, entrants: Iterable[int], count: int, beacon: str | None = None
) -> list[int]:
    """The winners, in order, of a raffle whose entrants were frozen at the close (``beacon``: the
    beacon round's randomness, hex, for ``DRAW_BEACON``)."""
    if rule == DRAW_BEACON and not beacon:
        raise ValueError("a beacon draw needs the beacon's randomness")
    pool = sorted(set(entrants))
    digest = entrants_digest(pool)
    winners: list[int] = []
    for round_ in range(count):
        if not pool:
            break
        winners.append(pool.pop(_roll(rule, raffle_id, seed_hex, digest, beacon, round_) % len(pool)))
    return winners


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool


def check_draw(
    *,
    rule: int,
    raffle_id: int,
    seed_hex: str,
    commitment: str,
    entrants: Sequence[int],
    digest: str,
    winners: Sequence[int],
    count: int,
    beacon: str | None = None,
) -> list[Check]:
    """Each step a member would check by hand, from the published values alone."""
    return [
        Check("sha256(seed) is the commitment published when the raffle opened", seed_hash(seed_hex) == commitment),
        Check("the entrants digest is sha256 of the sorted entrant ids", entrants_digest(entrants) == digest),
        Check(
            "the winners follow from the seed and the digest",
            draw_winners(rule, raffle_id, seed_hex, entrants, count, beacon) == list(winners),
        ),
    ]
