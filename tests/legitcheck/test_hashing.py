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

KEY_BITS, CHECK_BITS = 10, 12


def _best(stored: list[tuple[int, int]], queries: list[tuple[int, int]]) -> int:
    """The closest key distance among windows and orientations whose check hashes agree too."""
    return min(
        (distance(s[0], q[0]) for s in stored for q in queries if distance(s[1], q[1]) <= CHECK_BITS), default=64
    )


def test_a_stolen_copy_is_close_and_another_photo_is_not() -> None:
    stored = stored_hashes(sample("astronaut"))
    copy = query_hashes(Image.open(io.BytesIO(stolen("astronaut"))))
    other = query_hashes(sample("coffee"))
    assert _best(stored, copy) <= KEY_BITS
    assert _best(stored, other) > KEY_BITS


def test_every_orientation_matches_exactly() -> None:
    stored = stored_hashes(sample("chelsea"))
    for turn in Image.Transpose:
        assert _best(stored, query_hashes(sample("chelsea").transpose(turn))) <= 2


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_signed_storage_round_trips(value: int) -> None:
    assert -(2**63) <= to_signed(value) < 2**63
    assert to_unsigned(to_signed(value)) == value


@settings(max_examples=25, deadline=None)
@given(
    st.integers(min_value=0, max_value=2**32),
    st.integers(min_value=0, max_value=16),
    st.integers(min_value=0, max_value=64),
)
def test_index_finds_what_brute_force_finds(seed: int, key_bits: int, check_bits: int) -> None:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**63, (400, 2), dtype=np.uint64) * np.uint64(2)
    # near neighbours of a few entries, so there is something to find at every radius
    near = [
        (int(base[i][0]) ^ (1 << int(b)) ^ (1 << int(c)), int(base[i][1]) ^ (1 << int(c)))
        for i, b, c in rng.integers(0, 64, (40, 3))
    ]
    entries = [*((int(k), int(c)) for k, c in base), *near]
    index = HashIndex()
    index.add_arrays(
        np.arange(300, dtype=np.int64),
        np.array([k for k, _ in entries[:300]], dtype=np.uint64),
        np.array([c for _, c in entries[:300]], dtype=np.uint64),
    )
    index.add((owner, k, c) for owner, (k, c) in enumerate(entries[300:], start=300))
    picks = rng.integers(0, len(entries), 8).tolist()
    queries = [(entries[i][0] ^ (1 << (i % 64)), entries[i][1]) for i in picks]
    expected: dict[int, int] = {}
    for owner, (key, check) in enumerate(entries):
        bits = [distance(key, qk) for qk, qc in queries if distance(check, qc) <= check_bits]
        if bits and min(bits) <= key_bits:
            expected[owner] = min(bits)
    assert index.search(queries, key_bits, check_bits) == expected
