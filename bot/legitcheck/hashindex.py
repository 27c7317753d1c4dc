"""An in-memory multi-index hash (MIH) over 64-bit perceptual hashes, for near-duplicate lookup among
a million stored hashes in a few milliseconds.

Each hash is split into four 16-bit chunks. Two hashes within ``r`` bits of each other agree to within
``r // 4`` bits on at least one chunk (pigeonhole), so a lookup visits, per chunk, only the buckets
within that many bits of the query's chunk, then checks the full distance of those candidates. The
buckets are a sorted array per chunk (CSR offsets over the 65,536 chunk values), built with numpy;
hashes added since the last build sit in a small list searched directly, and the arrays are rebuilt
when that list grows past a share of the whole.
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
        self._hashes: U64 = np.empty(0, dtype=np.uint64)
        self._owners: I64 = np.empty(0, dtype=np.int64)
        #: per chunk: the hashes and owners sorted by that chunk, and the offset where each value starts
        self._sorted: list[tuple[U64, I64, I64]] = []
        self._recent_hashes: list[int] = []
        self._recent_owners: list[int] = []
        self._flip_cache: dict[int, I64] = {}

    def __len__(self) -> int:
        return len(self._hashes) + len(self._recent_hashes)

    def add(self, pairs: Iterable[tuple[int, int]]) -> None:
        """Add ``(owner, unsigned hash)`` pairs; owners need not be unique (a photo has 16 hashes)."""
        for owner, value in pairs:
            self._recent_owners.append(owner)
            self._recent_hashes.append(value)
        if len(self._recent_hashes) >= max(_REBUILD_AT, len(self._hashes) // 50):
            self._rebuild()

    def add_arrays(self, owners: I64, hashes: U64) -> None:
        """A bulk load (start-up, benchmarks): one rebuild for all of them."""
        self._hashes = np.concatenate([self._hashes, hashes.astype(np.uint64)])
        self._owners = np.concatenate([self._owners, owners.astype(np.int64)])
        self._rebuild()

    def _rebuild(self) -> None:
        if self._recent_hashes:
            self._hashes = np.concatenate([self._hashes, np.array(self._recent_hashes, dtype=np.uint64)])
            self._owners = np.concatenate([self._owners, np.array(self._recent_owners, dtype=np.int64)])
            self._recent_hashes, self._recent_owners = [], []
        self._sorted = []
        for chunk in range(CHUNKS):
            values = ((self._hashes >> np.uint64(chunk * CHUNK_BITS)) & np.uint64(_MASK)).astype(np.int64)
            order = np.argsort(values, kind="stable")
            starts = np.zeros(_BUCKETS + 1, dtype=np.int64)
            np.cumsum(np.bincount(values, minlength=_BUCKETS), out=starts[1:])
            self._sorted.append((self._hashes[order], self._owners[order], starts))

    def search(self, queries: Sequence[int], max_bits: int) -> dict[int, int]:
        """Owners with a hash within ``max_bits`` of any query, each with its smallest distance."""
        if not queries or not len(self):
            return {}
        query = np.array(queries, dtype=np.uint64)
        found: dict[int, int] = {}
        if len(self._hashes):
            for chunk in range(CHUNKS):
                self._search_chunk(found, chunk, query, max_bits)
        if self._recent_hashes:
            recent = np.array(self._recent_hashes, dtype=np.uint64)
            bits = np.bitwise_count(recent[:, None] ^ query[None, :]).min(axis=1)
            _keep(found, np.array(self._recent_owners, dtype=np.int64), bits, max_bits)
        return found

    def _search_chunk(self, found: dict[int, int], chunk: int, query: U64, max_bits: int) -> None:
        """Visit the buckets of this chunk within ``max_bits // 4`` bits of each query's chunk."""
        radius = max_bits // CHUNKS
        flips = self._flip_cache.get(radius)
        if flips is None:
            flips = self._flip_cache[radius] = _flips(radius)
        hashes, owners, starts = self._sorted[chunk]
        own = ((query >> np.uint64(chunk * CHUNK_BITS)) & np.uint64(_MASK)).astype(np.int64)
        keys = (own[:, None] ^ flips[None, :]).ravel()
        which = np.repeat(np.arange(len(query)), len(flips))
        first = starts[keys]
        lengths = starts[keys + 1] - first
        total = int(lengths.sum())
        if not total:
            return
        rows = np.repeat(first - (np.cumsum(lengths) - lengths), lengths) + np.arange(total)
        bits = np.bitwise_count(hashes[rows] ^ query[np.repeat(which, lengths)])
        _keep(found, owners[rows], bits, max_bits)


def _keep(found: dict[int, int], owners: I64, bits: npt.NDArray[np.uint8], max_bits: int) -> None:
    close = bits <= max_bits
    for owner, distance in zip(owners[close].tolist(), bits[close].tolist(), strict=True):
        if owner not in found or distance < found[owner]:
            found[owner] = int(distance)
