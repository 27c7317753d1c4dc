"""Deadstock Detective on a slice of the real 2017-18 StockX sales: /detective through the test bot,
prediction events reaching alert rules with ``kinds:prediction``, and one event per pair per day."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.market import Market
from bot.market.config import MarketSection
from bot.market.detective import Detective
from bot.monitors.prices import record
from bot.monitors.sources.resale import SalesHistoryImport
from core.delivery.models import OutboxMessage
from core.engine import Engine
from tests.paths import SHARED_DATA
from tests.testbot import TestBot

SALES = SHARED_DATA / "stockx-sales-2017-09_2018-10.csv"
pytestmark = pytest.mark.skipif(not SALES.exists(), reason=f"the real sales history is not at {SALES}")
NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


def sales_slice(folder: Path) -> Path:
    """Every fifth sale from September 2018 on: about 2,100 sales of 40 pairs, ending 2018-10-31."""
    with SALES.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    path = folder / "stockx-slice.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(rows[0])
        writer.writerows(row for n, row in enumerate(rows[1:]) if row[0] >= "2018-09-01" and n % 5 == 0)
    return path


async def stock(engine: Engine, folder: Path) -> None:
    """The catalog and the price table loaded as ``snpd catalog import`` and ``snpd prices import`` do."""
    path = sales_slice(folder)
    await engine.service(Market).import_file(str(path))
    await record(engine.db, SalesHistoryImport(path, source="stockx").observations())


async def outbox(engine: Engine) -> list[OutboxMessage]:
    async with engine.db.read() as session:
        return list((await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())


async def test_detective_lists_the_rising_pairs_with_confidence_and_reasons(bot: TestBot, tmp_path: Path) -> None:
    ann = bot.member("ann", "discord")
    empty = await bot.ok(ann, "/detective")
    assert "No sales in the price table yet" in empty.text
    await stock(bot.engine, tmp_path)
    reply = await bot.ok(ann, "/detective")
    assert reply.title == "🕵️ Deadstock Detective"
    assert "“Today” is 2018-10-31, the latest sale in the price table" in reply.text
    assert len(reply.fields) == 10 and reply.fields[0].name.startswith("1. ")
    first = reply.fields[0].value
    assert "80% range $" in first and "confidence " in first and "Why: " in first and "sales of its own" in first
    rises = [float(field.value.split("(", 1)[1].split("%", 1)[0]) for field in reply.fields]
    assert rises == sorted(rises, reverse=True) and rises[0] > 0
    assert any("size curve: size " in field.value for field in reply.fields)
    assert any("similar releases (" in field.value for field in reply.fields)
    priced = await bot.press(ann, reply, reply.buttons[0].label)
    assert priced.title is not None and priced.title.startswith("💲 ")


async def _detective(engine: Engine) -> tuple[Detective, str]:
    """A detective whose threshold lets exactly the top pair through, and that pair's name."""
    probe = Detective(engine.db, engine.bus, MarketSection())
    top, second = (await probe.board()).outlooks[:2]
    assert top.rise_pct > second.rise_pct > 0
    threshold = (top.rise_pct + second.rise_pct) / 2
    return Detective(engine.db, engine.bus, MarketSection(prediction_threshold_pct=threshold)), top.name


async def test_prediction_rules_hear_of_rising_pairs_once_a_day(bot: TestBot, tmp_path: Path) -> None:
    engine = bot.engine
    await stock(engine, tmp_path)
    detective, name = await _detective(engine)
    words = " ".join(name.split()[1:4]).lower()
    alice, bob = bot.member("alice", "discord"), bot.member("bob", "discord")
    await bot.ok(alice, f"/alerts add {words} kinds:prediction")
    await bot.ok(bob, f"/alerts add {words}")  # restocks and new products only
    assert "`kinds`" in (await bot.say(bob, "/alerts add nike kinds:prophecy")).text

    assert await detective.publish_predictions(NOW) == 1
    await engine.bus.drain()
    (row,) = await outbox(engine)
    assert row.member_id == await bot.member_id(alice)
    product = (await engine.service(Market).resolve(name)).product
    assert product is not None and row.key.startswith(f"alert:prediction:{product.id}:{NOW.date().isoformat()}:")
    assert row.payload["title"] == f"🔔 Predicted rise: {name}"
    store = next(field["value"] for field in row.payload["fields"] if field["name"] == "Store")
    assert store.startswith("Deadstock Detective: +") and store.endswith("predicted over 30 days from 2018-10-31")

    assert await detective.publish_predictions(NOW + timedelta(hours=6)) == 0  # once per pair per day
    another_process = Detective(engine.db, engine.bus, detective.settings)
    assert await another_process.publish_predictions(NOW + timedelta(hours=7)) == 1
    await engine.bus.drain()
    assert len(await outbox(engine)) == 1  # the same pair+day event id: the alerts' dedupe holds

    assert await detective.publish_predictions(NOW + timedelta(days=1)) == 1
    await engine.bus.drain()
    rows = await outbox(engine)
    assert len(rows) == 2 and {r.member_id for r in rows} == {await bot.member_id(alice)}
    assert rows[1].key.split(":")[3] == (NOW + timedelta(days=1)).date().isoformat()
