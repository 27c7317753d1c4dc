"""/link merges two members, and every slice moves its own per-member rows with them: nothing the
absorbed member owned is left where nobody can edit or delete it."""

from __future__ import annotations

import re

from sqlalchemy import select

from bot.alerts import AlertsRuntime
from bot.alerts.matcher import prepare_event
from bot.alerts.models import AlertPrefs, AlertRule
from bot.economy.models import Entitlement, RaffleEntry
from bot.economy.verify import verify
from core.engine import Engine
from core.identity import Caller
from core.replies import Reply
from tests.account.links import confirm_link
from tests.alerts.test_alerts import restock

DISCORD = Caller("discord", "7001", "sam")
TELEGRAM = Caller("telegram", "8001", "sam_tg")
ADMIN = Caller("shell", "local", "admin")


async def ok(engine: Engine, caller: Caller, line: str) -> Reply:
    reply = await engine.dispatch_line(caller, line)
    assert not (reply.title or "").startswith("⚠️"), f"{line}: {reply.text}"
    return reply


async def link(engine: Engine, survivor: Caller, absorbed: Caller) -> None:
    """``/link`` from the survivor, the code from the absorbed account, then the survivor's Confirm."""
    issued = await ok(engine, survivor, "/link")
    code = re.search(r"\*\*([\w-]+)\*\*", issued.text or "")
    assert code is not None
    await ok(engine, absorbed, f"/link {code.group(1)}")
    assert (await confirm_link(engine, survivor)).title == "✅ Accounts linked"


async def test_rules_and_alert_settings_follow_the_member_into_the_survivor(engine: Engine) -> None:
    await ok(engine, TELEGRAM, "/alerts add jordan 4 bred sizes:10")
    await ok(engine, TELEGRAM, "/quiet 23:00-07:00")
    await link(engine, DISCORD, TELEGRAM)

    survivor = await engine.identity.resolve(DISCORD)
    async with engine.db.read() as session:
        rules = list((await session.execute(select(AlertRule))).scalars())
        prefs = await session.get(AlertPrefs, survivor.id)
    assert [rule.member_id for rule in rules] == [survivor.id]
    assert prefs is not None and prefs.quiet_start is not None

    listed = await ok(engine, DISCORD, "/alerts list")
    assert "jordan 4 bred" in Reply.plain_text(listed).lower()
    await ok(engine, DISCORD, f"/alerts delete {rules[0].id}")
    assert engine.service(AlertsRuntime).index.match(prepare_event(restock())) == []


async def test_the_survivor_keeps_their_own_alert_settings(engine: Engine) -> None:
    await ok(engine, DISCORD, "/cap 5")
    await ok(engine, TELEGRAM, "/cap 9")
    await link(engine, DISCORD, TELEGRAM)
    survivor = await engine.identity.resolve(DISCORD)
    async with engine.db.read() as session:
        prefs = list((await session.execute(select(AlertPrefs))).scalars())
    assert [(p.member_id, p.daily_cap) for p in prefs] == [(survivor.id, 5)]


async def test_entitlements_follow_the_member(engine: Engine) -> None:
    await ok(engine, ADMIN, '/shop add flair1 "OG flair" flair 10 OG')
    absorbed = await engine.identity.resolve(TELEGRAM)
    await ok(engine, ADMIN, f"/admin grant #{absorbed.id} 50 for the test")
    await ok(engine, TELEGRAM, "/shop buy flair1")
    await link(engine, DISCORD, TELEGRAM)
    survivor = await engine.identity.resolve(DISCORD)
    async with engine.db.read() as session:
        owners = list((await session.execute(select(Entitlement.member_id))).scalars())
    assert owners == [survivor.id]


async def test_two_entries_in_one_raffle_both_stay_paid_and_the_ledger_balances(engine: Engine) -> None:
    await ok(engine, ADMIN, '/raffle create "Dunk Low Panda" 5 2h')
    ids = []
    for caller in (DISCORD, TELEGRAM):
        member = await engine.identity.resolve(caller)
        ids.append(member.id)
        await ok(engine, ADMIN, f"/admin grant #{member.id} 20 raffle money")
        await ok(engine, caller, "/raffle enter")
    await link(engine, DISCORD, TELEGRAM)
    async with engine.db.read() as session:
        entries = list((await session.execute(select(RaffleEntry.member_id))).scalars())
    assert sorted(entries) == sorted(ids)  # both paid entries kept
    report = await verify(engine.db)
    assert report.violations == []
