"""Alert commands and fan-out on both databases: validation, one notice per event and member, quiet
hours, the daily cap and the digest, linked accounts, /alerts test and /admin deadletters."""

from __future__ import annotations

import asyncio
import csv
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, select

from bot.alerts import AlertsRuntime
from bot.alerts.deals import MedianDealScorer
from bot.alerts.matcher import prepare_event
from bot.alerts.models import AlertNotice, AlertRule, RecentEvent
from core.delivery.models import DEAD, PENDING, OutboxMessage
from core.engine import Engine
from core.storage.types import utcnow
from tests.account.links import confirm_link
from tests.paths import SHARED_DATA
from tests.testbot import TestBot


@pytest.fixture
def bot(bot: TestBot) -> TestBot:
    """Alice, Bob and Carol on Discord, Alice's Telegram account, and an admin at the shell."""
    for name in ("alice", "bob", "carol"):
        bot.member(name, "discord")
    bot.member("alice_tg", "telegram")
    bot.member("admin", "shell")
    return bot


def restock(event_id: str = "e1", title: str = "Air Jordan 4 Retro Bred", **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "event_id": event_id,
        "kind": "restock",
        "monitor_id": 1,
        "store": "kith.com",
        "product": {
            "id": 7,
            "title": title,
            "handle": "aj4",
            "brand": "Jordan",
            "url": "https://kith.com/p/aj4",
            "image": None,
            "tags": [],
        },
        "sizes": ["US 10", "US 11"],  # what came back
        "sizes_in_stock": ["US 10", "US 11"],
        "price": 210.0,
        "old_price": None,
        "currency": "USD",
        "cart_links": {"US 10": "https://kith.com/cart/10"},
        "occurred_at": "2026-11-21T10:00:00+00:00",
    }
    payload.update(extra)
    return payload


async def publish(engine: Engine, payload: dict[str, Any]) -> None:
    await engine.bus.publish("monitor.event", payload)
    await engine.bus.drain()


