"""A three-way trade from listings to reviews on the neutral test bot, on SQLite and PostgreSQL:
the matcher proposes, everyone accepts by button, the items are marked sent and received, reviews
are saved once each and a good one earns LACES."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.economy import EconomyRuntime
from bot.trades import Trades
from bot.trades.proposals import run_solver
from core.commands import Permission
from core.errors import ConfigError
from core.markup import escape
from tests.testbot import TestBot
from tests.trades.helpers import FOG, FRESH_OK, PINE, ZEBRA, dms, list_cycle, stock


async def _bot(make_bot: Any, tmp_path: Path, **sections: dict[str, Any]) -> TestBot:
    bot: TestBot = await make_bot(**{**FRESH_OK, **sections})
    await stock(bot.engine, tmp_path)
    for name in ("alice", "bob", "carol"):
        bot.member(name)
    bot.member("admin", role=Permission.ADMIN)
    return bot


async def test_three_way_trade_end_to_end(make_bot: Any, tmp_path: Path) -> None:
    bot = await _bot(make_bot, tmp_path)
    await list_cycle(bot)
    ids = {name: await bot.member_id(name) for name in ("alice", "bob", "carol")}

    ran = await bot.ok("admin", "/trades match")
    assert "Proposed 1 trade(s): #1" in ran.text
    assert "No new trades" in (await bot.ok("admin", "/trades match")).text  # its haves are taken

    proposal = (await dms(bot.engine, ids["alice"], "proposal"))[0]
    assert proposal.title == "🔁 Trade proposal #1"
    fields = {field.name: field.value for field in proposal.fields}
    assert f"**{PINE}** · size 10 · deadstock → to **carol**" in fields["You give"]
    assert f"**{ZEBRA}** · size 10 · very near deadstock · “worn once” from **bob** (0 trades" in fields["You get"]
    assert [b.label for b in proposal.buttons] == ["✅ Accept", "❌ Decline"]

    first = await bot.press("alice", proposal, "✅ Accept")
    assert first.title == "✅ Accepted" and "**bob**" in first.text and "**carol**" in first.text
    again = await bot.press("alice", proposal, "✅ Accept")
    assert again.title == "👍 Already accepted"
    await bot.fails("alice", "/trades accept 2", "You have no trade proposal #2")
    await bot.ok("bob", "/trades accept 1")
    opened = await bot.ok("carol", "/trades accept 1")
    assert opened.title == "🤝 Accepted: the trade is on"
    await bot.fails("carol", "/trades decline 1", "is closed")

    open_dm = (await dms(bot.engine, ids["bob"], "open"))[0]
    assert [b.label for b in open_dm.buttons] == ["📦 Sent", "📬 Received", "⚠️ Dispute"]
    await bot.fails("alice", "/trades review 1 5", "isn't complete yet")
    await bot.fails("alice", "/trades met 1", "ships by post")
    for name in ("alice", "bob", "carol"):
        await bot.press(name, open_dm, "📦 Sent")
    assert (await bot.press("alice", open_dm, "📦 Sent")).title == "👍 Already marked"
    await bot.ok("alice", "/trades received 1")
    await bot.ok("bob", "/trades received 1")
    done = await bot.ok("carol", "/trades received 1")
    assert done.title == "✅ Trade complete"

    completed = (await dms(bot.engine, ids["alice"], "done"))[0]
    assert "**bob**" in completed.text
    reviewed = await bot.press("alice", completed, "⭐⭐⭐⭐⭐")
    assert "for **bob** on trade #1" in reviewed.text and "earned LACES" in reviewed.text
    await bot.fails("alice", "/trades review 1 4", "already reviewed trade #1")
    stranger = bot.member("dave")
    await bot.fails(stranger, "/trades review 1 1", "You weren't in trade #1")
    await bot.ok("bob", "/trades review 1 4 smooth **trade** <b>")
    await bot.ok("carol", "/trades review 1 2")

    noted = {field.name: field.value for field in (await bot.ok("alice", "/rep @carol")).fields}
    assert noted["Latest notes"] == f"★★★★ “{escape('smooth **trade** <b>')}”"
    rep = await bot.ok("carol", "/rep @bob")
    values = {field.name: field.value for field in rep.fields}
    assert values["Completed trades"] == "1" and values["Average review"].startswith("★5.00 from 1 review")
    reputation = await bot.engine.service(Trades).reputation(ids["alice"])
    assert reputation.completed_trades == 1 and reputation.average_review == 2.0 and reputation.score == 0.5
    economy = bot.engine.service(EconomyRuntime).economy
    assert (await economy.balance(ids["bob"])) == 25
    assert (await economy.balance(ids["carol"])) == 25  # bob reviewed carol, who sent him his pair: four stars
    assert (await economy.balance(ids["alice"])) == 0  # carol gave alice two stars

    listings = await bot.engine.service(Trades).listings()
    assert listings == []  # traded haves are gone and fulfilled wants with them


async def test_decline_excludes_the_edge_and_others_are_told(make_bot: Any, tmp_path: Path) -> None:
    bot = await _bot(make_bot, tmp_path)
    await list_cycle(bot)
    trades = bot.engine.service(Trades)
    assert await run_solver(trades, force=True) == [1]
    await bot.ok("alice", "/trades accept 1")
    declined = await bot.ok("bob", "/trades decline 1")
    assert declined.title == "❌ Declined"
    alice = await bot.member_id("alice")
    off = (await dms(bot.engine, alice, "closed"))[0]
    assert off.title == "🚫 Trade proposal #1 is off" and "declined" in off.text
    late = await bot.fails("carol", "/trades accept 1")
    assert "closed: a member declined it" in late.text
    assert await run_solver(trades, force=True) == []  # bob is not offered carol's pair again
    bot.member("dave")
    await bot.ok("dave", f'/have add "{ZEBRA}" 10')
    await bot.ok("dave", f'/want add "{FOG}" 10')
    assert await run_solver(trades, force=True) == [2]  # the same cycle with dave in bob's place
    dave = await bot.member_id("dave")
    assert (await dms(bot.engine, dave, "proposal"))[0].title == "🔁 Trade proposal #2"


def test_config_names_missing_feeds_and_earn_rules(make_config: Any) -> None:
    with pytest.raises(ConfigError, match=r"\[trades\] dispute_feed: no feed named 'mods'"):
        make_config(trades={"dispute_feed": "mods"})
    with pytest.raises(ConfigError, match=r"\[trades\] earn_kind: no \[economy.earn.nope\] rule"):
        make_config(trades={"earn_kind": "nope"})
    with pytest.raises(ConfigError, match="at least 2 members"):
        make_config(trades={"max_cycle": 1})


async def test_rep_shows_legit_check_accuracy_when_that_feature_runs(make_bot: Any, tmp_path: Path) -> None:
    bot = await _bot(make_bot, tmp_path)
    from bot.legitcheck.service import LegitChecks

    if not bot.engine.has_service(LegitChecks):
        pytest.skip("the legitcheck slice is not registered")
    from bot.legitcheck.models import LcVoter

    alice = await bot.member_id("alice")
    assert "Legit-check accuracy" not in (await bot.ok("bob", "/rep @alice")).plain_text()
    async with bot.engine.db.transaction() as session:
        session.add(LcVoter(member_id=alice, agreed=3, disagreed=1, gold_right=0, gold_wrong=0, barred=False))
    assert "Legit-check accuracy: 75%" in (await bot.ok("bob", "/rep @alice")).plain_text()
