"""``snpd bench legitcheck``: stolen-photo detection on real photos, lookup among a million hashes, and
weighted verdicts in a simulated community with careless voters and a colluding group.

Photos: scikit-image's bundled sample photographs (``skimage.data``, no downloads): astronaut, coffee,
chelsea, rocket, camera, immunohistochemistry, coins, clock, page, text, moon, cell, hubble_deep_field,
gravel, brick and grass (not retina: its dark corner tiles are mirror images of one another, true
duplicates); each whole and cut into a 3 × 3 grid of tiles (2 × 2 when small), leaving out
near-blank tiles (grey-level standard deviation under 20: sky, an empty page), so there are enough
distinct photos. Every distinct photo is stored as the bot stores one (16 windows, each an average
hash and a DCT hash, ``bot.legitcheck.phash``) in the bot's index (``bot.legitcheck.hashindex``)
together with random hash pairs up to ``stored_hashes`` (1,000,000).

- ``reuse_recall``: share of transformed copies found (their original among the matches): resized to
  50% and 30%, JPEG at quality 40, two random crops of up to 10% (split at random between the sides),
  a one-sided 10% crop, rotated 90°, 180° and 270°, mirrored, and all at once (crop, quarter turn,
  mirror, shrink, JPEG 60). ``recall_by_transform`` splits it.
- ``false_flag_rate``: share of distinct photos that match some other stored photo (or a random hash).
- ``lookup_p99_ms``: one lookup (the 8 orientation hashes of a photo) against the whole index, wall
  clock (``lookup_cpu_p99_ms``: the CPU time of the random-query lookups, which another process on a
  busy machine does not inflate); hashing the photo is ``hash_p50_ms``, apart.
- Community: 200 voters (5 authenticators right 95% of the time, 25 careless ones at 55%, 5 colluders,
  the rest between 60% and 90%; 10% of votes Unsure) over 1,000 checks, half fake, 10% of them gold;
  9 voters come to each check in turn and it closes as the bot closes it (quorum and majority, else at
  the deadline), reputations updating as in the service. On 5% of the checks (a fake pair one of
  the colluders submits) the other four come first, on top of the 9, and all vote Real; elsewhere
  they vote honestly (80%), so their weight is earned. ``verdict_accuracy`` (right verdicts among
  decided ones) is compared with ``majority_accuracy``, the one-member-one-vote majority of all the
  votes the check got; ``collusion_changed`` is the share of verdicts that differ from the same run
  with the colluders voting honestly (``collusion_changed_on_brigaded``: of those, the checks they
  brigaded; the rest moved because reputations, and so later verdicts, differ between the runs).
  The weights carry the friends discount of ``bot.legitcheck.tally.affinity``.
"""

from __future__ import annotations

import io
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps

from bot.legitcheck.config import LegitCheckSection
from bot.legitcheck.hashindex import HashIndex
from bot.legitcheck.phash import query_hashes, stored_hashes
from bot.legitcheck.tally import (
    FAKE,
    INCONCLUSIVE,
    REAL,
    UNSURE,
    Ballot,
    Record,
    affinity,
    simple_majority,
    tally,
    weight,
)

SAMPLES = (
    "astronaut", "coffee", "chelsea", "rocket", "camera", "immunohistochemistry", "coins", "clock", "page",
    "text", "moon", "cell", "hubble_deep_field", "gravel", "brick", "grass",
)  # fmt: skip
STORED = 1_000_000
MIN_STD = 20.0
TIMED_LOOKUPS = 400