async def outbox(engine: Engine) -> list[OutboxMessage]:
    async with engine.db.read() as session:
        return list((await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())


async def notices(engine: Engine) -> list[AlertNotice]:
    async with engine.db.read() as session:
        return list((await session.execute(select(AlertNotice).order_by(AlertNotice.id))).scalars())


async def test_bad_rules_and_settings_get_errors_naming_the_field(bot: TestBot) -> None:
    engine = bot.engine
    cases = {
        "/alerts add": "at least one criterion",
        "/alerts add nike min_price:300 max_price:200": "`max_price`: 200 is below min_price 300",
        '/alerts add nike sizes:"AU 10"': "`sizes`: `AU 10`: unknown size system",
        "/alerts add nike kinds:restocks": "`kinds`",
        "/alerts add nike radius:5": "`radius`",
        "/alerts add nike near:95,10": "`near`",
        "/alerts add bred exclude:bred": "`exclude`",
        "/alerts add nike channels:fax": "`channels`",
        "/quiet 25:00-08:00": "`hours`",
        "/quiet 22:00-22:00": "`hours`",
        "/quiet late": "`hours`",
        "/digest hourly": "`mode`",
        "/cap -1": "`limit`",
        "/alerts pause 99": "no alert #99",
    }
    for line, expected in cases.items():
        reply = await bot.say("alice", line)
        assert reply.title.startswith("⚠️"), line
        assert expected in reply.text, (line, reply.text)
    assert await outbox(engine) == []


async def test_a_restock_reaches_each_matching_member_once(bot: TestBot) -> None:
    engine = bot.engine
    await bot.ok("alice", '/alerts add jordan 4 bred sizes:"10, EU 44" max_price:250')
    await bot.ok("alice", "/alerts add any:bred|chicago brands:jordan")  # a second match for alice
    await bot.ok("bob", "/alerts add jordan 4 priority:high")
    await bot.ok("carol", "/alerts add jordan 4 sizes:9")  # size 9 is not in stock
    await bot.ok("carol", "/alerts add bred exclude:retro")
    await publish(engine, restock())
    await publish(engine, restock())  # a replayed event changes nothing
    await engine.service(AlertsRuntime).fan_out(restock())
    rows = await outbox(engine)
    alice, bob = await bot.member_id("alice"), await bot.member_id("bob")
    assert [(row.member_id, row.channel) for row in rows] == [(bob, "discord"), (alice, "discord")]
    bob_row, alice_row = rows
    assert bob_row.priority > alice_row.priority and bob_row.key == f"alert:e1:{bob}:discord"
    assert alice_row.payload["title"] == "🔔 Restock: Air Jordan 4 Retro Bred"
    assert {"label": "Cart US 10", "url": "https://kith.com/cart/10"} in alice_row.payload["buttons"]
    assert [n.member_id for n in await notices(engine)] == [bob, alice]


async def test_a_size_filter_hears_its_own_size_come_back_not_other_sizes(bot: TestBot) -> None:
    engine = bot.engine
    await bot.ok("alice", "/alerts add jordan 4 sizes:10 kinds:restock,price_drop")
    alice = await bot.member_id("alice")
    others_back = restock("e-others", sizes=["9", "9.5", "12"], sizes_in_stock=["9", "9.5", "10", "12"])
    await engine.service(AlertsRuntime).fan_out(others_back)
    assert await outbox(engine) == []  # size 10 merely stayed in stock
    ten_back = restock("e-ten", sizes=["10"], sizes_in_stock=["9", "10"])
    await engine.service(AlertsRuntime).fan_out(ten_back)
    assert [row.member_id for row in await outbox(engine)] == [alice]
    cheaper_but_gone = restock(
        "e-drop", kind="price_change", price=150.0, old_price=210.0, sizes=["10", "11"], sizes_in_stock=["11"]
    )
    await engine.service(AlertsRuntime).fan_out(cheaper_but_gone)
    assert len(await outbox(engine)) == 1  # a cheaper size 10 nobody can buy is no news


async def test_paused_edited_and_deleted_rules_update_the_index(bot: TestBot) -> None:
    engine = bot.engine
    await bot.ok("alice", "/alerts add jordan 4 bred")
    await bot.ok("alice", "/alerts pause 1")
    await publish(engine, restock("e1"))
    await bot.ok("alice", "/alerts resume 1")
    await bot.ok("alice", "/alerts edit 1 max_price:100")
    await publish(engine, restock("e2"))
    await bot.ok("alice", "/alerts edit 1 max_price:0 stores:kith.com")
    await publish(engine, restock("e3"))
    await bot.ok("alice", "/alerts delete 1")
    await publish(engine, restock("e4"))
    assert [row.key.split(":")[1] for row in await outbox(engine)] == ["e3"]
    reply = await bot.say("bob", "/alerts edit 1 max_price:5")
    assert "no alert #1" in reply.text, "members only see their own rules"


async def test_quiet_hours_hold_normal_alerts_but_not_high_priority(bot: TestBot) -> None:
    engine = bot.engine
    now = datetime.now(UTC)
    start, end = (now - timedelta(hours=1)), (now + timedelta(hours=2))
    window = f"{start:%H:%M}-{end:%H:%M}"
    for caller in ("alice", "bob"):
        await bot.ok(caller, "/settings timezone:UTC")
        await bot.ok(caller, f"/quiet {window}")
    await bot.ok("alice", "/alerts add jordan 4")
    await bot.ok("bob", "/alerts add jordan 4 priority:high")
    await publish(engine, restock())
    rows = {row.member_id: row for row in await outbox(engine)}
    held = rows[await bot.member_id("alice")].next_attempt_at
    expected_end = end.replace(second=0, microsecond=0)
    assert abs((held - expected_end).total_seconds()) < 61
    assert rows[await bot.member_id("bob")].next_attempt_at <= utcnow()


async def test_quiet_hours_use_the_members_timezone(bot: TestBot) -> None:
    engine = bot.engine
    await bot.ok("alice", "/settings timezone:Pacific/Kiritimati")  # UTC+14
    local = datetime.now(UTC) + timedelta(hours=14)
    await bot.ok("alice", f"/quiet {local - timedelta(minutes=30):%H:%M}-{local + timedelta(minutes=30):%H:%M}")
    await bot.ok("alice", "/alerts add jordan 4")
    await publish(engine, restock())
    (row,) = await outbox(engine)
    assert row.next_attempt_at > utcnow() + timedelta(minutes=20)


async def test_the_cap_rolls_extra_alerts_into_one_digest(bot: TestBot) -> None:
    engine = bot.engine
    await bot.ok("alice", "/alerts add jordan")
    await bot.ok("alice", "/cap 2")
    await bot.ok("alice", "/digest daily 0")
    for n in range(5):
        await publish(engine, restock(f"e{n}", title=f"Air Jordan {n} Retro"))
    rows = await outbox(engine)
    assert [row.key.split(":")[1] for row in rows] == ["e0", "e1"]
    assert [n.status for n in await notices(engine)] == ["queued", "queued", "digest", "digest", "digest"]
    runtime = engine.service(AlertsRuntime)
    assert await runtime.send_digests() == 1
    assert await runtime.send_digests() == 0, "one digest per period"
    digest = (await outbox(engine))[-1]
    assert digest.source == "digest" and digest.payload["title"].startswith("🗞️ Your alert digest")
    assert digest.payload["text"].count("• ") == 3 and "Air Jordan 4 Retro" in digest.payload["text"]
    assert {n.status for n in await notices(engine)} == {"queued", "digested"}


async def test_the_cap_resets_at_the_members_midnight(bot: TestBot) -> None:
    engine = bot.engine
    await bot.ok("alice", "/alerts add jordan")
    await bot.ok("alice", "/cap 1")
    await publish(engine, restock("e1"))
    async with engine.db.transaction() as session:  # yesterday, in the member's calendar
        for notice in (await session.execute(select(AlertNotice))).scalars():
            notice.local_day = "2000-01-01"
    await publish(engine, restock("e2"))
    assert [row.key.split(":")[1] for row in await outbox(engine)] == ["e1", "e2"]


async def test_linked_accounts_get_one_alert_per_event(bot: TestBot) -> None:
    engine = bot.engine
    await bot.ok("alice", "/alerts add jordan 4")
    await bot.ok("alice_tg", "/alerts add bred")
    code = (await bot.ok("alice", "/link")).text.split("**")[1]
    await bot.ok("alice_tg", f"/link {code}")
    await confirm_link(engine, bot["alice"].caller)
    await publish(engine, restock())
    (row,) = [row for row in await outbox(engine) if row.source == "alert"]
    assert row.member_id == await bot.member_id("alice")
    assert row.channel == "discord" and row.fallbacks == ["telegram"]


async def test_alerts_test_explains_recent_events(bot: TestBot) -> None:
    engine = bot.engine
    await publish(engine, restock("e1"))
    await publish(engine, restock("e2", title="Nike Dunk Low Panda", price=110.0))
    await bot.ok("alice", "/alerts add jordan 4 max_price:300")
    reply = await bot.ok("alice", "/alerts test 1")
    assert reply.title == "🧪 Alert #1: 1 of the last 2 events match"
    assert "✅ Restock: Air Jordan 4 Retro Bred" in reply.text
    assert "— restock, words 4 jordan, price 210" in reply.text  # why it matched, not only why not
    assert "✗ Restock: Nike Dunk Low Panda at kith.com $110 — missing keyword 4, jordan" in reply.text
    listed = await bot.ok("alice", "/alerts list")
    assert listed.fields[0].name == "#1 jordan 4"


async def test_pausing_twice_max_price_zero_and_the_cap_help_say_what_happens(bot: TestBot) -> None:
    await bot.ok("alice", "/alerts add jordan 4")
    await bot.ok("alice", "/alerts pause 1")
    await bot.fails("alice", "/alerts pause 1", match="Alert #1 is already paused")
    await bot.ok("alice", "/alerts resume 1")
    await bot.fails("alice", "/alerts resume 1", match="Alert #1 is already active")
    await bot.fails("alice", "/alerts add dunk max_price:0", match="0 would match nothing")
    cap_help = (await bot.ok("alice", "/help cap")).plain_text()
    assert "digest if on, else are skipped" in cap_help


async def test_admins_list_and_retry_dead_letters(bot: TestBot) -> None:
    engine = bot.engine
    await bot.ok("alice", "/alerts add jordan 4")
    await publish(engine, restock())
    async with engine.db.transaction() as session:
        row = (await session.execute(select(OutboxMessage))).scalar_one()
        row.status, row.last_error, row.attempts = DEAD, "gave up after 6 attempts: HTTP 503", 6
    reply = await bot.say("alice", "/admin deadletters")
    assert reply.title.startswith("⚠️"), "admins only"
    listed = await bot.ok("admin", "/admin deadletters")
    assert "HTTP 503" in listed.fields[0].value and "discord" in listed.fields[0].name
    await bot.ok("admin", f"/admin deadletters retry {row.id}")
    (row,) = await outbox(engine)
    assert row.status == PENDING and row.attempts == 0


def _stockx_sales() -> list[tuple[str, str, float]]:
    path = SHARED_DATA / "stockx-sales-2017-09_2018-10.csv"
    if not path.exists():
        pytest.skip("StockX sales data not present")
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            (row["SneakerName"], row["ShoeSize"], float(row["SalePrice"].replace("$", "").replace(",", "")))
            for row in csv.DictReader(handle)
        ]


