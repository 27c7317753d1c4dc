"""The rules around the happy path, on SQLite and PostgreSQL: bad listings are refused and change
nothing, the matcher honours blocks, minimum reputation, value balance and the cycle cap, solves are
debounced and leased, deadlines expire proposals, a member who leaves or is merged away voids what
they were in, disputes reach the mods with the history, and reputation can't be farmed."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select, update

from bot.economy import EconomyRuntime
from bot.market import Market
from bot.trades import MEMBER_REMOVED_TOPIC, Trades
from bot.trades.matching import claim, release
from bot.trades.models import TradeEvent, TradeExclusion, TradeHave, TradeProposal, TradeSolver
from bot.trades.proposals import expire_due, run_solver
from core.commands import Permission
from core.storage.types import utcnow
from tests.testbot import TestBot
from tests.trades.helpers import FOG, FRESH_OK, PINE, ZEBRA, age, dms, list_cycle, stock


async def _bot(make_bot: Any, tmp_path: Path, trades: dict[str, Any] | None = None, **sections: Any) -> TestBot:
    bot: TestBot = await make_bot(**{**FRESH_OK, **sections, "trades": {**FRESH_OK["trades"], **(trades or {})}})
    await stock(bot.engine, tmp_path)
    for name in ("alice", "bob", "carol", "dave"):
        bot.member(name)
    bot.member("mod", role=Permission.MOD)
    return bot


async def _trade(bot: TestBot, trade: int) -> None:
    """Everyone accepts proposal ``trade``, ships and receives."""
    for name in ("alice", "bob", "carol"):
        await bot.ok(name, f"/trades accept {trade}")
    for name in ("alice", "bob", "carol"):
        await bot.ok(name, f"/trades sent {trade}")
        await bot.ok(name, f"/trades received {trade}")


async def _catalog_id(bot: TestBot, name: str) -> int:
    product = (await bot.engine.service(Market).resolve(name)).product
    assert product is not None
    return product.id


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


async def test_bad_listings_are_refused_and_change_nothing(make_bot: Any, tmp_path: Path) -> None:
    bot = await _bot(make_bot, tmp_path)
    trades = bot.engine.service(Trades)
    await bot.fails("alice", "/have add flying saucer 10", "No single catalog pair matches “flying saucer”")
    await bot.fails("alice", "/have add jordan 4", "Did you mean")
    await bot.fails("alice", f'/have add "{PINE}" 30', "`size`: `30`: men's US sizes run from 1 to 22")
    await bot.fails("alice", f'/have add "{PINE}" size:AU10', "unknown size system")
    await bot.fails("alice", f'/have add "{PINE}" 10 condition:mint', "use ds (new), vnds or used")
    await bot.fails("alice", f'/want add "{ZEBRA}"', "a want needs at least one size")
    await bot.fails("alice", f'/want add "{ZEBRA}" sizes:", ,"', "a want needs at least one size")
    await bot.fails("alice", f'/have add "{PINE}" 10 local:5000', "`local`: must be at most 2,000")
    assert await trades.listings() == []

    line = f'/have add "{PINE}" W 11.5 vnds note:"**box** `gone`"'
    added = await bot.ok("alice", line, attachments=[("p.png", _png())])
    assert "size 10 · very near deadstock · for trade · 📷 1 · “\\*\\*box\\*\\* \\`gone\\`”" in added.text
    shown = await bot.ok("bob", "/have photos 1")
    assert len(shown.images) == 1 and shown.images[0].data.startswith(b"\xff\xd8")  # the display JPEG
    await bot.fails("bob", "/have remove 1", "You have no open listing #1")
    await bot.fails("bob", "/have edit 1 note:mine", "You have no open listing #1")
    await bot.fails("alice", "/want remove 9", "You have no want #9")
    await bot.ok("alice", f'/want add "{ZEBRA}" 10, 10.5 $300')
    (want,) = [item for item in await trades.listings([await bot.member_id("alice")]) if item.kind == "want"]
    assert want.sizes == ("10", "10.5") and want.price == 300
    await bot.ok("alice", f'/have accepts 1 "{FOG}" 9')
    async with bot.engine.db.read() as session:
        have = await session.get(TradeHave, 1)
    assert have is not None and have.accepts == [{"item": await _catalog_id(bot, FOG), "size": "9"}]
    assert (await bot.ok("alice", "/have accepts 1 none")).title == "✏️ Accept list cleared"
    sale = await bot.ok("bob", f'/have add "{ZEBRA}" 10 $280')
    assert "for sale $280" in sale.text
    wanted = await bot.ok("carol", f'/want add "{ZEBRA}" sizes:"EU 44" max_price:300')
    assert "For sale now:\n#2 **adidas Yeezy Boost 350 V2 Zebra** · size 10 · deadstock · for sale $280" in wanted.text
    assert "For sale" not in (await bot.ok("dave", f'/want add "{ZEBRA}" 10 $250')).text


async def test_listing_event_for_followers(make_bot: Any, tmp_path: Path) -> None:
    bot = await _bot(make_bot, tmp_path)
    seen: list[dict[str, Any]] = []

    async def listen(_topic: str, payload: dict[str, Any]) -> None:
        seen.append(payload)

    bot.engine.bus.subscribe("trades.listing", listen)
    await bot.ok("alice", f'/have add "{PINE}" 10 $300')
    await bot.engine.bus.drain()
    alice = await bot.member_id("alice")
    assert seen == [{"listing_id": 1, "member_id": alice, "kind": "sale", "item": PINE,
                     "catalog_id": await _catalog_id(bot, PINE),
                     "size": "10", "price": 300.0}]  # fmt: skip


async def test_blocks_minimum_reputation_value_and_cap(make_bot: Any, tmp_path: Path) -> None:
    bot = await _bot(make_bot, tmp_path)
    trades = bot.engine.service(Trades)
    await list_cycle(bot)
    await bot.ok("alice", "/trades block @carol")
    assert await run_solver(trades, force=True) == []
    await bot.ok("alice", "/trades unblock @carol")
    await bot.ok("bob", "/trades minrep 1")
    assert await run_solver(trades, force=True) == []
    await bot.ok("bob", "/trades minrep 0")
    await bot.fails("bob", "/trades block @bob", "can't block yourself")
    assert await run_solver(trades, force=True) == [1]


async def test_value_balance(make_bot: Any, tmp_path: Path) -> None:
    # retail (no sales recorded): Pine Green 225, Zebra 220, Grey Fog 100: Grey Fog is far from both
    bot = await _bot(make_bot, tmp_path, trades={"value_balance_pct": 10})
    await list_cycle(bot)
    assert await run_solver(bot.engine.service(Trades), force=True) == []
    await bot.ok("dave", f'/have add "{ZEBRA}" 10')
    await bot.ok("dave", f'/want add "{PINE}" 10')
    await bot.ok("alice", f'/have add "{PINE}" 10.5')
    assert await run_solver(bot.engine.service(Trades), force=True) == [1]  # 225 against 220: within 10%


async def test_cycle_cap(make_bot: Any, tmp_path: Path) -> None:
    bot = await _bot(make_bot, tmp_path, trades={"max_cycle": 2})
    await list_cycle(bot)
    assert await run_solver(bot.engine.service(Trades), force=True) == []


async def test_solves_are_debounced_and_leased(make_bot: Any, tmp_path: Path) -> None:
    bot = await _bot(make_bot, tmp_path, trades={"debounce_seconds": 3600})
    trades = bot.engine.service(Trades)
    await list_cycle(bot)
    assert await run_solver(trades) == []  # due in an hour
    held = await claim(trades, force=True)
    assert held is not None
    assert await claim(trades, force=True) is None  # another process holds the lease
    assert await run_solver(trades, force=True) == []
    await release(trades, held[0], None)
    async with bot.engine.db.transaction() as session:
        await session.execute(update(TradeSolver).values(due_at=utcnow() - timedelta(seconds=1)))
    assert await run_solver(trades) == [1]  # due now, and nobody holds the lease
    assert await run_solver(trades) == []  # solved: nothing changed since


async def test_deadline_expires_and_late_answers_are_told(make_bot: Any, tmp_path: Path) -> None:
    bot = await _bot(make_bot, tmp_path)
    trades = bot.engine.service(Trades)
    await list_cycle(bot)
    assert await run_solver(trades, force=True) == [1]
    await bot.ok("alice", "/trades accept 1")
    async with bot.engine.db.transaction() as session:
        await session.execute(update(TradeProposal).values(deadline=utcnow() - timedelta(minutes=1)))
    late = await bot.fails("bob", "/trades accept 1", "its deadline passed")
    assert "Nothing was changed" in late.text
    assert await expire_due(trades) == 0  # the late answer closed it already
    alice = await bot.member_id("alice")
    assert (await dms(bot.engine, alice, "closed"))[0].title == "🚫 Trade proposal #1 is off"
    async with bot.engine.db.read() as session:
        excluded = (await session.execute(select(TradeExclusion.member_id))).scalars().all()
    assert sorted(excluded) == sorted([await bot.member_id("bob"), await bot.member_id("carol")])

    await bot.ok("dave", f'/have add "{ZEBRA}" 10')
    await bot.ok("dave", f'/want add "{FOG}" 10')
    await bot.ok("carol", f'/want add "{ZEBRA}" 10')
    assert await run_solver(trades, force=True) == [2]
    async with bot.engine.db.transaction() as session:
        await session.execute(update(TradeProposal).where(TradeProposal.id == 2)
                              .values(deadline=utcnow() - timedelta(minutes=1)))  # fmt: skip
    assert await expire_due(trades) == 1


async def test_a_member_who_leaves_voids_the_proposal(make_bot: Any, tmp_path: Path) -> None:
    bot = await _bot(make_bot, tmp_path)
    trades = bot.engine.service(Trades)
    await list_cycle(bot)
    assert await run_solver(trades, force=True) == [1]
    await bot.ok("alice", "/trades accept 1")
    removed = await bot.ok("mod", "/trades remove @bob banned for scamming")
    assert "1 proposal(s) voided" in removed.text
    await bot.fails("alice", "/trades accept 1", "closed: it was withdrawn")
    await bot.fails("bob", "/trades accept 1", "closed")
    carol = await bot.member_id("carol")
    assert "banned for scamming" in (await dms(bot.engine, carol, "closed"))[0].text
    bob = await bot.member_id("bob")
    assert [item for item in await trades.listings() if item.member_id == bob] == []
    assert await run_solver(trades, force=True) == []

    await bot.ok("dave", f'/have add "{ZEBRA}" 10')
    await bot.ok("dave", f'/want add "{FOG}" 10')
    assert await run_solver(trades, force=True) == [2]
    await bot.engine.bus.publish(MEMBER_REMOVED_TOPIC, {"member_id": await bot.member_id("dave"), "reason": "left"})
    await bot.engine.bus.drain()
    await bot.fails("alice", "/trades accept 2", "withdrawn")


async def test_a_merge_voids_live_proposals_and_moves_listings(make_bot: Any, tmp_path: Path) -> None:
    bot = await _bot(make_bot, tmp_path)
    trades = bot.engine.service(Trades)
    await list_cycle(bot)
    assert await run_solver(trades, force=True) == [1]
    bot.member("bob_tg", "telegram")  # bob's Telegram account, linked into by /link
    bob, dave = await bot.member_id("bob"), await bot.member_id("bob_tg")
    async with bot.engine.db.transaction() as session:
        await bot.engine.identity.merge(session, dave, bob)
    await bot.fails("alice", "/trades accept 1", "withdrawn")
    mine = await trades.listings([dave])
    assert {item.kind for item in mine} == {"trade", "want"}
    assert await run_solver(trades, force=True) == [2]


async def test_dispute_reaches_the_mods_with_history(make_bot: Any, tmp_path: Path) -> None:
    bot = await _bot(make_bot, tmp_path)
    await list_cycle(bot)
    assert await run_solver(bot.engine.service(Trades), force=True) == [1]
    for name in ("alice", "bob", "carol"):
        await bot.ok(name, "/trades accept 1")
    await bot.ok("alice", "/trades sent 1")
    await bot.fails("dave", "/trades dispute 1", "You weren't in trade #1")
    sent = await bot.ok("carol", "/trades dispute 1 never got it **at all**")
    assert sent.title == "⚠️ Sent to the mods"
    await bot.fails("carol", "/trades received 1", "not in progress")
    await bot.fails(bot.member("guest", "telegram"), "/trades disputes", "mod")
    report = await bot.ok("mod", "/trades disputes")
    history = {field.name: field.value for field in report.fields}["History"]
    assert "disputed by **carol**: “never got it \\*\\*at all\\*\\*”" in history and "sent by **alice**" in history
    assert (await bot.ok("mod", "/trades resolve 1 cancelled refunded")).text == "Trade #1 is cancelled."
    await bot.fails("mod", "/trades resolve 1 completed", "is not disputed")
    assert len(await bot.engine.service(Trades).listings()) == 6  # everyone's listings are free again


async def test_new_accounts_add_no_reputation(make_bot: Any, tmp_path: Path) -> None:
    bot = await _bot(make_bot, tmp_path, trades={"min_account_age_days": 14})
    trades = bot.engine.service(Trades)
    bob = await bot.member_id("bob")
    await list_cycle(bot)  # brand-new accounts
    assert await run_solver(trades, force=True) == [1]
    await _trade(bot, 1)
    reviewed = await bot.ok("alice", "/trades review 1 5")
    assert "doesn't add to reputation" in reviewed.text
    fresh = await trades.reputation(bob)
    assert (fresh.completed_trades, fresh.all_trades, fresh.average_review, fresh.score) == (0, 1, None, 0.0)
    assert await bot.engine.service(EconomyRuntime).economy.balance(bob) == 0


async def test_repeat_trades_within_a_month_count_once(make_bot: Any, tmp_path: Path) -> None:
    bot = await _bot(make_bot, tmp_path, trades={"min_account_age_days": 14})
    trades = bot.engine.service(Trades)
    economy = bot.engine.service(EconomyRuntime).economy
    ids = {name: await bot.member_id(name) for name in ("alice", "bob", "carol")}
    for member in ids.values():
        await age(bot.engine, member, 40)
    await list_cycle(bot)
    assert await run_solver(trades, force=True) == [1]
    await _trade(bot, 1)
    await bot.ok("alice", "/trades review 1 5")
    counted = await trades.reputation(ids["bob"])
    assert (counted.completed_trades, counted.all_trades, counted.average_review, counted.score) == (1, 1, 5.0, 2.0)
    assert await economy.balance(ids["bob"]) == 25

    await list_cycle(bot)  # the same three again within 30 days: a repeat
    assert await run_solver(trades, force=True) == [2]
    await _trade(bot, 2)
    repeat = await bot.ok("alice", "/trades review 2 5")
    assert "doesn't add to reputation" in repeat.text
    again = await trades.reputation(ids["bob"])
    assert (again.completed_trades, again.all_trades, again.reviews) == (1, 2, 1)
    assert await economy.balance(ids["bob"]) == 25


async def test_meet_up_listings_match_within_their_radius(make_bot: Any, tmp_path: Path) -> None:
    bot = await _bot(make_bot, tmp_path)
    trades = bot.engine.service(Trades)
    if not trades.has_locations():
        pytest.skip("the scene slice (member locations) is not registered")
    from bot.scene.service import Scene

    scene = bot.engine.service(Scene)
    await bot.fails("alice", f'/have add "{PINE}" 10 local:50', "Set your city first")
    for name, city in (("alice", "New York"), ("bob", "Boston"), ("carol", "New York")):
        await scene.set_location(await bot.member_id(name), city)
    await bot.ok("alice", f'/have add "{PINE}" 10 local:50')
    await bot.ok("alice", f'/want add "{ZEBRA}" 10')
    await bot.ok("bob", f'/have add "{ZEBRA}" 10 local:50')
    await bot.ok("bob", f'/want add "{FOG}" 10')
    await bot.ok("carol", f'/have add "{FOG}" 10 local:50')
    await bot.ok("carol", f'/want add "{PINE}" 10')
    assert await run_solver(trades, force=True) == []  # Boston is ~300 km from New York
    await scene.set_location(await bot.member_id("bob"), "Newark, NJ, US")
    await bot.ok("bob", "/trades minrep 0")  # a change: the next solve sees bob's new place
    assert await run_solver(trades, force=True) == [1]
    await bot.fails("alice", "/trades sent 1", "not in progress")
    for name in ("alice", "bob", "carol"):
        await bot.ok(name, "/trades accept 1")
    await bot.fails("alice", "/trades sent 1", "is a meet-up")
    for name in ("alice", "bob"):
        await bot.ok(name, "/trades met 1")
    assert (await bot.ok("carol", "/trades met 1")).title == "✅ Trade complete"


async def test_concurrent_accepts_open_the_trade_once(make_bot: Any, tmp_path: Path) -> None:
    bot = await _bot(make_bot, tmp_path)
    await list_cycle(bot)
    assert await run_solver(bot.engine.service(Trades), force=True) == [1]
    replies = await asyncio.gather(*(bot.say(name, "/trades accept 1") for name in ("alice", "bob", "carol")))
    assert [reply.title for reply in replies].count("🤝 Accepted: the trade is on") == 1
    async with bot.engine.db.read() as session:
        proposal = await session.get(TradeProposal, 1)
        opened = await session.scalar(select(func.count()).where(TradeEvent.kind == "opened"))
    assert proposal is not None and proposal.status == "trading" and opened == 1
