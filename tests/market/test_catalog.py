"""Catalog imports on SQLite and PostgreSQL: idempotent re-imports, duplicates, sales-history names,
and malformed files that import nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.market.catalog import CatalogFileError, import_file
from bot.market.models import CatalogProduct
from core.storage.database import Database
from tests.market.data import PRODUCTS, SALES, write


async def _products(db: Database) -> dict[str, CatalogProduct]:
    async with db.read() as session:
        return {row.name: row for row in await session.scalars(select(CatalogProduct))}


async def _count(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(CatalogProduct)) or 0)


async def test_reimport_updates_and_never_duplicates(database: Database, tmp_path: Path) -> None:
    path = write(tmp_path, "products.csv", PRODUCTS)
    first = await import_file(database, path)
    assert (first.rows, first.products, first.inserted, first.duplicates) == (13, 12, 12, 1)
    again = await import_file(database, path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 12)
    assert await _count(database) == 12

    rows = await _products(database)
    gs = rows["Jordan 4 Retro Military Black (GS)"]
    assert (gs.audience, gs.brand, gs.model, gs.colourway, gs.retail) == (
        "gs",
        "Jordan",
        "Jordan 4 Retro",
        "Military Black",
        150,
    )
    assert rows["Nike Dunk Low Retro White Black Panda (2021) (Women's)"].audience == "women"
    panda = rows["Nike Dunk Low Retro White Black Panda (2021)"]
    assert panda.release_date is not None and panda.release_date.isoformat() == "2021-03-10"

    changed = write(tmp_path, "changed.csv", PRODUCTS.replace("Grey Fog,Nike,100", "Grey Fog,Nike,115"))
    update = await import_file(database, changed)
    assert (update.inserted, update.updated) == (0, 1)
    assert (await _products(database))["Nike Dunk Low Grey Fog"].retail == 115


async def test_sales_history_names_become_catalog_names(database: Database, tmp_path: Path) -> None:
    await import_file(database, write(tmp_path, "products.csv", PRODUCTS))
    summary = await import_file(database, write(tmp_path, "sales.csv", SALES))
    assert (summary.kind, summary.products, summary.inserted, summary.updated) == ("sales", 3, 2, 1)
    rows = await _products(database)
    zebra = rows["adidas Yeezy Boost 350 V2 Zebra"]  # the product list's name stands
    assert zebra.aliases == ["Adidas-Yeezy-Boost-350-V2-Zebra"]
    beluga = rows["Adidas Yeezy Boost 350 V2 Beluga 2.0"]
    assert (beluga.brand, beluga.model, beluga.colourway) == ("adidas", "Yeezy Boost 350 V2", "Beluga 2.0")
    off_white = rows["Air Jordan 1 Retro High Off-White University Blue"]
    assert (off_white.brand, off_white.retail) == ("Jordan", 190)
    again = await import_file(database, write(tmp_path, "sales.csv", SALES))
    assert (again.inserted, again.updated) == (0, 0)
    assert await _count(database) == 14


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (PRODUCTS.replace("Grey Fog,Nike,100", "Grey Fog,Nike,a hundred"), "line 13, column 4 (retail)"),
        (PRODUCTS.replace("2022-09-01", "Sept 1st"), "line 14, column 5 (release)"),
        (
            PRODUCTS.replace("11,Nike Dunk Low Grey Fog,Nike,100,2021-08-20,110", "11,Nike Dunk Low Grey Fog,Nike"),
            "line 13, column 4",
        ),
        (PRODUCTS.replace("Jordan 4 Retro SB Pine Green", ""), "line 2, column 2 (item)"),
        ("brand,retail\nNike,100\n", "line 1: no product name column"),
    ],
)
async def test_malformed_file_names_line_and_column_and_imports_nothing(
    database: Database, tmp_path: Path, text: str, where: str
) -> None:
    with pytest.raises(CatalogFileError) as failed:
        await import_file(database, write(tmp_path, "bad.csv", text))
    assert where in str(failed.value)
    assert await _count(database) == 0
