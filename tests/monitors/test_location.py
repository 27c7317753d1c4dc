"""A monitor for a physical shop (``/monitor add ... near:lat,lon``): its product events carry the shop's
location, so alert rules with ``near`` and ``radius`` judge distance, on SQLite and PostgreSQL.

Driven as in production: commands typed by members, the local Shopify store, the real alerts slice
listening on ``monitor.event`` and writing the delivery outbox.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection

from bot.monitors.models import Monitor, MonitorEvent
from bot.monitors.service import MonitorService
from bot.slices import migration_locations
from core.commands import Permission
from core.delivery.models import OutboxMessage
from core.engine import Engine
from core.errors import BadArgument
from core.geo import distance_km, parse_lat_lon
from core.identity import Caller
from core.storage.database import Database
from core.storage.metadata import all_metadata
from core.storage.migrate import alembic_config, upgrade
from tests.fakes.shopify_store import BusRecorder, FakeShopifyStore
from tests.monitors.test_engine import PAYLOAD_KEYS, start_engine, stop_engine

ADMIN = Caller(platform="discord", external_id="100", display_name="boss", platform_role=Permission.ADMIN)
NEARBY = Caller("discord", "1001", "alice")  # about 1 km from the shop
FAR = Caller("discord", "1002", "bob")  # in Los Angeles
ANYWHERE = Caller("discord", "1003", "carol")  # no location on her rule
SHOP = (40.7233, -73.9985)  # SoHo, Manhattan


@pytest.fixture
async def store() -> AsyncIterator[FakeShopifyStore]:
    shop = FakeShopifyStore(name="SoHo Kicks")
    shop.seed_catalogue(20)
    await shop.start()
    yield shop
    await shop.stop()


@pytest.fixture
async def online() -> AsyncIterator[FakeShopifyStore]:
    shop = FakeShopifyStore(name="Web Kicks")
    shop.seed_catalogue(5)
    await shop.start()
    yield shop
    await shop.stop()


@pytest.fixture
async def engine(make_config: Any, database: Database) -> AsyncIterator[Engine]:
    built = await start_engine(make_config, database)
    yield built
    await stop_engine(built)


async def ok(engine: Engine, caller: Caller, line: str) -> Any:
    reply = await engine.dispatch_line(caller, line)
    assert not reply.title.startswith("⚠️"), reply.text
    return reply


async def poll(engine: Engine, monitor_id: int) -> None:
    outcome = await engine.service(MonitorService).poll(monitor_id)
    assert outcome.error is None, outcome.error
    await engine.bus.drain()


async def alerted(engine: Engine, event_id: str) -> set[int]:
    """Members with an outbox row for ``event_id``."""
    async with engine.db.read() as session:
        rows = (await session.scalars(select(OutboxMessage).where(OutboxMessage.key.like(f"alert:{event_id}:%")))).all()
    return {row.member_id for row in rows}


async def member_id(engine: Engine, caller: Caller) -> int:
    return (await engine.identity.resolve(caller)).id


def test_lat_lon_parsing_names_the_field() -> None:
    assert parse_lat_lon("40.72,-73.99") == (40.72, -73.99)
    assert parse_lat_lon(" 40.72  -73.99 ", "near") == (40.72, -73.99)
    for text in ("", "40.72", "1,2,3", "north,west", "95,10", "10,181", "nan,1"):
        with pytest.raises(BadArgument) as caught:
            parse_lat_lon(text, "near")
        assert caught.value.param == "near" and str(caught.value).startswith("`near`: "), text
    assert round(distance_km(*SHOP, 40.73, -73.99)) == 1
    assert distance_km(*SHOP, *SHOP) == 0.0


async def test_a_shops_monitor_puts_its_location_on_every_product_event(
    engine: Engine, store: FakeShopifyStore
) -> None:
    bus = BusRecorder(engine.bus)
    reply = await ok(engine, ADMIN, f"/monitor add {store.base_url} near:{SHOP[0]},{SHOP[1]}")
    assert "📍 In store at 40.7233, -73.9985" in reply.text
    assert "📍 in store at 40.7233, -73.9985" in (await ok(engine, ADMIN, "/monitor list")).text
    async with engine.db.read() as session:
        row = await session.get(Monitor, 1)
    assert row is not None and row.location == SHOP

    product = store.products[-1]
    size = next(v["option1"] for v in product["variants"] if not v["available"])
    store.set_available(product["id"], size, True)
    await poll(engine, 1)
    store.set_price(product["id"], float(product["variants"][0]["price"]) - 20)
    await poll(engine, 1)
    # a restart builds the runner from the stored row: the location survives it
    engine.service(MonitorService).runners.clear()
    store.add_product("Jordan 4 Bred", available=["10"], vendor="Jordan")
    await poll(engine, 1)

    assert bus.kinds() == ["restock", "price_change", "new_product"]
    for event in bus.events:
        assert set(event) == PAYLOAD_KEYS | {"location"}
        assert event["location"] == {"lat": SHOP[0], "lon": SHOP[1]}
    async with engine.db.read() as session:
        stored = (await session.scalars(select(MonitorEvent.payload))).all()
    assert [payload["location"] for payload in stored] == [{"lat": SHOP[0], "lon": SHOP[1]}] * 3
    fields = {field["name"]: field["value"] for field in bus.feed[0]["item"]["fields"]}
    assert fields["Store"] == f"{bus.events[0]['store']} · 📍 in store (40.7233, -73.9985)"


async def test_an_online_monitor_has_no_location(engine: Engine, online: FakeShopifyStore) -> None:
    bus = BusRecorder(engine.bus)
    reply = await ok(engine, ADMIN, f"/monitor add {online.base_url}")
    assert "📍" not in reply.text and "📍" not in (await ok(engine, ADMIN, "/monitor list")).text
    online.add_product("Jordan 4 Bred", available=["10"], vendor="Jordan")
    await poll(engine, 1)
    assert set(bus.events[0]) == PAYLOAD_KEYS
    fields = {field["name"]: field["value"] for field in bus.feed[0]["item"]["fields"]}
    assert fields["Store"] == bus.events[0]["store"]


async def test_in_store_restocks_reach_rules_within_radius_and_online_ones_reach_all(
    engine: Engine, store: FakeShopifyStore, online: FakeShopifyStore
) -> None:
    await ok(engine, NEARBY, "/alerts add bred near:40.73,-73.99 radius:5")
    await ok(engine, FAR, "/alerts add bred near:34.05,-118.24 radius:25")
    await ok(engine, ANYWHERE, "/alerts add bred")
    nearby, far, anywhere = [await member_id(engine, c) for c in (NEARBY, FAR, ANYWHERE)]
    await ok(engine, ADMIN, f"/monitor add {store.base_url} near:{SHOP[0]},{SHOP[1]}")
    await ok(engine, ADMIN, f"/monitor add {online.base_url}")

    in_store = store.add_product("Jordan 4 Bred", sizes=["9", "10"], vendor="Jordan")
    on_web = online.add_product("Jordan 4 Bred", sizes=["9", "10"], vendor="Jordan")
    await poll(engine, 1)
    await poll(engine, 2)
    store.set_available(in_store["id"], "10", True)
    online.set_available(on_web["id"], "10", True)
    await poll(engine, 1)
    await poll(engine, 2)

    assert await alerted(engine, f"1:{in_store['id']}:2:restock") == {nearby, anywhere}
    assert await alerted(engine, f"2:{on_web['id']}:2:restock") == {nearby, far, anywhere}
    explained = await ok(engine, FAR, "/alerts test 2")
    assert "more than 25 km away" in explained.text


@pytest.mark.parametrize(
    ("near", "expected"),
    [
        ("95,10", "`near`: latitude must be within ±90 and longitude within ±180"),
        ("40.72", "`near`: expected `latitude,longitude`"),
        ("soho", "`near`: expected `latitude,longitude`"),
    ],
)
async def test_bad_near_gets_an_error_naming_near(
    engine: Engine, store: FakeShopifyStore, near: str, expected: str
) -> None:
    reply = await engine.dispatch_line(ADMIN, f"/monitor add {store.base_url} near:{near}")
    assert reply.ephemeral and reply.title == "⚠️ Not done", reply.text
    assert expected in reply.text
    assert "None yet" in (await ok(engine, ADMIN, "/monitor list")).text


async def test_the_location_migration_goes_down_and_up_again(database: Database) -> None:
    def columns(connection: Connection) -> set[str]:
        return {column["name"] for column in inspect(connection).get_columns("monitors")}

    def downgrade(connection: Connection) -> list[str]:
        cfg = alembic_config(migration_locations())
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0200_monitors")
        return sorted(MigrationContext.configure(connection).get_current_heads())

    async with database.engine.begin() as connection:
        assert {"latitude", "longitude"} <= await connection.run_sync(columns)
        heads = await connection.run_sync(downgrade)
        assert "0200_monitors" in heads and "0201_monitor_location" not in heads
        assert not {"latitude", "longitude"} & await connection.run_sync(columns)

    def model_drift(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return [d for d in compare_metadata(context, all_metadata()) if "monitor" in repr(d)]

    assert "0201_monitor_location" in await upgrade(database, migration_locations())
    async with database.engine.connect() as connection:
        assert {"latitude", "longitude"} <= await connection.run_sync(columns)
        assert await connection.run_sync(model_drift) == []
