"""The LACES economy end to end through the test bot (``engine.dispatch_line``), on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update

from bot.account import Linking
from bot.economy import EARN_TOPIC, EconomyRuntime
from bot.economy.config import EconomySection
from bot.economy.ledger import TransferRequest
from bot.economy.models import Purchase, Raffle, Transfer
from bot.economy.verify import verify
from core.engine import Engine
from core.feeds import FEED_TOPIC
from core.storage.models import Member
from core.storage.types import utcnow
from tests.testbot import TestBot

SHOP = [
    {"sku": "fire", "name": "Fire flair", "kind": "flair", "price": 20, "value": "🔥"},
    {"sku": "drops-plus", "name": "Drops+", "kind": "premium_feed", "price": 30, "value": "drops", "days": 7},
    {"sku": "og", "name": "OG role", "kind": "role", "price": 40, "value": "5555", "days": 30},
]


def _settings(**overrides: Any) -> dict[str, Any]:
    """``earn=`` changes only the rules it names: the others stay, as other slices' settings name them."""
    earn = {kind: rule.model_dump() for kind, rule in EconomySection().earn.items()} | overrides.pop("earn", {})
    return {"min_account_age_days": 0, "tip_pair_cooldown_seconds": 0, "shop": SHOP, "earn": earn} | overrides


async def _start(make_bot: Any, **economy: Any) -> TestBot:
    """A bot with the economy's cast: an admin at the shell, alice and bob on Discord, carol on Telegram."""
    bot: TestBot = await make_bot(economy=_settings(**economy))
    bot.member("boss", "shell")
    bot.member("alice", "discord")
    bot.member("bob", "discord")
    bot.member("carol", "telegram")
    bot.member("robot", "discord", is_bot=True)
    return bot


@pytest.fixture
async def eco(make_bot: Any) -> TestBot:
    return await _start(make_bot)


async def balance(bot: TestBot, who: str) -> int:
    member_id = await bot.member_id(who)
    return await bot.engine.service(EconomyRuntime).economy.balance(member_id)


async def posted(engine: Engine) -> int:
    async with engine.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(Transfer).where(Transfer.status == "posted")))


async def ledger_ok(engine: Engine) -> None:
    report = await verify(engine.db)
    assert report.ok, report.render()


async def grant(bot: TestBot, who: str, amount: int) -> None:
    await bot.join(who)
    reply = await bot.say("boss", f"/admin grant @{bot[who].name} {amount} starting balance")
    assert reply.title == "🛠️ Granted", reply.text


# --------------------------------------------------------------------------- balance and tips


async def test_tip_moves_laces_and_shows_balances(eco: TestBot) -> None:
    await grant(eco, "alice", 100)
    await eco.join("bob")
    reply = await eco.say("alice", "/laces tip @bob 30 thanks for the early link")
    assert reply.title == "💸 Tip sent"
    assert "thanks for the early link" in reply.text and "70 LACES" in (reply.footer or "")
    assert (await balance(eco, "alice"), await balance(eco, "bob")) == (70, 30)
    shown = await eco.say("carol", "/laces balance @bob")
    assert "30 LACES" in shown.text and "bob" in (shown.title or "")
    by_sms = eco.engine.registry.by_sms_keyword("balance")  # texting BALANCE runs the same command
    assert by_sms is not None and by_sms.name == "laces balance"
    await ledger_ok(eco.engine)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("/laces tip @bob 0", "at least 1"),
        ("/laces tip @bob -5", "at least 1"),
        ("/laces tip @bob 2.5", "whole number"),
        ("/laces tip @bob 100001", "at most 100,000"),
        ("/laces tip @bob lots", "whole number"),
        ("/laces tip @nobody 5", "No member called `@nobody`"),
        ("/laces tip @bob 51", "Not enough LACES: you have 50 LACES"),
        ("/laces tip @alice 5", "can't tip yourself"),
        ("/laces tip @robot 5", "Bots can't hold LACES"),
        ("/laces tip", "is required"),
    ],
)
async def test_bad_tips_get_a_clear_message_and_move_nothing(eco: TestBot, line: str, message: str) -> None:
    await grant(eco, "alice", 50)
    await eco.join("bob")
    await eco.join("robot")
    before = await posted(eco.engine)
    reply = await eco.say("alice", line)
    assert reply.ephemeral and reply.title == "⚠️ Not done"
    assert message in reply.text
    assert await posted(eco.engine) == before
    assert (await balance(eco, "alice"), await balance(eco, "bob")) == (50, 0)
    await ledger_ok(eco.engine)


