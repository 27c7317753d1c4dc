"""Economy defects from #10 (items 10, 15) and #11 (items 3, 14): keys that survive a redelivery, tips
that refuse a reused key, permanent items bought once, and messages that read right. Through the test
bot, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.economy import EconomyRuntime
from bot.economy.ledger import IdempotencyMismatch
from bot.economy.models import Purchase, Raffle, Transfer
from core.commands import Permission
from core.requests import RUNNING, STALE_AFTER, HandledRequest
from core.storage.types import utcnow
from tests.economy.helpers import balance_of, grant
from tests.testbot import TestBot

SHOP = [
    {"sku": "fire", "name": "Fire flair", "kind": "flair", "price": 10, "value": "🔥"},
    {"sku": "fire-week", "name": "Fire for a week", "kind": "flair", "price": 3, "value": "🔥", "days": 7},
    {"sku": "gem", "name": "Gem flair", "kind": "flair", "price": 10, "value": "💎"},
]


async def _start(make_bot: Any) -> TestBot:
    bot: TestBot = await make_bot(
        economy={"min_account_age_days": 0, "tip_pair_cooldown_seconds": 0, "shop": SHOP}
    )
    bot.member("boss", "shell")
    bot.member("alice", "telegram")
    bot.member("bob", "telegram")
    return bot


async def _transfers(bot: TestBot, kind: str) -> int:
    async with bot.engine.db.read() as session:
        query = select(func.count()).select_from(Transfer).where(Transfer.kind == kind)
        return int(await session.scalar(query) or 0)


# --------------------------------------------------------------------------- #10 item 10


async def _died_before_answering(bot: TestBot, platform_id: str) -> None:
    """What a process killed between the handler and storing its answer leaves: a stale claim."""
    async with bot.engine.db.transaction() as session:
        await session.execute(
            update(HandledRequest)
            .where(HandledRequest.request_id == platform_id)
            .values(status=RUNNING, answer=None, claimed_at=utcnow() - STALE_AFTER - timedelta(seconds=1))
        )


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("/laces tip @bob 5 thanks", "tip"),
        ("/raffle enter 1", "raffle"),
        ("/shop buy gem", "purchase"),
    ],
)
async def test_a_request_run_again_after_its_claim_was_released_pays_once(
    make_bot: Any, line: str, kind: str
) -> None:
    """A process that died after the ledger committed but before storing the answer leaves a stale
    claim on the platform's request id; the platform's redelivery runs the handler again, and the
    ledger key (built from the same platform id) must stop it paying twice."""
    bot = await _start(make_bot)
    await grant(bot, "alice", 50)
    await bot.join("bob")
    await bot.ok("boss", '/raffle create "Dunk" 5 1h')
    caller = bot["alice"].caller
    first = await bot.engine.dispatch_line(caller, line, request_id="812345")
    assert first.title and not first.title.startswith("⚠️"), first.plain_text()
    await _died_before_answering(bot, "telegram:812345")
    await bot.engine.dispatch_line(caller, line, request_id="812345")
    assert await _transfers(bot, kind) == 1
    spent = {"tip": 5, "raffle": 5, "purchase": 10}[kind]
    assert await balance_of(bot, "alice") == 50 - spent


async def test_an_admin_grant_redelivered_grants_once(make_bot: Any) -> None:
    bot = await _start(make_bot)
    await bot.join("bob")
    caller = bot["boss"].caller
    await bot.engine.dispatch_line(caller, "/admin grant @bob 7 quiz prize", request_id="u1")
    await _died_before_answering(bot, "shell:u1")
    await bot.engine.dispatch_line(caller, "/admin grant @bob 7 quiz prize", request_id="u1")
    assert await balance_of(bot, "bob") == 7
    audit = await bot.ok("boss", "/admin audit @bob")
    assert len(audit.text.splitlines()) == 1


# --------------------------------------------------------------------------- #10 item 15


async def test_a_tip_refuses_a_key_another_transfer_used(make_bot: Any) -> None:
    bot = await _start(make_bot)
    await grant(bot, "alice", 50)
    economy = bot.engine.service(EconomyRuntime).economy
    alice, bob = await bot.resolve("alice"), await bot.resolve("bob")
    await economy.tip(alice, bob, 5, "first", "tip:shared-key")
    with pytest.raises(IdempotencyMismatch):
        await economy.tip(bob, alice, 5, "the other way", "tip:shared-key")
    with pytest.raises(IdempotencyMismatch):
        await economy.tip(alice, bob, 9, "more", "tip:shared-key")
    async with bot.engine.db.read() as session:
        grant_key = await session.scalar(select(Transfer.idempotency_key).where(Transfer.kind == "grant"))
    assert grant_key is not None
    with pytest.raises(IdempotencyMismatch):
        await economy.tip(alice, bob, 50, "", grant_key)
    again = await economy.tip(alice, bob, 5, "first", "tip:shared-key")
    assert again.transfer.replayed and again.transfer.amount == 5
    assert (await balance_of(bot, "alice"), await balance_of(bot, "bob")) == (45, 5)


# --------------------------------------------------------------------------- #11 item 3


async def test_a_permanent_item_is_bought_once(make_bot: Any) -> None:
    bot = await _start(make_bot)
    await grant(bot, "alice", 100)
    assert (await bot.ok("alice", "/shop buy fire")).title == "🛍️ Bought"
    again = await bot.fails("alice", "/shop buy fire", "You already have Fire flair")
    assert "nothing was charged" in again.text.lower()
    timed = await bot.fails("alice", "/shop buy fire-week", "already have")
    assert "for good" in timed.text
    assert (await bot.ok("alice", "/shop buy gem")).title == "🛍️ Bought"  # another flair is another item
    assert await balance_of(bot, "alice") == 80
    async with bot.engine.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Purchase)) == 2
    balance = await bot.ok("alice", "/laces balance")
    perks = next(f.value for f in balance.fields if f.name == "Perks")
    assert perks.count("Fire flair") == 1


async def test_a_raffle_ticket_for_a_missing_or_closed_raffle_cannot_be_added(make_bot: Any) -> None:
    bot = await _start(make_bot)
    await bot.fails("boss", '/shop add t9 "Ticket" raffle_entry 5 9', "No raffle #9")
    await bot.ok("boss", '/raffle create "Dunk" 5 1h')
    await bot.ok("boss", '/shop add t1 "Ticket" raffle_entry 5 1')
    runtime = bot.engine.service(EconomyRuntime)
    async with bot.engine.db.transaction() as session:
        await session.execute(update(Raffle).values(ends_at=utcnow() - timedelta(seconds=1)))
    await runtime.raffles.draw_due()
    await bot.fails("boss", '/shop add t2 "Ticket" raffle_entry 5 1', "Raffle #1 is closed")


# --------------------------------------------------------------------------- #11 item 14


async def test_history_audit_and_counts_read_right(make_bot: Any) -> None:
    bot = await _start(make_bot)
    await grant(bot, "alice", 30)
    await bot.ok("alice", "/shop buy gem")
    history = await bot.ok("alice", "/laces history kind:purchase")
    assert "escrow" not in history.text and "to the shop" in history.text
    assert history.footer is not None and "1 entry" in history.footer and "1 entries" not in history.footer
    await bot.ok("boss", "/admin revoke @alice 5 duplicate quiz answer")
    audit = await bot.ok("boss", "/admin audit @alice")
    lines = audit.text.splitlines()
    assert "revoke 5 LACES ← alice" in lines[0]
    assert "grant 30 LACES → alice" in lines[1]
    assert audit.footer is not None and "2 entries" in audit.footer


async def test_a_telegram_tip_redelivered_after_a_crash_before_the_answer_pays_once(make_telegram_bot: Any) -> None:
    """Real python-telegram-bot: the tip ran, the process died before storing its answer, and
    Telegram hands the same update (same update_id) to the restarted bot."""
    bot = await make_telegram_bot(economy={"min_account_age_days": 0, "tip_pair_cooldown_seconds": 0})
    alice = bot.member("alice", platform="telegram")
    bob = bot.member("bob", platform="telegram")
    admin = bot.member("boss", platform="telegram", role=Permission.ADMIN)
    await bot.join(alice, bob)
    await bot.ok(admin, "/admin grant @alice 20 start")
    update = bot.fake.command(alice.native, "/laces tip @bob 5 thanks")
    first = await bot.fake.wait_for_message(alice.native.id)
    assert "Tip sent" in first.text
    await _died_before_answering(bot, f"telegram:{update['update_id']}")
    await bot.restart()
    bot.fake.redeliver(update)
    await bot.fake.wait_for_message(alice.native.id)
    assert await _transfers(bot, "tip") == 1
    assert (await balance_of(bot, "alice"), await balance_of(bot, "bob")) == (15, 5)
