"""Perceptual hashes survive a thief's edits, and the multi-index finds what brute force finds."""

from __future__ import annotations

import io

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from bot.legitcheck.hashindex import HashIndex
from bot.legitcheck.phash import distance, query_hashes, stored_hashes, to_signed, to_unsigned
from tests.legitcheck.photos import sample, stolen

MATCH_BITS = 10


def _best(stored: list[int], queries: list[int]) -> int:
    return min(distance(s, q) for s in stored for q in queries)


def test_a_stolen_copy_is_close_and_another_photo_is_not() -> None:
    stored = stored_hashes(sample("astronaut"))
    copy = query_hashes(Image.open(io.BytesIO(stolen("astronaut"))))
    other = query_hashes(sample("coffee"))
    assert _best(stored, copy) <= MATCH_BITS
    assert _best(stored, other) > MATCH_BITS


def test_every_orientation_matches_exactly() -> None:
    stored = stored_hashes(sample("chelsea"))
    for turn in Image.Transpose:
        assert _best(stored, query_hashes(sample("chelsea").transpose(turn))) <= 2


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_signed_storage_round_trips(value: int) -> None:
    assert -(2**63) <= to_signed(value) < 2**63
    assert to_unsigned(to_signed(value)) == value


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=0, max_value=16))
def test_index_finds_what_brute_force_finds(seed: int, max_bits: int) -> None:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**63, 400, dtype=np.uint64) * np.uint64(2)
    # near neighbours of a few hashes, so there is something to find at every radius
    near = [int(base[i]) ^ (1 << int(b)) ^ (1 << int(c)) for i, b, c in rng.integers(0, 64, (40, 3))]
    values = [*base.tolist(), *near]
    index = HashIndex()
    index.add_arrays(np.arange(300, dtype=np.int64), np.array(values[:300], dtype=np.uint64))
    index.add(enumerate(values[300:], start=300))
    queries = [int(v) ^ (1 << int(b)) for v, b in zip(rng.choice(values, 8), rng.integers(0, 64, 8), strict=True)]
    expected: dict[int, int] = {}
    for owner, value in enumerate(values):
        bits = min(distance(value, q) for q in queries)
        if bits <= max_bits:
            expected[owner] = bits
    assert index.search(queries, max_bits) == expected