async def test_tip_pair_cooldown_stops_farming(make_bot: Any) -> None:
    bot = await _start(make_bot, tip_pair_cooldown_seconds=3600)
    await grant(bot, "alice", 50)
    await bot.join("bob")
    await bot.join("carol")
    assert (await bot.say("alice", "/laces tip @bob 5")).title == "💸 Tip sent"
    again = await bot.say("alice", "/laces tip @bob 5")
    assert "tipped bob recently" in again.text and "59m" in again.text
    assert (await bot.say("alice", "/laces tip @carol 5")).title == "💸 Tip sent", "the cooldown is per pair"
    assert await balance(bot, "alice") == 40


# --------------------------------------------------------------------------- earning


async def _earn(bot: TestBot, kind: str, who: str, source: str) -> None:
    member = await bot.resolve(who)
    await bot.engine.bus.publish(EARN_TOPIC, {"kind": kind, "member_id": member.id, "source_id": source})
    await bot.engine.bus.drain()


async def test_earn_events_pay_once_per_source(eco: TestBot) -> None:
    await _earn(eco, "trade_completed", "alice", "trade-1")
    await _earn(eco, "trade_completed", "alice", "trade-1")  # redelivered
    assert await balance(eco, "alice") == 25
    await _earn(eco, "no_such_kind", "alice", "x")
    assert await balance(eco, "alice") == 25
    history = await eco.say("alice", "/laces history kind:earn")
    assert "+25" in history.text and "earn from mint" in history.text
    await ledger_ok(eco.engine)


async def test_daily_cap_pays_up_to_the_cap_then_nothing(eco: TestBot) -> None:
    # legit_vote_won: 5 per event, 25 per day, no cooldown (a verdict is not the member's own doing)
    for n in range(7):
        await _earn(eco, "legit_vote_won", "alice", f"vote-{n}")
    assert await balance(eco, "alice") == 25
    await ledger_ok(eco.engine)


async def test_partial_award_fills_the_cap_exactly(make_bot: Any) -> None:
    bot = await _start(make_bot, earn={"restock_confirmed": {"amount": 10, "daily_cap": 25, "cooldown_seconds": 0}})
    for n in range(4):
        await _earn(bot, "restock_confirmed", "alice", f"r{n}")
    assert await balance(bot, "alice") == 25


async def test_cooldown_between_awards(eco: TestBot) -> None:
    await _earn(eco, "restock_confirmed", "alice", "restock-1")
    await _earn(eco, "restock_confirmed", "alice", "restock-2")  # within the 300 s cooldown
    assert await balance(eco, "alice") == 10
    async with eco.engine.db.read() as session:
        reasons = (await session.execute(select(Transfer.reason).where(Transfer.status == "rejected"))).scalars()
        assert list(reasons) == ["cooldown"]


async def test_new_accounts_and_bots_do_not_earn(make_bot: Any) -> None:
    bot = await _start(make_bot, min_account_age_days=3)
    await _earn(bot, "trade_completed", "alice", "t1")
    assert await balance(bot, "alice") == 0
    old = await bot.resolve("bob")
    async with bot.engine.db.transaction() as session:
        await session.execute(update(Member).where(Member.id == old.id).values(created_at=utcnow() - timedelta(days=4)))
    await _earn(bot, "trade_completed", "bob", "t2")
    assert await balance(bot, "bob") == 25
    await _earn(bot, "trade_completed", "robot", "t3")
    assert await balance(bot, "robot") == 0


