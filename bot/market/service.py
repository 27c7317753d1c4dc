"""The market slice's services: the catalog search index kept current, pair resolution for every
command that names a pair (and their autocomplete), admins' aliases, and links from the products
the monitors see to their catalog entry."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz import process
from sqlalchemy import func, select

from bot.market.catalog import ImportSummary, import_file
from bot.market.models import CatalogAlias, CatalogLink, CatalogProduct
from bot.market.names import fold
from bot.market.search import CatalogEntry, Hit, SearchIndex
from core.context import Context
from core.errors import UserError
from core.storage.database import Database
from core.storage.types import utcnow

#: the catalog is re-read when another process (``snpd catalog import``) changed it
REFRESH_S = 60.0
#: a monitor's product is linked only to a catalog name it covers this well, and clearly best
LINK_NAME_COVERAGE = 0.9
LINK_QUERY_COVERAGE = 0.6
_LINKED_MEMORY = 50_000
_ID = re.compile(r"^#(\d{1,9})$")


@dataclass(frozen=True)
class Resolved:
    """What an item a member typed names: one product, or the candidates to choose from."""

    product: CatalogProduct | None
    candidates: list[Hit]


def ambiguous(hits: Sequence[Hit]) -> bool:
    """Too close to call: the query isn't covered, names too little of the best pair (``dunk low``),
    or the runner-up scores nearly the same."""
    if not hits:
        return True
    if hits[0].coverage < 0.75 or hits[0].name_coverage < 0.3:
        return True
    return len(hits) > 1 and hits[0].score - hits[1].score < 0.015


class Market:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.index = SearchIndex(())
        self._version: tuple[Any, ...] | None = None
        self._linked: set[tuple[int, str]] = set()

    async def _current_version(self) -> tuple[Any, ...]:
        async with self.db.read() as session:
            products = (await session.execute(select(func.count(), func.max(CatalogProduct.updated_at)))).one()
            aliases = (await session.execute(select(func.count(), func.max(CatalogAlias.created_at)))).one()
        return (*products, *aliases)

    async def refresh(self, *, force: bool = False) -> bool:
        """Rebuild the index if the catalog or the aliases changed; ``True`` if it did."""
        version = await self._current_version()
        if not force and version == self._version:
            return False
        async with self.db.read() as session:
            rows = (await session.execute(select(CatalogProduct.id, CatalogProduct.name, CatalogProduct.audience,
                                                 CatalogProduct.aliases))).all()  # fmt: skip
            aliases = {row.abbreviation: row.expansion for row in await session.scalars(select(CatalogAlias))}
        entries = [CatalogEntry(row[0], row[1], row[2], tuple(row[3] or ())) for row in rows]
        self.index = SearchIndex(entries, aliases)
        self._version = version
        return True

    async def refresh_job(self) -> None:
        await self.refresh()

    async def import_file(self, path: str) -> ImportSummary:
        summary = await import_file(self.db, path)
        await self.refresh()
        return summary

    def search(self, query: str, *, limit: int = 10) -> list[Hit]:
        return self.index.search(query, limit=limit)

    def closest(self, query: str, *, limit: int = 5) -> list[str]:
        """Names nearest by spelling alone: what a query that matches no word still gets."""
        return [name for name, _, _ in process.extract(fold(query), self.index.names(), limit=limit)]

    async def product(self, catalog_id: int) -> CatalogProduct | None:
        async with self.db.read() as session:
            return await session.get(CatalogProduct, catalog_id)

    async def resolve(self, item: str) -> Resolved:
        """``#123``, a catalog name exactly (what autocomplete fills in), or the best clear match."""
        text = item.strip()
        by_id = _ID.match(text)
        if by_id is not None:
            found = await self.product(int(by_id.group(1)))
            return Resolved(found, [])
        async with self.db.read() as session:
            exact = (await session.scalars(
                select(CatalogProduct).where(func.lower(CatalogProduct.name) == text.lower()).limit(1)
            )).first()  # fmt: skip
        if exact is not None:
            return Resolved(exact, [])
        hits = self.search(text, limit=5)
        if hits and not ambiguous(hits):
            return Resolved(await self.product(hits[0].id), hits)
        return Resolved(None, hits)

    async def autocomplete(self, ctx: Context, prefix: str) -> list[str]:
        """Catalog names for a parameter that names a pair (``Param(autocomplete=...)``)."""
        if not prefix.strip():
            return []
        return [hit.name for hit in self.search(prefix, limit=25)]

    async def add_alias(self, abbreviation: str, expansion: str, member_id: int | None) -> tuple[str, str, bool]:
        """Store (or replace) an alias; ``(abbr, expansion, replaced)``, both folded."""
        abbr, words = fold(abbreviation), fold(expansion)
        if not abbr or not words:
            raise UserError("Both the abbreviation and what it stands for need letters or digits.")
        async with self.db.transaction() as session:
            row = await session.get(CatalogAlias, abbr)
            replaced = row is not None
            if row is None:
                session.add(CatalogAlias(abbreviation=abbr, expansion=words, created_by=member_id, created_at=utcnow()))
            else:
                row.expansion, row.created_by, row.created_at = words, member_id, utcnow()
        await self.refresh(force=True)
        return abbr, words, replaced

    async def on_monitor_event(self, topic: str, payload: dict[str, Any]) -> None:
        """Link the monitor's product to its catalog entry the first time it is seen (remembered in
        memory, so later events of the same product cost nothing)."""
        product = payload.get("product") or {}
        product_id, title = str(product.get("id") or ""), str(product.get("title") or "")
        monitor_id = payload.get("monitor_id")
        if not product_id or not title or not isinstance(monitor_id, int):
            return
        seen = (monitor_id, product_id[:64])
        if seen in self._linked:
            return
        if len(self._linked) >= _LINKED_MEMORY:
            self._linked.clear()
        self._linked.add(seen)
        hits = self.search(title, limit=2)
        if not hits or hits[0].name_coverage < LINK_NAME_COVERAGE or hits[0].coverage < LINK_QUERY_COVERAGE:
            return
        if len(hits) > 1 and hits[1].score >= hits[0].score - 0.01:
            return
        async with self.db.transaction() as session:
            row = await session.get(CatalogLink, seen)
            if row is None:
                session.add(CatalogLink(monitor_id=seen[0], product_id=seen[1], catalog_id=hits[0].id,
                                        title=title[:300], linked_at=utcnow()))  # fmt: skip
            elif row.catalog_id != hits[0].id:
                row.catalog_id, row.title, row.linked_at = hits[0].id, title[:300], utcnow()

    async def linked(self, monitor_id: int, product_id: str) -> CatalogProduct | None:
        """The catalog product a monitored product was linked to."""
        async with self.db.read() as session:
            link = await session.get(CatalogLink, (monitor_id, product_id))
            return None if link is None else await session.get(CatalogProduct, link.catalog_id)
