"""Group drops on SQLite and PostgreSQL: scheduling and its bad input, the race for limited stock
(with concurrent checkouts that must not oversell), results on the feed, winners paid once, and
drops that survive a restart and are opened by exactly one of several processes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.cop import Cop
from bot.cop.models import CopEntry
from bot.cop.pairs import Pair
from bot.economy import EconomyRuntime
from core.commands import Permission
from core.errors import ConfigError
from core.replies import Reply
from core.storage.models import Member
from tests.account.links import confirm_link
from tests.cop.helpers import (
    balance,
    clocked,
    drop_messages,
    drop_row,
    entries,
    feed_posts,
    latest_drop,
    open_now,
    sections,
)
from tests.testbot import TestBot, is_error


async def _bot(make_bot: Any, **cop: Any) -> TestBot:
    bot: TestBot = await make_bot(**sections(**cop))
    bot.member("boss", "shell")
    for name in ("alice", "bob", "carol", "dave"):
        bot.member(name, "shell", external_id=f"as:{name}")
    return bot


async def _ready(bot: TestBot, who: str, live: Reply, size: str) -> str:
    sized = await bot.press(who, live, size)
    carted = await bot.press(who, sized, "Add to cart")
    shown = await bot.press(who, carted, "Checkout")
    return shown.text.rsplit("/cop confirm ", 1)[1].strip("`")


async def test_admins_schedule_and_the_first_checkouts_win(make_bot: Any) -> None:
    bot = await _bot(make_bot)
    cop, clock = clocked(bot.engine)
    posts = feed_posts(bot.engine)
    await bot.fails("alice", "/cop schedule 2 10m", "admin")
    scheduled = await bot.ok("boss", "/cop schedule 2 10m")
    drop = await latest_drop(bot.engine)
    assert f"Cop drop #{drop.id} scheduled" in (scheduled.title or "")
    await bot.engine.bus.drain()
    assert [p.title for p in posts] == [f"⏰ Cop drop #{drop.id}: {drop.pair}"]
    listed = await bot.ok("alice", "/cop drops")
    assert f"#{drop.id}" in listed.text

    await bot.fails("alice", f"/cop size {drop.id} 10", "hasn't opened yet")
    await open_now(bot.engine, clock, drop.id)
    await bot.engine.bus.drain()
    live = posts[-1]
    assert (live.title or "").startswith("🔥 LIVE") and "first 2 confirmed checkouts win" in live.text

    racers = (("alice", "US 9"), ("bob", "US 10"), ("carol", "US 10"))
    codes = {name: await _ready(bot, name, live, size) for name, size in racers}
    clock.advance(3)
    won = await bot.ok("bob", f"/cop confirm {codes['bob']}")
    assert "#1 of 2" in (won.title or "")
    clock.advance(1)
    await bot.ok("alice", f"/cop confirm {codes['alice']}")
    lost = await bot.ok("carol", f"/cop confirm {codes['carol']}")
    assert lost.title == "😞 Sold out" and "all 2 pairs went" in lost.text
    await bot.fails("dave", f"/cop size {drop.id} 10", "Sold out: all 2 pairs")

    after = await drop_row(bot.engine, drop.id)
    assert (after.status, after.remaining) == ("closed", 0) and after.settled_at is not None
    outcomes = {e.member_id: (e.outcome, e.position) for e in await entries(bot.engine, drop.id)}
    ids = {name: await bot.member_id(name) for name in ("alice", "bob", "carol")}
    assert outcomes == {ids["bob"]: ("won", 1), ids["alice"]: ("won", 2), ids["carol"]: ("sold_out", None)}

    await bot.engine.bus.drain()
    results = posts[-1]
    assert (results.title or "").startswith(f"🏁 Cop drop #{drop.id} results")
    winners = results.fields[0].value.splitlines()
    assert winners[0].startswith("1. bob · US 10 · ") and winners[0].endswith(" s · +20 LACES")
    assert winners[1].startswith("2. alice · US 9 · ")
    times = {e.member_id: e.elapsed_ms or 0 for e in await entries(bot.engine, drop.id)}
    assert 3000 <= times[ids["bob"]] <= times[ids["alice"]] - 1000  # timed from the opening, on the server
    assert "3 entrants" in results.text
    assert (await balance(bot.engine, ids["bob"]), await balance(bot.engine, ids["carol"])) == (20, 0)

    # a second settle, a sweep in another process or a replayed earn pays nobody twice
    assert await cop.settle(drop.id) == 0
    await cop.sweep()
    economy = bot.engine.service(EconomyRuntime).economy
    economy_paid = await economy.earn("cop_win", ids["bob"], f"cop-drop-{drop.id}")
    assert economy_paid is not None and economy_paid.replayed
    assert await balance(bot.engine, ids["bob"]) == 20
    await bot.engine.bus.drain()
    assert sum(1 for p in posts if (p.title or "").startswith("🏁")) == 1


async def test_a_drop_that_closes_with_stock_left_settles_at_the_sweep(make_bot: Any) -> None:
    bot = await _bot(make_bot, group_window_s=60)
    cop, clock = clocked(bot.engine)
    posts = feed_posts(bot.engine)
    await bot.ok("boss", "/cop schedule 3 2m")
    drop = await latest_drop(bot.engine)
    await open_now(bot.engine, clock, drop.id)
    await bot.engine.bus.drain()
    code = await _ready(bot, "alice", posts[-1], "US 8")
    late_code = await _ready(bot, "bob", posts[-1], "US 8")
    await bot.ok("alice", f"/cop confirm {code}")
    clock.advance(61)
    await cop.sweep()
    await bot.fails("bob", f"/cop confirm {late_code}", "closed at")
    await bot.fails("carol", f"/cop size {drop.id} 8", f"Drop #{drop.id} closed at")
    await bot.engine.bus.drain()
    assert "Closed with 2 of 3 pairs left" in posts[-1].text
    outcomes = sorted(str(e.outcome) for e in await entries(bot.engine, drop.id))
    assert outcomes == ["late", "won"]


async def test_bad_schedules_get_a_clear_answer_and_change_nothing(make_bot: Any) -> None:
    bot = await _bot(make_bot)
    cases = [
        ("/cop schedule 2 2026-12-01T18:00", "has no time zone"),
        ("/cop schedule 2 2020-01-01T18:00Z", "is in the past"),
        ("/cop schedule 2 30s", "at least a minute"),
        ("/cop schedule 2 999d", "within 30 days"),
        ("/cop schedule 2 tomorrow", "isn't a time"),
        ("/cop schedule 2 2026-12-01T18:00[Mars/Olympus]", "unknown timezone"),
        ("/cop schedule 0 10m", "at least 1"),
        ("/cop schedule 101 10m", "Stock must be 1 to 100"),
        ("/cop schedule 2 10m qqqqzzzz", "Nothing in the catalog"),
        ("/cop cancel 77", "No cop drop #77"),
        ("/cop payout 2099-01", "runs until"),
        ("/cop tournament 11-2026", "like `2026-11`"),
    ]
    for line, message in cases:
        await bot.fails("boss", line, message)
    async with bot.engine.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(CopEntry)) == 0
    assert await bot.engine.service(Cop).upcoming() == []


async def test_a_named_zone_and_an_offset_name_the_same_moment(make_bot: Any) -> None:
    bot = await _bot(make_bot, max_schedule_days=365)
    moment = (datetime.now(UTC) + timedelta(days=40)).replace(hour=18, minute=0, second=0, microsecond=0)
    local = moment.astimezone(ZoneInfo("Europe/London")).replace(tzinfo=None)
    named = await bot.ok("boss", f"/cop schedule 1 {local.isoformat(timespec='minutes')}[europe/london]")
    offset = await bot.ok("boss", f"/cop schedule 1 {moment.isoformat(timespec='minutes')}")
    stamp = f"<t:{int(moment.timestamp())}:f|{moment.strftime('%a %-d %b %Y %H:%M:%S')} UTC>"
    assert stamp in named.text and stamp in offset.text


async def test_admins_cancel_a_drop_and_its_buttons_say_so(make_bot: Any) -> None:
    bot = await _bot(make_bot)
    posts = feed_posts(bot.engine)
    await bot.ok("boss", "/cop schedule 2 10m")
    drop = await latest_drop(bot.engine)
    await bot.ok("boss", f"/cop cancel {drop.id}")
    await bot.fails("boss", f"/cop cancel {drop.id}", "already cancelled")
    await bot.fails("alice", f"/cop size {drop.id} 10", "was cancelled")
    await bot.engine.bus.drain()
    assert posts[-1].title == f"❌ Cop drop #{drop.id} cancelled"


async def test_concurrent_checkouts_never_oversell(make_bot: Any) -> None:
    """Twelve members confirm at the same moment for three pairs, each request on its own database
    connection: exactly three win, in places 1 to 3, and the stock ends at zero."""
    bot = await _bot(make_bot)
    cop, clock = clocked(bot.engine)
    boss = await bot.resolve("boss")
    drop = await cop.schedule_group(boss, clock() + timedelta(minutes=5), 3, Pair("Test Pair", ("10",)))
    await open_now(bot.engine, clock, drop.id)
    racers: list[tuple[Member, str]] = []
    for n in range(12):
        bot.member(f"r{n}", "shell", external_id=f"as:r{n}")
        member = await bot.resolve(f"r{n}")
        await cop.pick_size(member, drop.id, "10")
        await cop.add_to_cart(member, drop.id)
        step = await cop.checkout(member, drop.id)
        assert step.entry.code is not None
        racers.append((member, step.entry.code))
    # one member also double-submits: two confirms of the same entry at once
    doubled = racers[0]
    results = await asyncio.gather(
        *(cop.confirm(member, code) for member, code in [*racers, doubled]), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 1 and "already checked out" in str(refused[0])
    rows = await entries(bot.engine, drop.id)
    winners = sorted(e.position for e in rows if e.outcome == "won" and e.position is not None)
    assert winners == [1, 2, 3]
    assert sorted(str(e.outcome) for e in rows).count("sold_out") == 9
    after = await drop_row(bot.engine, drop.id)
    assert (after.remaining, after.status) == (0, "closed")


async def test_two_processes_open_a_drop_once_and_a_restart_keeps_it(make_bot: Any, database: Any) -> None:
    first = await _bot(make_bot)
    clocked(first.engine)
    await first.ok("alice", "/cop practice")
    drop = await latest_drop(first.engine)
    await first.engine.stop_work()  # the process goes away before the drop opens

    second: TestBot = await make_bot(**sections())
    third: TestBot = await make_bot(**sections())
    cop_b, clock_b = clocked(second.engine)
    cop_c, clock_c = clocked(third.engine)
    jobs = second.engine.scheduler._scheduler  # type: ignore[attr-defined]
    assert jobs.get_job(f"cop.open.{drop.id}") is not None  # re-armed from the database at start
    for clock in (clock_b, clock_c):
        clock.offset += drop.opens_at - clock() + timedelta(seconds=1)
    opened = await asyncio.gather(cop_b.open_due(), cop_c.open_due(), cop_b.open_due(), cop_c.open_due())
    assert sum(opened) == 1
    assert len(await drop_messages(second.engine)) == 1
    assert (await drop_row(second.engine, drop.id)).status == "open"


async def test_members_of_a_foreign_role_cannot_schedule(make_bot: Any) -> None:
    bot = await _bot(make_bot)
    bot.member("modder", "discord", Permission.MOD)
    reply = await bot.say("modder", "/cop schedule 2 10m")
    assert is_error(reply) and "admin" in reply.plain_text()


async def test_a_feed_that_isnt_configured_is_a_clear_answer(make_bot: Any, make_config: Any, tmp_path: Any) -> None:
    feeds = {"names": ["restocks", "drops", "raffles"]}
    with pytest.raises(ConfigError, match=r"\[cop\] feed: no feed named 'cop'"):
        make_config(feeds=feeds)  # bot.toml names the cop feed, so it must exist
    with pytest.raises(ConfigError, match=r"\[cop\] earn_kind: no \[economy.earn.cop_winner\] rule"):
        make_config(cop={"earn_kind": "cop_winner"})
    (tmp_path / "bot.toml").write_text("[bot]\n", encoding="utf-8")  # a config without a [cop] section
    bot: TestBot = await make_bot(feeds=feeds)
    bot.member("boss", "shell")
    await bot.fails("boss", "/cop schedule 2 10m", "isn't configured: add it to [feeds] names")
    assert await bot.engine.service(Cop).upcoming() == []


async def test_link_moves_entries_except_where_both_accounts_entered(make_bot: Any) -> None:
    bot = await _bot(make_bot)
    bot.member("alice_d", "discord")
    bot.member("alice_tg", "telegram")
    cop, clock = clocked(bot.engine)
    boss = await bot.resolve("boss")
    both = await cop.schedule_group(boss, clock() + timedelta(minutes=2), 5, Pair("Shared Pair", ("10",)))
    await open_now(bot.engine, clock, both.id)
    for name in ("alice_d", "alice_tg"):
        await cop.pick_size(await bot.resolve(name), both.id, "10")
    only_tg = await cop.schedule_group(boss, clock() + timedelta(minutes=2), 5, Pair("Other Pair", ("9",)))
    await open_now(bot.engine, clock, only_tg.id)
    await cop.pick_size(await bot.resolve("alice_tg"), only_tg.id, "9")
    absorbed = await bot.member_id("alice_tg")

    code = (await bot.ok("alice_d", "/link")).text.split("**")[1]
    await bot.ok("alice_tg", f"/link {code}")
    await confirm_link(bot.engine, bot["alice_d"].caller)
    survivor = await bot.member_id("alice_d")
    assert {e.member_id for e in await entries(bot.engine, only_tg.id)} == {survivor}
    assert sorted(e.member_id for e in await entries(bot.engine, both.id)) == sorted([survivor, absorbed])


async def test_a_member_at_checkout_in_two_drops_confirms_the_one_whose_code_they_type(make_bot: Any) -> None:
    bot = await _bot(make_bot)
    cop, clock = clocked(bot.engine)
    alice = await bot.resolve("alice")
    practice = await cop.start_practice(alice, "shell", Pair("Practice Pair", ("10",)))
    group = await cop.schedule_group(await bot.resolve("boss"), clock() + timedelta(seconds=30), 1, Pair("G", ("9",)))
    codes = {}
    for drop, size in ((practice, "10"), (group, "9")):
        await open_now(bot.engine, clock, drop.id)
        await cop.pick_size(alice, drop.id, size)
        await cop.add_to_cart(alice, drop.id)
        codes[drop.id] = (await cop.checkout(alice, drop.id)).entry.code
    first = await bot.ok("alice", f"/cop confirm {codes[practice.id]}")  # the older entry's code
    assert (first.title or "").startswith("✅ Checked out in")
    (waiting,) = await entries(bot.engine, group.id)
    assert (waiting.step, waiting.wrong_codes) == ("confirm", 0)
    won = await bot.ok("alice", f"/cop confirm {codes[group.id]}")
    assert "#1 of 1" in (won.title or "")