def _photos() -> list[Image.Image]:
    import skimage.data

    photos: list[Image.Image] = []
    for name in SAMPLES:
        image = Image.fromarray(np.asarray(getattr(skimage.data, name)())).convert("RGB")
        photos.append(image)
        grid = 3 if min(image.size) >= 300 else 2
        width, height = image.size
        for i in range(grid):
            for j in range(grid):
                box = (i * width // grid, j * height // grid, (i + 1) * width // grid, (j + 1) * height // grid)
                tile = image.crop(box)
                if float(np.asarray(tile.convert("L"), dtype=float).std()) >= MIN_STD:
                    photos.append(tile)
    return photos


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    out.seek(0)
    return Image.open(out).convert("RGB")


def _crop(rng: random.Random, image: Image.Image, share: float = 0.10) -> Image.Image:
    width, height = image.size
    cut_x, cut_y = rng.uniform(0, share), rng.uniform(0, share)
    left, top = rng.uniform(0, cut_x), rng.uniform(0, cut_y)
    box = (
        int(left * width),
        int(top * height),
        width - int((cut_x - left) * width),
        height - int((cut_y - top) * height),
    )
    return image.crop(box)


def _transforms(rng: random.Random) -> dict[str, Callable[[Image.Image], Image.Image]]:
    def shrink(share: float) -> Callable[[Image.Image], Image.Image]:
        return lambda im: im.resize(
            (max(16, int(im.width * share)), max(16, int(im.height * share))), Image.Resampling.BILINEAR
        )

    def everything(im: Image.Image) -> Image.Image:
        turned = ImageOps.mirror(_crop(rng, im).transpose(Image.Transpose.ROTATE_270))
        return _jpeg(shrink(0.66)(turned), 60)

    return {
        "resize_50": shrink(0.5),
        "resize_30": shrink(0.3),
        "jpeg_40": lambda im: _jpeg(im, 40),
        "crop_10_a": lambda im: _crop(rng, im),
        "crop_10_b": lambda im: _crop(rng, im),
        "crop_10_one_side": lambda im: im.crop((int(im.width * 0.1), 0, im.width, im.height)),
        "rotate_90": lambda im: im.transpose(Image.Transpose.ROTATE_90),
        "rotate_180": lambda im: im.transpose(Image.Transpose.ROTATE_180),
        "rotate_270": lambda im: im.transpose(Image.Transpose.ROTATE_270),
        "mirror": ImageOps.mirror,
        "all_at_once": everything,
    }


def _random(generator: np.random.Generator, count: int) -> npt.NDArray[np.uint64]:
    high = generator.integers(0, 2**32, count, dtype=np.uint64) << np.uint64(32)
    return high | generator.integers(0, 2**32, count, dtype=np.uint64)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _detection(settings: LegitCheckSection) -> dict[str, Any]:
    rng = random.Random(14)
    photos = _photos()
    hashing_ms: list[float] = []
    index = HashIndex()
    owners: list[int] = []
    pairs: list[tuple[int, int]] = []
    for owner, photo in enumerate(photos):
        started = time.perf_counter()
        hashes = stored_hashes(photo)
        hashing_ms.append((time.perf_counter() - started) * 1000)
        owners.extend([owner] * len(hashes))
        pairs.extend(hashes)
    background = STORED - len(pairs)
    generator = np.random.default_rng(14)
    index.add_arrays(
        np.concatenate([np.array(owners, dtype=np.int64), -1 - np.arange(background, dtype=np.int64)]),
        np.concatenate([np.array([k for k, _ in pairs], dtype=np.uint64), _random(generator, background)]),
        np.concatenate([np.array([c for _, c in pairs], dtype=np.uint64), _random(generator, background)]),
    )
    caught: dict[str, list[bool]] = {}
    lookup_ms: list[float] = []
    lookup_cpu_ms: list[float] = []
    for name, transform in _transforms(rng).items():
        hits = caught.setdefault(name, [])
        for owner, photo in enumerate(photos):
            queries = query_hashes(transform(photo))
            started = time.perf_counter()
            found = index.search(queries, settings.match_bits, settings.check_bits)
            lookup_ms.append((time.perf_counter() - started) * 1000)
            hits.append(owner in found)
    flagged = 0
    for owner, photo in enumerate(photos):
        found = index.search(query_hashes(photo), settings.match_bits, settings.check_bits)
        flagged += any(other != owner for other in found)
    for _ in range(TIMED_LOOKUPS):
        queries = list(zip(_random(generator, 8).tolist(), _random(generator, 8).tolist(), strict=True))
        started, cpu = time.perf_counter(), time.thread_time()
        index.search(queries, settings.match_bits, settings.check_bits)
        lookup_ms.append((time.perf_counter() - started) * 1000)
        lookup_cpu_ms.append((time.thread_time() - cpu) * 1000)
    every = [hit for hits in caught.values() for hit in hits]
    return {
        "photos": len(photos),
        "samples": list(SAMPLES),
        "stored_hashes": len(index),
        "match_bits": settings.match_bits,
        "check_bits": settings.check_bits,
        "reuse_recall": round(sum(every) / len(every), 4),
        "recall_by_transform": {name: round(sum(hits) / len(hits), 4) for name, hits in caught.items()},
        "false_flag_rate": round(flagged / len(photos), 4),
        "lookup_p50_ms": round(statistics.median(lookup_ms), 3),
        "lookup_p99_ms": round(_percentile(lookup_ms, 0.99), 3),
        "lookup_cpu_p99_ms": round(_percentile(lookup_cpu_ms, 0.99), 3),
        "hash_p50_ms": round(statistics.median(hashing_ms), 3),
    }


def _community(settings: LegitCheckSection, *, collude: bool, seed: int = 14) -> list[tuple[str, str, str, bool]]:
    """(truth, weighted verdict, simple-majority verdict, brigaded) per check."""
    rng = random.Random(seed)
    accuracy = [0.95] * 5 + [0.55] * 25 + [0.8] * 5 + [rng.uniform(0.6, 0.9) for _ in range(165)]
    authenticators, colluders = set(range(5)), set(range(30, 35))
    records = [Record() for _ in accuracy]
    together: dict[tuple[int, int], int] = {}
    results = []
    for _ in range(1000):
        truth = REAL if rng.random() < 0.5 else FAKE
        gold = rng.random() < 0.1
        brigade = rng.random() < 0.05
        if brigade:
            truth = FAKE
        submitter = rng.choice(sorted(colluders)) if brigade else rng.randrange(len(accuracy))
        pool = [v for v in range(len(accuracy)) if v not in colluders and v != submitter]
        arrivals = rng.sample(pool, 9)
        if brigade:
            arrivals = [*(v for v in sorted(colluders) if v != submitter), *arrivals]
        draws = [(rng.random(), rng.random()) for _ in arrivals]
        ballots: list[Ballot] = []
        choices: list[str] = []
        weighted: str | None = None
        for voter, (unsure, right) in zip(arrivals, draws, strict=True):
            if brigade and collude and voter in colluders:
                choice = REAL
            elif unsure < 0.1:
                choice = UNSURE
            else:
                choice = truth if right < accuracy[voter] else (FAKE if truth == REAL else REAL)
            choices.append(choice)
            if weighted is None:
                member_weight = weight(records[voter], settings, authenticator=voter in authenticators)
                member_weight = affinity(member_weight, together.get((voter, submitter), 0), settings)
                together[voter, submitter] = together.get((voter, submitter), 0) + 1
                ballots.append(Ballot(choice, member_weight))
                weighted = tally(ballots, settings, final=False).verdict
        if weighted is None:
            weighted = tally(ballots, settings, final=True).verdict or INCONCLUSIVE
        judged = truth if gold else weighted
        for ballot_index, ballot in enumerate(ballots):
            voter = arrivals[ballot_index]
            if ballot.choice == UNSURE or judged == INCONCLUSIVE:
                continue
            old, right = records[voter], ballot.choice == judged
            if gold:
                records[voter] = Record(old.agreed, old.disagreed, old.gold_right + right, old.gold_wrong + (not right))
            else:
                records[voter] = Record(old.agreed + right, old.disagreed + (not right), old.gold_right, old.gold_wrong)
        results.append((truth, weighted, simple_majority(choices), brigade))
    return results


def _accuracy(pairs: list[tuple[str, str]]) -> tuple[float, float]:
    decided = [(truth, verdict) for truth, verdict in pairs if verdict != INCONCLUSIVE]
    right = sum(truth == verdict for truth, verdict in decided)
    return right / max(1, len(decided)), 1 - len(decided) / len(pairs)


def _simulation(settings: LegitCheckSection) -> dict[str, Any]:
    colluding = _community(settings, collude=True)
    honest = _community(settings, collude=False)
    weighted_accuracy, inconclusive = _accuracy([(t, w) for t, w, _, _ in colluding])
    majority_accuracy, majority_inconclusive = _accuracy([(t, m) for t, _, m, _ in colluding])
    pairs = list(zip(colluding, honest, strict=True))
    changed = sum(a[1] != b[1] for a, b in pairs) / len(pairs)
    changed_brigaded = sum(a[1] != b[1] for a, b in pairs if a[3]) / len(pairs)
    changed_majority = sum(a[2] != b[2] for a, b in pairs) / len(pairs)
    return {
        "checks": len(colluding),
        "voters": 200,
        "verdict_accuracy": round(weighted_accuracy, 4),
        "majority_accuracy": round(majority_accuracy, 4),
        "inconclusive_rate": round(inconclusive, 4),
        "majority_inconclusive_rate": round(majority_inconclusive, 4),
        "brigaded_checks": sum(row[3] for row in colluding),
        "collusion_changed": round(changed, 4),
        "collusion_changed_on_brigaded": round(changed_brigaded, 4),
        "collusion_changed_majority": round(changed_majority, 4),
        "settings": {
            key: getattr(settings, key) for key in ("min_voters", "min_weight", "majority", "min_lead", "gold_factor")
        },
    }


def run() -> dict[str, Any]:
    settings = LegitCheckSection()
    result = {**_detection(settings), **_simulation(settings)}
    result["targets"] = {
        "reuse_recall": 0.95,
        "false_flag_rate": 0.005,
        "lookup_p99_ms": 5.0,
        "verdict_accuracy": "> majority_accuracy",
        "collusion_changed": 0.01,
    }
    return result
