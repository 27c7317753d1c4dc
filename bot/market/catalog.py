"""Catalog imports: a product list (StockX's ``item, brand, retail, release``) or the names in a sales
history (``SneakerName`` slugs), read whole and checked before anything is written, then stored in
one transaction keyed by ``bot.market.names.key_for`` so a re-import updates instead of duplicating.

A product list names pairs as the catalog should show them. A sales history only adds pairs the
catalog lacks and the slugs as aliases (so their sales are found), never renaming a listed pair.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.market.models import CatalogProduct
from bot.market.names import key_for, parse_name, slug_to_name, split_audience
from core.errors import UserError
from core.storage.database import Database
from core.storage.types import utcnow

#: accepted spellings of each column, folded to lowercase letters and digits
_PRODUCT_COLUMNS = {
    "name": ("item", "name", "product", "title"),
    "brand": ("brand",),
    "retail": ("retail", "retailprice", "price"),
    "release": ("release", "releasedate"),
    "style_code": ("stylecode", "styleid", "style", "sku"),
}
_SALES_COLUMNS = {
    "name": ("sneakername",),
    "brand": ("brand",),
    "retail": ("retailprice",),
    "release": ("releasedate",),
}


class CatalogFileError(UserError):
    """The file can't be imported; the message names the line and column."""


@dataclass
class Record:
    """One product as a file describes it."""

    key: str
    name: str
    brand: str
    model: str
    colourway: str
    audience: str
    retail: float | None
    release_date: date | None
    style_code: str | None
    aliases: list[str] = field(default_factory=list)
    #: a product list's own name (``True``) or one made from a sales slug, which never renames a row
    primary: bool = True


