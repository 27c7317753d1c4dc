"""/cop leaderboard and the monthly tournament, on SQLite and PostgreSQL: rankings by period, prizes
paid from the treasury through the ledger once the month is over, a short treasury paying nothing
until it can, and a repeated payout paying nobody twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from bot.cop import Cop
from bot.cop.pairs import Pair
from bot.cop.timing import month_of
from bot.economy import EconomyRuntime
from bot.economy.ledger import TransferRequest
from bot.economy.models import Transfer
from core.engine import Engine
from tests.cop.helpers import Clock, balance, clocked, open_now, sections
from tests.testbot import TestBot


async def _race(bot: TestBot, clock: Clock, stock: int, order: list[tuple[str, float]]) -> None:
    """A group drop of ``stock`` pairs; members check out in ``order``, each after the given seconds."""
    cop = bot.engine.service(Cop)
    boss = await bot.resolve("boss")
    drop = await cop.schedule_group(boss, clock() + timedelta(minutes=2), stock, Pair("Race Pair", ("10",)))
    await open_now(bot.engine, clock, drop.id)
    codes = {}
    for name, _ in order:
        member = await bot.resolve(name)
        await cop.pick_size(member, drop.id, "10")
        await cop.add_to_cart(member, drop.id)
        codes[name] = (member, (await cop.checkout(member, drop.id)).entry.code or "")
    for name, seconds in order:
        clock.advance(seconds)
        member, code = codes[name]
        await cop.confirm(member, code)


async def _bot(make_bot: Any, **cop: Any) -> TestBot:
    bot: TestBot = await make_bot(**sections(**cop))
    bot.member("boss", "shell")
    for name in ("alice", "bob", "carol"):
        bot.member(name, "shell", external_id=f"as:{name}")
        await bot.join(name)
    return bot


async def _fund_treasury(engine: Engine, amount: int) -> None:
    ledger = engine.service(EconomyRuntime).economy.ledger
    mint, shop = await ledger.system_account("mint"), await ledger.system_account("shop")
    funding = TransferRequest(key=f"test-fund-{amount}", debit=mint, credit=shop, amount=amount, kind="grant")
    assert (await ledger.transfer(funding)).posted


async def _prize_transfers(engine: Engine) -> int:
    query = select(func.count()).select_from(Transfer).where(Transfer.ref.startswith("cop:"))
    async with engine.db.read() as session:
        return int(await session.scalar(query) or 0)


async def test_the_leaderboard_ranks_best_times_by_period(make_bot: Any) -> None:
    bot = await _bot(make_bot)
    _cop, clock = clocked(bot.engine)
    clock.advance(-20 * 86400)  # three weeks ago: alice's fast run
    await _race(bot, clock, 3, [("alice", 1.0)])
    clock.offset = timedelta(0)
    await _race(bot, clock, 3, [("bob", 6.0), ("carol", 3.0)])

    week = await bot.ok("carol", "/cop leaderboard")
    lines = week.text.splitlines()
    assert lines[0].startswith("🥇 bob · best ") and "1 won" in lines[0]  # bob 6 s, carol 6 + 3 s
    assert lines[1].startswith("🥈 carol") and len(lines) == 2
    month = await bot.ok("carol", "/cop leaderboard month")
    assert month.text.splitlines()[0].startswith("🥇 alice")
    assert (await bot.ok("carol", "/cop leaderboard all")).text.count("\n") == 2
    await bot.fails("carol", "/cop leaderboard year", "week, month, all")
    assert "No practice runs of yours yet" in (week.footer or "")


async def test_a_finished_month_pays_its_prizes_once_from_the_treasury(make_bot: Any) -> None:
    bot = await _bot(make_bot, tournament_prizes=[100, 40])
    cop, clock = clocked(bot.engine)
    now = datetime.now(UTC)
    last_month = month_of(now.replace(day=1) - timedelta(days=1))
    start_of_last = datetime.strptime(last_month, "%Y-%m").replace(tzinfo=UTC)
    clock.offset = start_of_last + timedelta(days=3) - now  # races early last month
    await _race(bot, clock, 1, [("bob", 2.0), ("alice", 5.0), ("carol", 1.0)])  # bob wins; alice 7 s
    await _race(bot, clock, 2, [("carol", 2.0), ("bob", 1.0)])  # carol (2 s) and bob win
    await _race(bot, clock, 1, [("alice", 9.0)])  # alice wins
    standing = await bot.ok("alice", f"/cop tournament {last_month}")
    lines = standing.text.splitlines()
    assert lines[0].startswith("🥇 bob · 2 won") and "prize 100 LACES" in lines[0]
    assert lines[1].startswith("🥈 carol · 1 won") and "prize 40 LACES" in lines[1]  # carol beat alice's time
    assert lines[2].startswith("🥉 alice · 1 won") and "prize" not in lines[2]

    clock.offset = timedelta(0)
    await bot.fails("boss", f"/cop payout {month_of(now)}", "runs until")
    ids = {name: await bot.member_id(name) for name in ("alice", "bob", "carol")}
    before = {name: await balance(bot.engine, member) for name, member in ids.items()}

    short = await bot.ok("boss", f"/cop payout {last_month}")
    assert "Prizes not paid yet" in short.fields[0].value and "treasury holds 0" in short.fields[0].value
    assert await _prize_transfers(bot.engine) == 0

    await _fund_treasury(bot.engine, 500)
    paid = await bot.ok("boss", f"/cop payout {last_month}")
    assert paid.fields[0].value == "Prizes paid."
    await cop.sweep()  # the sweep's automatic payout of last month finds it paid
    again = await bot.ok("boss", f"/cop payout {last_month}")
    assert again.fields[0].value == "Prizes paid."
    after = {name: await balance(bot.engine, member) for name, member in ids.items()}
    assert {name: after[name] - before[name] for name in ids} == {"bob": 100, "carol": 40, "alice": 0}
    assert await _prize_transfers(bot.engine) == 2
    ledger = bot.engine.service(EconomyRuntime).economy.ledger
    assert await ledger.balance(await ledger.system_account("shop")) == 360


async def test_a_month_without_races_pays_nobody(make_bot: Any) -> None:
    bot = await _bot(make_bot)
    empty = await bot.ok("boss", "/cop payout 2025-01")
    assert empty.fields[0].value == "Nobody raced in a group drop that month."
    assert await _prize_transfers(bot.engine) == 0