async def test_min_deal_compares_with_the_resale_median(bot: TestBot) -> None:
    engine = bot.engine
    # size 10 Beluga 2.0 resold at a $386 median
    engine.service(AlertsRuntime).deals = MedianDealScorer(_stockx_sales())
    await bot.ok("alice", "/alerts add yeezy beluga 2pt0 sizes:10 min_deal:30")
    await bot.ok("bob", "/alerts add yeezy beluga 2pt0 sizes:10 min_deal:50")
    await publish(
        engine,
        restock(title="Adidas Yeezy Boost 350 V2 Beluga 2pt0", price=220.0, sizes_in_stock=["10"], cart_links={}),
    )
    (row,) = await outbox(engine)
    assert row.member_id == await bot.member_id("alice")
    assert {"name": "Deal", "value": "43% under resale"} in [
        {"name": f["name"], "value": f["value"]} for f in row.payload["fields"]
    ]
    reply = await bot.ok("bob", "/alerts test 2")
    assert "deal 43% below 50%" in reply.text


async def test_a_rule_saved_in_one_process_reaches_the_other_processes_index(bot: TestBot, make_config: Any) -> None:
    """Two engines on one database and one event bus stand for two processes: a rule added, edited or
    deleted through one is matched (or not) by the other's index, which it re-reads from storage."""
    from snpd.app import build_engine

    engine = bot.engine
    other = build_engine(make_config(), db=engine.db, bus=engine.bus)
    await other.service(AlertsRuntime).ensure_loaded()
    await bot.ok("alice", "/alerts add jordan 4 bred")
    await engine.bus.drain()
    matched = other.service(AlertsRuntime).index.match(prepare_event(restock()))
    assert [rule.rule_id for rule in matched] == [1]
    await bot.ok("alice", "/alerts edit 1 max_price:100")
    await engine.bus.drain()
    assert other.service(AlertsRuntime).index.match(prepare_event(restock())) == []
    await bot.ok("alice", "/alerts edit 1 max_price:0")
    await bot.ok("alice", "/alerts delete 1")
    await engine.bus.drain()
    assert len(other.service(AlertsRuntime).index) == 0


