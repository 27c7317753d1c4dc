"""An in-memory multi-index hash (MIH) over 64-bit perceptual hashes, for near-duplicate lookup among
a million stored hashes in a few milliseconds.

Each hash is split into four 16-bit chunks. Two hashes within ``r`` bits of each other agree to within
``r // 4`` bits on at least one chunk (pigeonhole), so a lookup visits, per chunk, only the buckets
within that many bits of the query's chunk, then checks the full distance of those candidates. The
buckets are a sorted array per chunk (CSR offsets over the 65,536 chunk values), built with numpy;
hashes added since the last build sit in a small list searched directly, and the arrays are rebuilt
when that list grows past a share of the whole.

Each entry may carry a second hash (``check``) that a candidate must also be near, for the same
query: an independent hash of the same picture, so two photos that only look alike to one hash
are not a match.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations

import numpy as np
import numpy.typing as npt

CHUNKS = 4
CHUNK_BITS = 16
_BUCKETS = 1 << CHUNK_BITS
_MASK = _BUCKETS - 1
#: hashes added since the last build that trigger a rebuild (at least; or 2% of the index)
_REBUILD_AT = 4096

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]


def _flips(radius: int) -> npt.NDArray[np.int64]:
    """Every 16-bit mask of at most ``radius`` set bits."""
    masks = [0]
    for count in range(1, radius + 1):
        masks.extend(sum(1 << bit for bit in bits) for bits in combinations(range(CHUNK_BITS), count))
    return np.array(masks, dtype=np.int64)


class HashIndex:
    def __init__(self) -> None:
        self._keys: U64 = np.empty(0, dtype=np.uint64)
        self._checks: U64 = np.empty(0, dtype=np.uint64)
        self._owners: I64 = np.empty(0, dtype=np.int64)
        #: per chunk: keys, checks and owners sorted by that chunk, and where each chunk value starts
        self._sorted: list[tuple[U64, U64, I64, I64]] = []
        self._recent: list[tuple[int, int, int]] = []
        self._flip_cache: dict[int, I64] = {}

    def __len__(self) -> int:
        return len(self._keys) + len(self._recent)

    def add(self, entries: Iterable[tuple[int, int, int]]) -> None:
        """Add ``(owner, key, check)`` entries (unsigned hashes); an owner may have many (a photo's windows)."""
        self._recent.extend(entries)
        if len(self._recent) >= max(_REBUILD_AT, len(self._keys) // 50):
            self._rebuild()

    def add_arrays(self, owners: I64, keys: U64, checks: U64) -> None:
        """A bulk load (start-up, benchmarks): one rebuild for all of them."""
        self._owners = np.concatenate([self._owners, owners.astype(np.int64)])
        self._keys = np.concatenate([self._keys, keys.astype(np.uint64)])
        self._checks = np.concatenate([self._checks, checks.astype(np.uint64)])
        self._rebuild()

    def _rebuild(self) -> None:
        if self._recent:
            owners, keys, checks = zip(*self._recent, strict=True)
            self._recent = []
            self._owners = np.concatenate([self._owners, np.array(owners, dtype=np.int64)])
            self._keys = np.concatenate([self._keys, np.array(keys, dtype=np.uint64)])
            self._checks = np.concatenate([self._checks, np.array(checks, dtype=np.uint64)])
        self._sorted = []
        for chunk in range(CHUNKS):
            values = _chunk(self._keys, chunk)
            order = np.argsort(values, kind="stable")
            starts = np.zeros(_BUCKETS + 1, dtype=np.int64)
            np.cumsum(np.bincount(values, minlength=_BUCKETS), out=starts[1:])
            self._sorted.append((self._keys[order], self._checks[order], self._owners[order], starts))

    def search(self, queries: Sequence[tuple[int, int]], key_bits: int, check_bits: int = 64) -> dict[int, int]:
        """Owners with an entry within ``key_bits`` of a query's key and ``check_bits`` of the same
        query's check, each with its smallest key distance."""
        if not queries or not len(self):
            return {}
        keys = np.array([key for key, _ in queries], dtype=np.uint64)
        checks = np.array([check for _, check in queries], dtype=np.uint64)
        found: dict[int, int] = {}
        if len(self._keys):
            for chunk in range(CHUNKS):
                self._search_chunk(found, chunk, keys, checks, key_bits, check_bits)
        if self._recent:
            owners = np.array([owner for owner, _, _ in self._recent], dtype=np.int64)
            near = np.bitwise_count(np.array([k for _, k, _ in self._recent], dtype=np.uint64)[:, None] ^ keys[None, :])
            agree = np.bitwise_count(
                np.array([c for _, _, c in self._recent], dtype=np.uint64)[:, None] ^ checks[None, :]
            )
            bits = np.where(agree <= check_bits, near, 255).min(axis=1)
            _keep(found, owners, bits, key_bits)
        return found

    def _search_chunk(
        self, found: dict[int, int], chunk: int, keys: U64, checks: U64, key_bits: int, check_bits: int
    ) -> None:
        """Visit the buckets of this chunk within ``key_bits // 4`` bits of each query's chunk."""
        radius = key_bits // CHUNKS
        flips = self._flip_cache.get(radius)
        if flips is None:
            flips = self._flip_cache[radius] = _flips(radius)
        stored_keys, stored_checks, owners, starts = self._sorted[chunk]
        wanted = (_chunk(keys, chunk)[:, None] ^ flips[None, :]).ravel()
        which = np.repeat(np.arange(len(keys)), len(flips))
        first = starts[wanted]
        lengths = starts[wanted + 1] - first
        total = int(lengths.sum())
        if not total:
            return
        rows = np.repeat(first - (np.cumsum(lengths) - lengths), lengths) + np.arange(total)
        asked = np.repeat(which, lengths)
        bits = np.bitwise_count(stored_keys[rows] ^ keys[asked])
        near = np.flatnonzero(bits <= key_bits)
        if not len(near):
            return
        rows, asked, bits = rows[near], asked[near], bits[near]
        agree = np.bitwise_count(stored_checks[rows] ^ checks[asked]) <= check_bits
        _keep(found, owners[rows[agree]], bits[agree], key_bits)


def _chunk(values: U64, chunk: int) -> I64:
    return ((values >> np.uint64(chunk * CHUNK_BITS)) & np.uint64(_MASK)).astype(np.int64)


def _keep(found: dict[int, int], owners: I64, bits: npt.NDArray[np.uint8], max_bits: int) -> None:
    close = bits <= max_bits
    for owner, distance in zip(owners[close].tolist(), bits[close].tolist(), strict=True):
        if owner not in found or distance < found[owner]:
            found[owner] = int(distance)