async def test_linked_accounts_pool_their_laces(eco: TestBot) -> None:
    await grant(eco, "alice", 40)
    await grant(eco, "carol", 15)
    alice = await eco.resolve("alice")
    carol = await eco.resolve("carol")
    code = await eco.engine.identity.issue_link_code(alice.id, "discord")
    linking = eco.engine.service(Linking)
    requested = await linking.request(code.code, carol.id, eco["carol"].caller)
    await linking.decide(requested.request_id, alice.id, confirm=True)
    assert await balance(eco, "carol") == 55, "the telegram account now resolves to alice's member"
    assert "55 LACES" in (await eco.say("alice", "/laces balance")).text
    await ledger_ok(eco.engine)


# --------------------------------------------------------------------------- history and leaderboard


async def test_history_pages_with_buttons(eco: TestBot) -> None:
    await eco.join("bob")
    for n in range(11):
        await eco.say("boss", f"/admin grant @bob {n + 1} payout {n}")
    first = await eco.say("bob", "/laces history")
    assert first.ephemeral and "Page 1 of 2" in (first.footer or "")
    assert first.text.count("\n") == 7 and "payout 10" in first.text
    [older] = first.buttons
    second = await eco.say("bob", older.action or "")
    assert "Page 2 of 2" in (second.footer or "") and "payout 0" in second.text
    assert [b.label for b in second.buttons] == ["◀ Newer"]
    filtered = await eco.say("bob", "/laces history tip 7")
    assert filtered.text == "Nothing here yet."
    bad = await eco.say("bob", "/laces history kind:cash")
    assert "must be one of" in bad.text


async def test_leaderboard_shows_callers_rank_off_the_page(eco: TestBot) -> None:
    callers = [eco.member(f"member{n}", "telegram") for n in range(13)]
    for n, caller in enumerate(callers):
        await grant(eco, caller.name, 100 - n)
    board = await eco.say(callers[-1], "/laces leaderboard all")
    assert board.text.splitlines()[0].startswith("🥇 **member0**")
    assert "member12" not in board.text
    assert board.fields[0].value == "#13 of 13 with 88 LACES"
    [down] = board.buttons
    second = await eco.say(callers[-1], down.action or "")
    assert "#13 **member12**" in second.text
    week = await eco.say(callers[0], "/laces leaderboard week")
    assert week.fields[0].value.startswith("#1 of 13")
    newcomer = await eco.say("carol", "/laces leaderboard month")
    assert "not on this board" in newcomer.fields[0].value


# --------------------------------------------------------------------------- shop


async def test_buy_button_double_click_buys_once(eco: TestBot) -> None:
    await grant(eco, "alice", 50)
    listing = await eco.say("alice", "/shop list")
    action = next(b.action for b in listing.buttons if b.label == "Buy Fire flair")
    assert action is not None and "nonce:" in action
    first = await eco.say("alice", action)
    second = await eco.say("alice", action)
    assert first.title == "🛍️ Bought" and "delivered" in first.text
    assert second.title == "🛒 Already done" and "already bought" in second.text
    assert await balance(eco, "alice") == 30
    assert "🔥" in (await eco.say("alice", "/laces balance")).fields[0].value
    fresh = next(b.action for b in (await eco.say("alice", "/shop list")).buttons if b.label == "Buy Fire flair")
    assert fresh != action, "each listing carries new nonces"
    await ledger_ok(eco.engine)


async def test_buy_without_enough_laces_is_refused_cleanly(eco: TestBot) -> None:
    await grant(eco, "alice", 10)
    reply = await eco.say("alice", "/shop buy fire")
    assert reply.text == "Not enough LACES for Fire flair: it costs 20 LACES and you have 10 LACES."
    unknown = await eco.say("alice", "/shop buy fier")
    assert "Did you mean `fire`?" in unknown.text
    async with eco.engine.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Purchase)) == 0
    assert await balance(eco, "alice") == 10
    await ledger_ok(eco.engine)