async def test_a_rule_saved_while_the_index_loads_is_not_lost(bot: TestBot) -> None:
    engine = bot.engine
    runtime = engine.service(AlertsRuntime)
    loading = asyncio.ensure_future(runtime.ensure_loaded())
    await asyncio.sleep(0)  # the load has begun reading the rules
    await bot.ok("alice", "/alerts add jordan 4 bred")
    await loading
    await publish(engine, restock("e1"))
    assert [row.key.split(":")[1] for row in await outbox(engine)] == ["e1"]


async def test_rules_written_in_bulk_are_matched_after_a_reload(bot: TestBot) -> None:
    engine = bot.engine
    member_id = await bot.member_id("alice")
    async with engine.db.transaction() as session:
        await session.execute(
            insert(AlertRule),
            [{"member_id": member_id, "name": "bred", "keywords": ["jordan", "4", "bred"], "any_groups": [],
              "exclude": [], "brands": [], "stores": [], "sizes": [], "kinds": ["restock"], "channels": [],
              "high_priority": False, "paused": False}],
        )  # fmt: skip
    runtime = engine.service(AlertsRuntime)
    assert runtime.index.match(prepare_event(restock())) == []  # not announced: the index can't know
    await runtime.reload()
    assert [ref.member_id for ref in runtime.index.match(prepare_event(restock()))] == [member_id]


async def test_the_fan_out_rehearsal_runs_an_alerts_statements_and_keeps_nothing(bot: TestBot) -> None:
    engine = bot.engine
    await bot.member_id("alice")  # linked on Discord: the rehearsal writes her a whole alert
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement.split("(")[0].strip())

    event.listen(engine.db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        await engine.service(AlertsRuntime).rehearse_fan_out()
    finally:
        event.remove(engine.db.engine.sync_engine, "before_cursor_execute", seen)
    assert {"INSERT INTO alert_recent_events", "INSERT INTO alert_notices", "INSERT INTO outbox"} <= set(statements)
    assert await outbox(engine) == [] and await notices(engine) == []
    async with engine.db.read() as session:
        assert (await session.execute(select(RecentEvent))).first() is None
