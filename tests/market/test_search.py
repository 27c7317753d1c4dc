"""Search quality over the real 2023 catalog (a sample of the benchmark's labelled queries plus the
cases the issue names), and admins' aliases through the command."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.search import DATA, load_queries
from bot.market.catalog import read_catalog_file
from bot.market.search import CatalogEntry, SearchIndex
from core.commands import Permission
from tests.testbot import TestBot

pytestmark = pytest.mark.skipif(not Path(DATA).exists(), reason="the StockX product list is not on this machine")


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    _, records, _ = read_catalog_file(DATA)
    return SearchIndex(CatalogEntry(n, r.name, r.audience, tuple(r.aliases)) for n, r in enumerate(records))


def _first(index: SearchIndex, query: str) -> str:
    hits = index.search(query, limit=5)
    return hits[0].name if hits else ""


def test_labelled_sample(index: SearchIndex) -> None:
    sample = load_queries()[::4]
    right = sum(_first(index, query) == expected for query, expected, _ in sample)
    assert right / len(sample) >= 0.97, f"{right}/{len(sample)}"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("jordn 4 pine gren", "Jordan 4 Retro SB Pine Green"),
        ("JORDAN-4 pine.green!", "Jordan 4 Retro SB Pine Green"),
        ("dunk low kentucky", "Nike Dunk Low SP Kentucky (2020/2022)"),
        ("kentucky low dunk", "Nike Dunk Low SP Kentucky (2020/2022)"),
        ("aj1 low ts black phantom", "Jordan 1 Retro Low OG SP Travis Scott Black Phantom"),
        ("af1 mid ow white", "Nike Air Force 1 Mid Off-White White"),
        ("cdg chuck 70 ox white", "Converse Chuck Taylor All-Star 70 Ox Comme des Garcons PLAY White"),
        ("yzy slide onyx", "adidas Yeezy Slide Onyx"),
        ("nb550 white green black", "New Balance 550 White Green Black"),
        ("am90 doernbecher", "Nike Air Max 90 Doernbecher (2023)"),
        ("jordan 4 military black", "Jordan 4 Retro Military Black"),
        ("jordan 4 military black gs", "Jordan 4 Retro Military Black (GS)"),
        ("grade school jordan 4 military black", "Jordan 4 Retro Military Black (GS)"),
        ("jordan 4 military black ps", "Jordan 4 Retro Military Black (PS)"),
        ("td aj4 military black", "Jordan 4 Retro Military Black (TD)"),
        ("wmns dunk low retro white black panda", "Nike Dunk Low Retro White Black Panda (2021) (Women's)"),
        ("military black 4s", "Jordan 4 Retro Military Black"),
    ],
)
def test_members_spellings(index: SearchIndex, query: str, expected: str) -> None:
    assert _first(index, query) == expected


def test_numbers_are_never_typos(index: SearchIndex) -> None:
    assert all(" 4 " in f" {hit.name} " for hit in index.search("jordan 4 military", limit=5))


def test_unfinished_last_word_autocompletes(index: SearchIndex) -> None:
    assert _first(index, "jordan 4 retro sb pine gr") == "Jordan 4 Retro SB Pine Green"


async def test_admin_alias_extends_search(sqlite_bot: TestBot, tmp_path: Path) -> None:
    from bot.market import Market
    from tests.market.data import PRODUCTS, write

    market = sqlite_bot.engine.service(Market)
    await market.import_file(str(write(tmp_path, "products.csv", PRODUCTS)))
    admin, member = sqlite_bot.member("admin", role=Permission.ADMIN), sqlite_bot.member("ann", "discord")
    assert _first(market.index, "pg 4s") != "Jordan 4 Retro SB Pine Green"
    await sqlite_bot.fails(member, "/catalog alias add pg pine green")
    saved = await sqlite_bot.ok(admin, "/catalog alias add pg pine green")
    assert "`pg` stands for “pine green”" in saved.text
    found = await sqlite_bot.ok(member, "/search pg 4s")
    assert found.title == "👟 Jordan 4 Retro SB Pine Green"