async def test_failed_fulfilment_is_refunded(eco: TestBot) -> None:
    # a Discord role while no Discord frontend runs in this process: delivery fails after the charge
    await grant(eco, "alice", 100)
    reply = await eco.say("alice", "/shop buy og")
    assert reply.title == "↩️ Refunded" and "not connected to Discord" in reply.text
    assert await balance(eco, "alice") == 100
    history = await eco.say("alice", "/laces history")
    assert "+40** refund" in history.text and "−40** purchase" in history.text
    async with eco.engine.db.read() as session:
        assert (await session.scalar(select(Purchase.status))) == "refunded"
    await ledger_ok(eco.engine)


async def test_role_needs_a_linked_discord_account(eco: TestBot) -> None:
    await grant(eco, "carol", 100)
    reply = await eco.say("carol", "/shop buy og")
    assert "link your Discord account" in reply.text
    assert await balance(eco, "carol") == 100


async def test_premium_feed_access_and_expiry(eco: TestBot) -> None:
    await grant(eco, "alice", 100)
    assert (await eco.say("alice", "/shop buy drops-plus")).title == "🛍️ Bought"
    alice = await eco.resolve("alice")
    shop = eco.engine.service(EconomyRuntime).shop
    assert [e["value"] for e in await shop.active(alice.id, "premium_feed")] == ["drops"]
    perks = (await eco.say("alice", "/laces balance")).fields
    assert perks[0].name == "Perks" and perks[0].value.startswith("Drops+ (until ")
    assert await shop.expire(utcnow() + timedelta(days=6)) == 0
    assert await shop.expire(utcnow() + timedelta(days=8)) == 1
    assert await shop.active(alice.id, "premium_feed") == []


async def test_shop_add_is_admin_only_and_validated(eco: TestBot) -> None:
    denied = await eco.say("alice", '/shop add vip "VIP flair" flair 10 ⭐')
    assert "admins only" in denied.text
    added = await eco.say("boss", '/shop add vip "VIP flair" flair 10 ⭐')
    assert added.title == "🛒 Item added"
    assert "already an item" in (await eco.say("boss", '/shop add vip "Again" flair 10 x')).text
    assert "bot.toml" in (await eco.say("boss", '/shop add fire "Dup" flair 10 x')).text
    assert "role id" in (await eco.say("boss", '/shop add r1 "Role" role 10 notanid 3')).text
    assert "No feed called" in (await eco.say("boss", '/shop add f1 "Feed" premium_feed 10 nope 3')).text
    listing = await eco.say("alice", "/shop list")
    assert any(f.name.startswith("VIP flair") for f in listing.fields)
    audit = await eco.say("boss", "/admin audit")
    assert "shop_add" in audit.text


# --------------------------------------------------------------------------- raffles


def _recompute(raffle_id: int, seed: str, entrants: list[int], count: int) -> list[int]:
    """The draw as documented, written independently of bot.economy.raffles."""
    pool = sorted(set(entrants))
    digest = hashlib.sha256(",".join(map(str, pool)).encode()).hexdigest()
    winners = []
    for k in range(count):
        if not pool:
            break
        mac = hmac.new(seed.encode(), f"{raffle_id}:{digest}:{k}".encode(), hashlib.sha256).digest()
        winners.append(pool.pop(int.from_bytes(mac, "big") % len(pool)))
    return winners


async def _end_time_passes(bot: TestBot, raffle_id: int) -> None:
    """Nobody may draw before the end time, and the clock is real: move the end time instead."""
    async with bot.engine.db.transaction() as session:
        await session.execute(
            update(Raffle).where(Raffle.id == raffle_id).values(ends_at=utcnow() - timedelta(seconds=1))
        )