@dataclass
class ImportSummary:
    kind: str
    rows: int = 0
    products: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    #: rows naming a product an earlier row of the same file already named
    duplicates: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _fold_column(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _match_columns(header: list[str], wanted: Mapping[str, tuple[str, ...]]) -> dict[str, int] | None:
    folded = [_fold_column(column) for column in header]
    found: dict[str, int] = {}
    for key, spellings in wanted.items():
        position = next((folded.index(s) for s in spellings if s in folded), None)
        if position is not None:
            found[key] = position
    return found if "name" in found else None


def _money(text: str) -> float | None:
    cleaned = text.strip().replace("$", "").replace(",", "")
    if not cleaned:
        return None
    value = float(cleaned)  # ValueError is reported with the line and column
    if value < 0 or value > 1_000_000:
        raise ValueError("out of range")
    return value


def _date(text: str) -> date | None:
    cleaned = text.strip()
    if not cleaned:
        return None
    return date.fromisoformat(cleaned[:10])


def read_catalog_file(path: Path | str) -> tuple[str, list[Record], int]:
    """``(kind, records, rows)`` for a product list or a sales history; ``CatalogFileError`` names
    the first bad line and column. Records are merged by key (duplicates in the file count once)."""
    source = Path(path)
    try:
        text = source.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise CatalogFileError(f"can't read {source}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise CatalogFileError(f"{source}: not UTF-8 text (byte {exc.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise CatalogFileError(f"{source}: the file is empty") from None
    except csv.Error as exc:
        raise CatalogFileError(f"{source}: line 1: {exc}") from None
    sales = _match_columns(header, _SALES_COLUMNS)
    columns = sales or _match_columns(header, _PRODUCT_COLUMNS)
    if columns is None:
        raise CatalogFileError(
            f"{source}: line 1: no product name column (expected `item` for a product list or `SneakerName` "
            "for a sales history)"
        )
    kind = "sales" if sales else "products"
    build: Callable[[list[str], dict[str, int]], Record] = _sales_record if sales else _product_record
    records: dict[str, Record] = {}
    rows = 0
    line = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise CatalogFileError(f"{source}: line {reader.line_num}: {exc}") from None
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            column = min(len(row), len(header)) + 1
            raise CatalogFileError(
                f"{source}: line {line}, column {column}: {len(row)} fields where the header has {len(header)}"
            )
        rows += 1
        record = _checked(build, row, columns, header, f"{source}: line {line}")
        known = records.get(record.key)
        if known is None:
            records[record.key] = record
        else:
            _merge(known, record)
    return kind, list(records.values()), rows


def _checked(
    build: Callable[[list[str], dict[str, int]], Record],
    row: list[str],
    columns: dict[str, int],
    header: list[str],
    where: str,
) -> Record:
    for key, position in columns.items():
        value = row[position]
        try:
            if key == "name" and not value.strip():
                raise ValueError("empty")
            if key == "retail":
                _money(value)
            if key == "release":
                _date(value)
        except ValueError:
            raise CatalogFileError(
                f"{where}, column {position + 1} ({header[position]}): "
                f"`{value[:40]}` is not a valid {key.replace('_', ' ')}"
            ) from None
    return build(row, columns)


def _cell(row: list[str], columns: dict[str, int], key: str) -> str:
    position = columns.get(key)
    return row[position].strip() if position is not None else ""


def _record(
    name: str,
    row: list[str],
    columns: dict[str, int],
    style: str | None,
    *,
    aliases: list[str] | None = None,
    primary: bool = True,
) -> Record:
    """A catalog record for ``name``: brand, model and colourway parsed, audience, retail and release
    read from the row; a sales history adds the slug as an alias and never renames a listed pair."""
    _, audience = split_audience(name)
    parsed = parse_name(name, _cell(row, columns, "brand") or None)
    return Record(
        key=key_for(name, audience, style),
        name=name,
        brand=parsed.brand,
        model=parsed.model,
        colourway=parsed.colourway,
        audience=audience,
        retail=_money(_cell(row, columns, "retail")),
        release_date=_date(_cell(row, columns, "release")),
        style_code=style,
        aliases=aliases or [],
        primary=primary,
    )


def _product_record(row: list[str], columns: dict[str, int]) -> Record:
    name = " ".join(_cell(row, columns, "name").split())[:300]
    return _record(name, row, columns, _cell(row, columns, "style_code")[:40] or None)


def _sales_record(row: list[str], columns: dict[str, int]) -> Record:
    slug = _cell(row, columns, "name")[:300]
    name = slug_to_name(slug)[:300]
    return _record(name, row, columns, None, aliases=[slug] if slug != name else [], primary=False)


def _merge(known: Record, later: Record) -> None:
    """A second row for the same product: the first row's values stand, the later fills gaps."""
    known.retail = known.retail if known.retail is not None else later.retail
    known.release_date = known.release_date or later.release_date
    known.style_code = known.style_code or later.style_code
    known.aliases = list(dict.fromkeys([*known.aliases, *later.aliases]))


_FIELDS = ("name", "brand", "model", "colourway", "audience", "retail", "release_date", "style_code")


def _changes(row: CatalogProduct, record: Record) -> dict[str, Any]:
    """What storing ``record`` changes in ``row``: a product list's values replace; a sales-history
    record only fills empty fields. Aliases are unioned either way."""
    changes: dict[str, Any] = {}
    for name in _FIELDS:
        new = getattr(record, name)
        old = getattr(row, name)
        if record.primary:
            if new is not None and new != old:
                changes[name] = new
        elif old in (None, "") and new not in (None, ""):
            changes[name] = new
    aliases = list(dict.fromkeys([*(row.aliases or []), *record.aliases]))
    if record.primary and row.name != record.name and row.name not in aliases:
        aliases.append(row.name)  # the old name still finds the pair
    aliases = [alias for alias in aliases if alias != changes.get("name", row.name)]
    if aliases != list(row.aliases or []):
        changes["aliases"] = aliases
    return changes


async def store(db: Database, kind: str, records: Iterable[Record], rows: int) -> ImportSummary:
    """Insert or update every record in one transaction."""
    pending = list(records)
    summary = ImportSummary(kind=kind, rows=rows, products=len(pending), duplicates=rows - len(pending))
    async with db.transaction() as session:
        existing = {row.key: row for row in await session.scalars(select(CatalogProduct))}
        now = utcnow()
        for record in pending:
            row = existing.get(record.key)
            if row is None:
                values = {name: getattr(record, name) for name in _FIELDS}
                session.add(
                    CatalogProduct(key=record.key, aliases=record.aliases, created_at=now, updated_at=now, **values)
                )
                summary.inserted += 1
                continue
            changes = _changes(row, record)
            if not changes:
                summary.unchanged += 1
                continue
            for name, value in changes.items():
                setattr(row, name, value)
            row.updated_at = now
            summary.updated += 1
    return summary


async def import_file(db: Database, path: Path | str) -> ImportSummary:
    """Read ``path`` whole (a bad line imports nothing) and store it."""
    kind, records, rows = await asyncio.to_thread(read_catalog_file, path)
    return await store(db, kind, records, rows)
