"""The drop calendar on SQLite and PostgreSQL: adding, refusing bad input, listing in the member's
zone, editing (SEQUENCE, the feed post) and cancelling; proposals from the catalog and monitors."""

from __future__ import annotations

from datetime import UTC, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.drops.models import CANCELLED, Drop, DropProposal
from bot.monitors.service import EVENT_TOPIC
from core.commands import Permission
from core.storage.types import utcnow
from tests.drops.helpers import PINE, console, drops, release_text, soon, stock_catalog
from tests.testbot import TestBot


async def test_add_list_show_edit_cancel(bot: TestBot, tmp_path: Path) -> None:
    engine = bot.engine
    await stock_catalog(engine, tmp_path)
    out = console(engine)
    mod = bot.member("mia", role=Permission.MOD)
    ann = bot.member("ann")
    when = soon(3 * 24 * 60)
    added = await bot.ok(
        mod,
        f'/drop add jordan 4 pine green when:"{release_text(when, "America/New_York")}" '
        'retailers:"Nike SNKRS:app, Foot Locker:raffle" notes:"**limited** <b>"',
    )
    assert added.title is not None and added.title.startswith("✅ Drop #")
    [drop] = await drops(engine).upcoming()
    assert drop.name == PINE and drop.timezone == "America/New_York" and drop.retail_price == 225
    assert drop.release_at == when.replace(tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)
    await engine.bus.drain()
    assert f"[feed:drops] == 📅 {PINE} ==" in out.getvalue()

    await bot.ok(ann, "/settings timezone:Asia/Tokyo")
    listing = await bot.ok(ann, "/drops month")
    assert PINE in listing.text and "JST" in listing.text
    shown = await bot.ok(ann, f"/drop show {drop.id}")
    assert "Nike SNKRS" in shown.text and "\\*\\*limited\\*\\* \\<b>" in shown.text  # notes stay literal
    assert "JST" in shown.text

    await bot.fails(bot.member("bob", "discord"), f"/drop edit {drop.id} price:250")  # members cannot
    later = release_text(when + timedelta(hours=2), "America/New_York")
    edited = await bot.ok(mod, f'/drop edit {drop.id} when:"{later}" price:250')
    assert "Moved 2 hours later" in edited.text
    stored = await drops(engine).get(drop.id)
    assert stored.sequence == 1 and stored.retail_price == 250
    await engine.bus.drain()
    assert out.getvalue().count(f"== 📅 {PINE} ==") == 2  # the shell shows the update as a new post

    raffle = await bot.ok(
        mod,
        f'/drop raffle {drop.id} "Foot Locker" https://www.footlocker.com/raffle/1 '
        f"{release_text(when - timedelta(days=1))}",
    )
    assert "closing" in raffle.text
    await bot.fails(mod, f'/drop raffle {drop.id} "Foot Locker" "javascript:alert(1)"', "public http")
    await bot.fails(mod, f'/drop raffle {drop.id} "Kith" https://kith.com/r', "no retailer Kith")

    cancelled = await bot.ok(mod, f"/drop cancel {drop.id}")
    assert cancelled.title == f"❌ Drop #{drop.id} cancelled"
    assert (await drops(engine).get(drop.id)).status == CANCELLED
    await bot.fails(mod, f"/drop cancel {drop.id}", "already cancelled")
    await bot.fails(ann, f"/remind {drop.id}", "was cancelled")


async def test_bad_input_changes_nothing(bot: TestBot, tmp_path: Path) -> None:
    await stock_catalog(bot.engine, tmp_path)
    mod = bot.member("mia", role=Permission.MOD)
    base = "/drop add jordan 4 pine green retailers:Kith when:"
    later = soon(600)
    await bot.fails(mod, base + f'"{later.strftime("%Y-%m-%d %H:%M")}"', "add the time zone")
    await bot.fails(mod, base + '"2020-01-01 10:00 UTC"', "has passed")
    await bot.fails(
        mod, f'/drop add jordan 4 pine green when:"{release_text(later)}" retailers:"Bob:fcfs"', "unknown retailer"
    )
    await bot.fails(mod, f'/drop add dunk low when:"{release_text(later)}" retailers:Kith', "Which pair?")
    await bot.fails(mod, "/drop edit 999 price:100", "No drop #999")
    assert await drops(bot.engine).upcoming(include_cancelled=True) == []


async def test_proposals_from_the_catalog_and_monitors(bot: TestBot, tmp_path: Path) -> None:
    engine = bot.engine
    release_day = (utcnow() + timedelta(days=10)).date().isoformat()
    await stock_catalog(engine, tmp_path, future_release=release_day)
    service = drops(engine)
    assert await service.propose_from_catalog() == 1
    assert await service.propose_from_catalog() == 0  # proposed once
    await engine.bus.publish(
        EVENT_TOPIC,
        {
            "event_id": "e1",
            "kind": "new",
            "monitor_id": 3,
            "store": "kith.com",
            "product": {
                "id": "p9",
                "title": "Jordan 1 High Future",
                "brand": "Jordan",
                "url": "https://kith.com/p9",
                "tags": [f"release:{release_day}"],
            },
            "price": 180.0,
        },
    )
    await engine.bus.drain()
    mod = bot.member("mia", role=Permission.MOD)
    listing = await bot.ok(mod, "/drop proposals")
    assert "Nike Dunk Low Future Panda" in listing.text and "Jordan 1 High Future" in listing.text
    by_name = {p.name: p.id for p in await service.proposals()}
    catalog_id, monitor_id = by_name["Nike Dunk Low Future Panda"], by_name["Jordan 1 High Future"]
    confirmed = await bot.press(mod, listing, f"Confirm {catalog_id}")
    assert confirmed.title == f"✅ Proposal {catalog_id} confirmed"
    again = await bot.press(mod, listing, f"Confirm {catalog_id}")
    assert "already confirmed" in again.text  # a stale button
    rejected = await bot.ok(mod, f"/drop reject {monitor_id}")
    assert rejected.title == f"🚫 Proposal {monitor_id} rejected"
    await bot.fails(bot.member("ann", "discord"), f"/drop confirm {monitor_id}")
    async with engine.db.read() as session:
        proposal = await session.get(DropProposal, catalog_id)
        assert proposal is not None and proposal.drop_id is not None
        drop = await session.get(Drop, proposal.drop_id)
        assert drop is not None and drop.name == "Nike Dunk Low Future Panda"