async def test_raffle_is_provably_fair_and_announced(eco: TestBot) -> None:
    feed: list[dict[str, Any]] = []

    async def capture(_topic: str, payload: dict[str, Any]) -> None:
        feed.append(payload)

    eco.engine.bus.subscribe(FEED_TOPIC, capture)
    entrants = [eco.member(f"fan{n}", "telegram") for n in range(6)]
    for caller in entrants:
        await grant(eco, caller.name, 30)
    opened = await eco.say("boss", '/raffle create "Jordan 4 Bred size 10" 25 2h 2')
    commitment = opened.fields[0].value.strip("`")
    for caller in entrants:
        assert (await eco.say(caller, "/raffle enter")).title.startswith("🎟️ You're in")
    assert "already in" in (await eco.say(entrants[0], "/raffle enter 1")).text
    poor = eco.member("poor", "telegram")
    await eco.join(poor)
    assert "Not enough LACES" in (await eco.say(poor, "/raffle enter")).text
    await eco.engine.bus.drain()
    assert feed and feed[0]["feed"] == "raffles" and commitment in str(feed[0]["item"])
    await ledger_ok(eco.engine)  # the pot holds exactly the open raffle's entry fees

    await _end_time_passes(eco, 1)
    drawn = await eco.say("boss", "/raffle draw 1")
    await eco.engine.bus.drain()
    async with eco.engine.db.read() as session:
        raffle = (await session.execute(select(Raffle))).scalar_one()
    assert hashlib.sha256(raffle.seed.encode()).hexdigest() == commitment
    assert raffle.result is not None
    ids = [await eco.member_id(c) for c in entrants]
    assert raffle.result["entrants"] == sorted(ids)
    assert raffle.result["winners"] == _recompute(1, raffle.seed, ids, 2)
    assert raffle.seed in drawn.fields[0].value
    announced = feed[-1]["item"]
    assert announced["title"].startswith("🎉 Raffle #1 drawn") and raffle.seed in str(announced)
    assert "Raffle #1 is closed" in (await eco.say(poor, "/raffle enter 1")).text
    shown = await eco.say("carol", "/raffle show 1")
    assert any(f.name == "How to check" for f in shown.fields)
    again = await eco.say("boss", "/raffle draw 1")
    assert again.fields[0].value == drawn.fields[0].value, "a raffle draws once"
    await ledger_ok(eco.engine)


async def test_due_raffles_draw_in_the_sweep_and_bad_input_is_refused(eco: TestBot) -> None:
    assert "at least a minute" in (await eco.say("boss", '/raffle create "Dunk" 5 10s')).text
    assert "duration" in (await eco.say("boss", '/raffle create "Dunk" 5 soon')).text
    assert "admins only" in (await eco.say("alice", '/raffle create "Dunk" 5 1h')).text
    assert "No raffle is open" in (await eco.say("alice", "/raffle enter")).text
    await eco.say("boss", '/raffle create "Dunk" 5 1h')
    raffles = eco.engine.service(EconomyRuntime).raffles
    assert await raffles.draw_due() == 0
    await _end_time_passes(eco, 1)
    assert await raffles.draw_due() == 1
    assert (await raffles.get(1)).status == "drawn"


async def _pending_purchase(bot: TestBot, who: str, sku: str, *, age: timedelta = timedelta(0)) -> int:
    """What a crash right after the charge leaves behind: paid into escrow, not yet delivered."""
    runtime = bot.engine.service(EconomyRuntime)
    member = await bot.resolve(who)
    item = await runtime.shop.find(sku)
    wallet = await runtime.economy.wallet(member.id)
    escrow = await runtime.economy.ledger.system_account("escrow")
    key = f"buy:{member.id}:interrupted"

    async def charge_only(conn: Any) -> int:
        charge = TransferRequest(key, wallet, escrow, item.price, "purchase", ref=item.sku, actor_id=member.id)
        result = await runtime.economy.ledger.post(conn, charge)
        assert result.posted
        then = utcnow() - age
        row = await conn.execute(
            insert(Purchase.__table__)
            .values(
                key=key,
                member_id=member.id,
                sku=item.sku,
                item_name=item.name,
                kind=item.kind,
                value=item.value,
                days=item.days,
                price=item.price,
                status="pending",
                charge_transfer_id=result.id,
                created_at=then,
                updated_at=then,
            )
            .returning(Purchase.__table__.c.id)
        )
        return int(row.scalar_one())

    return await runtime.economy.ledger.run(charge_only)


