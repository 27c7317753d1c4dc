"""The stolen-photo index of one process: every stored photo hash in a ``HashIndex``, kept in step
with the database.

Several processes may share PostgreSQL, so before each lookup the rows written since the last one are
read (``id`` above the high-water mark). Ids are handed out when a row is inserted but seen only when
its transaction commits, so an id skipped below the mark may still appear: skipped ids are asked for
again on later refreshes, for ``_GAP_TTL``, after which they belong to a transaction that rolled back.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
from sqlalchemy import select

from bot.legitcheck.hashindex import HashIndex
from bot.legitcheck.models import LcPhotoHash
from bot.legitcheck.phash import to_unsigned
from core.storage.database import Database

_GAP_TTL = 600.0
_LOAD_BATCH = 200_000
_COLUMNS = (LcPhotoHash.id, LcPhotoHash.photo_id, LcPhotoHash.key, LcPhotoHash.check)


class PhotoIndex:
    def __init__(self, db: Database) -> None:
        self._db = db
        self.index = HashIndex()
        self._mark = 0
        self._gaps: dict[int, float] = {}
        self._lock = asyncio.Lock()

    async def refresh(self) -> int:
        """Add the hashes other processes (and this one) stored since the last refresh; how many."""
        async with self._lock:
            added = 0
            while True:
                rows = await self._read_after(self._mark)
                added += self._take(rows)
                if len(rows) < _LOAD_BATCH:
                    break
            if self._gaps:
                added += self._take(await self._read_ids(list(self._gaps)))
                now = time.monotonic()
                self._gaps = {gap: seen for gap, seen in self._gaps.items() if now - seen < _GAP_TTL}
            return added

    def _take(self, rows: list[tuple[int, int, int, int]]) -> int:
        if not rows:
            return 0
        now = time.monotonic()
        for row_id, *_ in rows:
            self._gaps.pop(row_id, None)
            if row_id > self._mark + 1:
                for missing in range(self._mark + 1, min(row_id, self._mark + 1000)):
                    self._gaps.setdefault(missing, now)
            self._mark = max(self._mark, row_id)
        entries = [(photo, to_unsigned(key), to_unsigned(check)) for _, photo, key, check in rows]
        if len(entries) > 1000:
            owners, keys, checks = zip(*entries, strict=True)
            self.index.add_arrays(
                np.array(owners, dtype=np.int64), np.array(keys, dtype=np.uint64), np.array(checks, dtype=np.uint64)
            )
        else:
            self.index.add(entries)
        return len(rows)

    async def _read_after(self, mark: int) -> list[tuple[int, int, int, int]]:
        query = select(*_COLUMNS).where(LcPhotoHash.id > mark).order_by(LcPhotoHash.id).limit(_LOAD_BATCH)
        async with self._db.read() as session:
            return [(int(a), int(b), int(c), int(d)) for a, b, c, d in (await session.execute(query)).all()]

    async def _read_ids(self, ids: list[int]) -> list[tuple[int, int, int, int]]:
        query = select(*_COLUMNS).where(LcPhotoHash.id.in_(ids[:1000]))
        async with self._db.read() as session:
            return [(int(a), int(b), int(c), int(d)) for a, b, c, d in (await session.execute(query)).all()]

    async def search(self, queries: list[tuple[int, int]], key_bits: int, check_bits: int) -> dict[int, int]:
        """Photo id → smallest distance, for photos stored anywhere up to now."""
        await self.refresh()
        return self.index.search(queries, key_bits, check_bits)