async def test_raffle_ticket_from_the_shop_and_refund_when_the_raffle_closed(eco: TestBot) -> None:
    await eco.say("boss", '/raffle create "Yeezy" 5 1h')
    await eco.say("boss", '/shop add ticket "Yeezy ticket" raffle_entry 8 1')
    await grant(eco, "alice", 20)
    await grant(eco, "bob", 20)
    assert (await eco.say("alice", "/shop buy ticket")).title == "🛍️ Bought"
    assert "already in raffle #1" in (await eco.say("alice", "/raffle enter 1")).text
    purchase_id = await _pending_purchase(eco, "bob", "ticket")
    await _end_time_passes(eco, 1)
    await eco.say("boss", "/raffle draw 1")  # the raffle closes between Bob's charge and the delivery
    done = await eco.engine.service(EconomyRuntime).shop.complete(purchase_id)
    assert done.status == "refunded" and "closed" in (done.failure or "")
    assert await balance(eco, "bob") == 20
    await ledger_ok(eco.engine)


# --------------------------------------------------------------------------- admin


async def test_grant_and_revoke_need_a_reason_and_are_audited(eco: TestBot) -> None:
    await eco.join("bob")
    assert "admins only" in (await eco.say("alice", "/admin grant @bob 5 because")).text
    assert "reason" in (await eco.say("boss", "/admin grant @bob 5")).text
    assert "say why" in (await eco.say("boss", "/admin grant @bob 5 x")).text
    await eco.say("boss", "/admin grant @bob 50 won the sneaker quiz")
    revoked = await eco.say("boss", "/admin revoke @bob 20 quiz answer was leaked")
    assert "Their balance: 30 LACES" in (revoked.footer or "")
    too_much = await eco.say("boss", "/admin revoke @bob 31 more")
    assert "bob has only 30 LACES" in too_much.text
    audit = await eco.say("boss", "/admin audit @bob")
    lines = audit.text.splitlines()
    assert len(lines) == 2
    assert "revoke 20 LACES ← bob: quiz answer was leaked" in lines[0]
    assert "grant 50 LACES → bob: won the sneaker quiz" in lines[1]
    await ledger_ok(eco.engine)


async def test_pending_purchase_left_by_a_crash_is_finished_by_the_sweep(eco: TestBot) -> None:
    await grant(eco, "alice", 50)
    await _pending_purchase(eco, "alice", "fire", age=timedelta(minutes=5))
    await ledger_ok(eco.engine)  # escrow holds exactly the pending purchase
    runtime = eco.engine.service(EconomyRuntime)
    await runtime.sweep()
    async with eco.engine.db.read() as session:
        assert await session.scalar(select(Purchase.status)) == "fulfilled"
    alice = await eco.resolve("alice")
    assert await runtime.shop.flair(alice.id) == "🔥"
    assert await balance(eco, "alice") == 30
    await ledger_ok(eco.engine)


async def test_a_restock_report_earns_through_the_bus(eco: TestBot) -> None:
    reply = await eco.say("alice", '/report restock Kith "Jordan 4 Bred" 10')
    assert not reply.title or "Not done" not in reply.title, reply.text
    await eco.engine.bus.drain()
    assert await balance(eco, "alice") == 2
    await ledger_ok(eco.engine)
