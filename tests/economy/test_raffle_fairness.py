"""Raffle fairness (#10 item 7, item 14): entries freeze at the end time, nobody draws early, and the
winners come from the seed mixed with the entrant list committed at the close, checkable by any member
with ``/raffle verify``. Through the test bot, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import MetaData, func, select, text, update
from sqlalchemy.engine import Connection

from bot.account import Linking
from bot.economy import EconomyRuntime
from bot.economy.models import Purchase, Raffle, RaffleEntry
from bot.economy.verify import verify
from bot.slices import migration_locations
from core.storage.database import Database
from core.storage.migrate import upgrade
from core.storage.types import utcnow
from tests.economy.fake_drand import PERIOD, FakeDrand, randomness, round_time
from tests.economy.helpers import balance_of, grant
from tests.economy.test_economy import _pending_purchase
from tests.testbot import TestBot, is_error


def _settings() -> dict[str, Any]:
    return {"min_account_age_days": 0, "tip_pair_cooldown_seconds": 0}


async def _start(make_bot: Any) -> TestBot:
    bot: TestBot = await make_bot(economy=_settings())
    bot.member("boss", "shell")
    for name in ("alice", "bob", "carol"):
        bot.member(name, "telegram")
    return bot


async def _time_passes(bot: TestBot, raffle_id: int) -> None:
    """The raffle's end time is now behind us (the clock is real, so the end time moves instead)."""
    async with bot.engine.db.transaction() as session:
        await session.execute(
            update(Raffle).where(Raffle.id == raffle_id).values(ends_at=utcnow() - timedelta(seconds=1))
        )


async def _raffle(bot: TestBot, raffle_id: int) -> Raffle:
    async with bot.engine.db.read() as session:
        return (await session.execute(select(Raffle).where(Raffle.id == raffle_id))).scalar_one()


def _expected(
    raffle_id: int, seed: str, entrants: list[int], count: int, beacon: str | None = None
) -> tuple[str, list[int]]:
    """The published draw, written from the README independently of bot.economy.raffles: with a
    beacon, its randomness joins the HMAC message."""
    pool = sorted(set(entrants))
    digest = hashlib.sha256(",".join(map(str, pool)).encode()).hexdigest()
    mixed = digest if beacon is None else f"{digest}:{beacon}"
    winners = []
    for k in range(count):
        if not pool:
            break
        mac = hmac.new(seed.encode(), f"{raffle_id}:{mixed}:{k}".encode(), hashlib.sha256).digest()
        winners.append(pool.pop(int.from_bytes(mac, "big") % len(pool)))
    return digest, winners


async def test_nobody_draws_before_the_end_time(make_bot: Any) -> None:
    bot = await _start(make_bot)
    await bot.ok("boss", '/raffle create "Jordan 4" 5 2h')
    early = await bot.fails("boss", "/raffle draw 1", "entries are open until")
    assert "early" in early.text
    assert (await _raffle(bot, 1)).status == "open"
    assert await bot.engine.service(EconomyRuntime).raffles.draw_due() == 0
    assert (await _raffle(bot, 1)).status == "open"


async def test_the_draw_mixes_the_seed_with_the_entrants_committed_at_the_close(make_bot: Any) -> None:
    bot = await _start(make_bot)
    fans = [bot.member(f"fan{n}", "telegram") for n in range(5)]
    for fan in fans:
        await grant(bot, fan.name, 10)
    opened = await bot.ok("boss", '/raffle create "Dunk Low" 5 1h 2')
    commitment = opened.fields[0].value.strip("`")
    for fan in fans:
        await bot.ok(fan, "/raffle enter 1")
    await _time_passes(bot, 1)
    assert "closed" in (await bot.fails(fans[0], "/raffle enter 1")).text
    drawn = await bot.ok("boss", "/raffle draw 1")
    raffle = await _raffle(bot, 1)
    ids = [await bot.member_id(fan) for fan in fans]
    digest, winners = _expected(1, raffle.seed, ids, 2)
    assert hashlib.sha256(raffle.seed.encode()).hexdigest() == commitment
    assert raffle.entrants_digest == digest and raffle.closed_at is not None
    assert raffle.result is not None and raffle.result["winners"] == winners
    assert any(digest in f.value for f in drawn.fields)

    checked = await bot.ok("carol", "/raffle verify 1")
    shown = checked.plain_text()
    assert raffle.seed in shown and commitment in shown and digest in shown
    assert ",".join(map(str, sorted(ids))) in shown
    assert "✅" in (checked.title or "") and "HMAC-SHA256" in shown
    assert (await verify(bot.engine.db)).ok


async def test_verify_catches_a_result_that_does_not_follow_from_its_inputs(make_bot: Any) -> None:
    bot = await _start(make_bot)
    for name in ("alice", "bob"):
        await grant(bot, name, 10)
    await bot.ok("boss", '/raffle create "Yeezy" 5 1h')
    await bot.ok("alice", "/raffle enter 1")
    await bot.ok("bob", "/raffle enter 1")
    await bot.ok("carol", "/raffle verify 1")  # before the draw: the commitment only
    await _time_passes(bot, 1)
    await bot.ok("boss", "/raffle draw 1")
    raffle = await _raffle(bot, 1)
    assert raffle.result is not None
    loser = next(m for m in raffle.result["entrants"] if m not in raffle.result["winners"])
    async with bot.engine.db.transaction() as session:
        await session.execute(
            update(Raffle).where(Raffle.id == 1).values(result={**raffle.result, "winners": [loser]})
        )
    tampered = await bot.say("carol", "/raffle verify 1")
    assert "❌" in (tampered.title or "") and "winners" in tampered.plain_text()


async def test_a_shop_ticket_after_the_end_time_is_refused_and_costs_nothing(make_bot: Any) -> None:
    bot = await _start(make_bot)
    await bot.ok("boss", '/raffle create "Travis" 5 1h')
    await bot.ok("boss", '/shop add ticket "Travis ticket" raffle_entry 8 1')
    await grant(bot, "alice", 20)
    await _time_passes(bot, 1)
    refused = await bot.fails("alice", "/shop buy ticket", "closed")
    assert "Raffle #1" in refused.text
    assert await balance_of(bot, "alice") == 20
    async with bot.engine.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Purchase)) == 0
        assert await session.scalar(select(func.count()).select_from(RaffleEntry)) == 0


async def test_a_ticket_delivered_after_the_end_time_is_refunded(make_bot: Any) -> None:
    """The end time passing between the charge and the delivery (a crash in between) refunds the ticket."""
    bot = await _start(make_bot)
    await bot.ok("boss", '/raffle create "Travis" 5 1h')
    await bot.ok("boss", '/shop add ticket "Travis ticket" raffle_entry 8 1')
    await grant(bot, "alice", 20)
    purchase_id = await _pending_purchase(bot, "alice", "ticket")
    await _time_passes(bot, 1)
    done = await bot.engine.service(EconomyRuntime).shop.complete(purchase_id)
    assert done.status == "refunded" and "closed" in (done.failure or "")
    assert await balance_of(bot, "alice") == 20
    assert (await _raffle(bot, 1)).status == "open"


async def test_messages_count_entrants_and_winners_in_words(make_bot: Any) -> None:
    bot = await _start(make_bot)
    await grant(bot, "alice", 10)
    opened = await bot.ok("boss", '/raffle create "Dunk" 5 1h')
    assert "1 winner." in opened.text and "winner(s)" not in opened.text
    entered = await bot.ok("alice", "/raffle enter 1")
    assert "1 entrant so far" in entered.text
    shown = await bot.ok("alice", "/raffle show 1")
    assert "1 entrant," in shown.text and "1 winner." in shown.text
    two = await bot.ok("boss", '/raffle create "Dunk" 5 1h 2')
    assert "2 winners." in two.text


def _drop_every_table(connection: Connection) -> None:
    tables = MetaData()
    tables.reflect(connection)
    tables.drop_all(connection)


async def test_a_raffle_opened_before_the_upgrade_still_draws(make_config: Any, database: Database) -> None:
    """Data written by the first economy revision keeps working: an open raffle draws, on the new rule."""
    from tests.testbot import neutral_bot

    location = migration_locations()
    # ``database`` arrives migrated; start again from an empty schema at the first economy revision
    async with database.engine.begin() as conn:
        if database.is_sqlite:
            await conn.run_sync(_drop_every_table)  # in dependency order: SQLite checks foreign keys on drop
        else:
            await conn.exec_driver_sql(f'DROP SCHEMA "{database.schema}" CASCADE')
            await conn.exec_driver_sql(f'CREATE SCHEMA "{database.schema}"')
    await upgrade(database, location, target="0100_economy")
    seed = "ab" * 32
    ends = utcnow() - timedelta(minutes=1)
    async with database.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO economy_raffles (id, prize, cost, winners, seed_hash, seed, status, ends_at, created_at)"
                " VALUES (7, 'Old prize', 5, 1, :hash, :seed, 'open', :ends, :ends)"
            ),
            {"hash": hashlib.sha256(seed.encode()).hexdigest(), "seed": seed, "ends": ends.replace(tzinfo=None)},
        )
    await upgrade(database, location)
    async with neutral_bot(make_config, database, economy=_settings()) as bot:
        bot.member("boss", "shell")
        drawn = await bot.say("boss", "/raffle draw 7")
        assert not is_error(drawn), drawn.plain_text()
        raffle = await _raffle(bot, 7)
        assert raffle.status == "drawn" and raffle.entrants_digest == hashlib.sha256(b"").hexdigest()
        assert "✅" in ((await bot.say("boss", "/raffle verify 7")).title or "")


# --------------------------------------------------------------------------- with a randomness beacon


@pytest.fixture
async def drand() -> AsyncIterator[FakeDrand]:
    fake = FakeDrand()
    await fake.start()
    yield fake
    await fake.stop()


async def test_a_beacon_round_fixed_at_creation_and_published_after_the_close_decides_the_draw(
    make_bot: Any, drand: FakeDrand
) -> None:
    bot: TestBot = await make_bot(economy={**_settings(), "raffle_beacon": drand.url})
    bot.member("boss", "shell")
    fans = [bot.member(f"fan{n}", "telegram") for n in range(4)]
    for fan in fans:
        await grant(bot, fan.name, 10)
    opened = await bot.ok("boss", '/raffle create "Dunk Low" 5 1h 2')
    raffle = await _raffle(bot, 1)
    assert raffle.beacon_round is not None and raffle.beacon_at is not None
    assert raffle.beacon_at == round_time(raffle.beacon_round)
    assert raffle.beacon_at >= raffle.ends_at + timedelta(seconds=60), "the round comes out after the close"
    assert raffle.beacon_at - raffle.ends_at < timedelta(seconds=60 + PERIOD + 1)
    assert f"{drand.url}/public/{raffle.beacon_round}" in opened.plain_text()
    for fan in fans:
        await bot.ok(fan, "/raffle enter 1")

    await _time_passes(bot, 1)
    drand.publish_through(raffle.beacon_round - 1)
    waiting = await bot.fails("boss", "/raffle draw 1", f"waits for beacon round {raffle.beacon_round}")
    assert "draws by itself" in waiting.text
    closed = await _raffle(bot, 1)
    ids = [await bot.member_id(fan) for fan in fans]
    digest = hashlib.sha256(",".join(map(str, sorted(ids))).encode()).hexdigest()
    assert closed.status == "open" and closed.closed_at is not None and closed.entrants_digest == digest
    await bot.fails(fans[0], "/raffle enter 1", "closed")
    runtime = bot.engine.service(EconomyRuntime)
    assert await runtime.raffles.draw_due() == 0  # the sweep waits too, without failing

    drand.down = True
    await bot.fails("boss", "/raffle draw 1", "waits for beacon round")  # no fallback to a seed-only draw
    drand.down = False
    drand.publish_through(raffle.beacon_round)
    drawn = await bot.ok("boss", "/raffle draw 1")
    final = await _raffle(bot, 1)
    assert final.status == "drawn" and final.beacon_randomness == randomness(raffle.beacon_round)
    assert final.result is not None
    assert final.result["winners"] == _expected(1, final.seed, ids, 2, randomness(raffle.beacon_round))[1]
    assert digest in drawn.plain_text()

    checked = await bot.ok("fan0", "/raffle verify 1")
    shown = checked.plain_text()
    assert "✅" in (checked.title or "") and randomness(raffle.beacon_round) in shown
    assert "closed before the beacon round came out" in shown
    assert (await verify(bot.engine.db)).ok


async def test_no_raffle_opens_while_its_beacon_is_down(make_bot: Any, drand: FakeDrand) -> None:
    bot: TestBot = await make_bot(economy={**_settings(), "raffle_beacon": drand.url})
    bot.member("boss", "shell")
    drand.down = True
    await bot.fails("boss", '/raffle create "Dunk" 5 1h', "randomness beacon")
    async with bot.engine.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Raffle)) == 0


async def test_accounts_linked_between_the_close_and_the_beacon_round_still_draw(
    make_bot: Any, drand: FakeDrand
) -> None:
    """/link moves raffle entries to the surviving member; the draw uses the list frozen at the close."""
    bot: TestBot = await make_bot(economy={**_settings(), "raffle_beacon": drand.url})
    bot.member("boss", "shell")
    bot.member("sam", "telegram")
    bot.member("sam-discord", "discord")
    bot.member("kim", "telegram")
    for name in ("sam", "sam-discord", "kim"):
        await grant(bot, name, 10)
    await bot.ok("boss", '/raffle create "Dunk" 5 1h')
    for name in ("sam", "sam-discord", "kim"):
        await bot.ok(name, "/raffle enter 1")
    frozen = sorted([await bot.member_id(name) for name in ("sam", "sam-discord", "kim")])
    await _time_passes(bot, 1)
    await bot.fails("boss", "/raffle draw 1", "waits for beacon round")

    sam, other = await bot.resolve("sam"), await bot.resolve("sam-discord")
    code = await bot.engine.identity.issue_link_code(sam.id, "telegram")
    linking = bot.engine.service(Linking)
    requested = await linking.request(code.code, other.id, bot["sam-discord"].caller)
    await linking.decide(requested.request_id, sam.id, confirm=True)

    raffle = await _raffle(bot, 1)
    assert raffle.beacon_round is not None
    drand.publish_through(raffle.beacon_round)
    await bot.ok("boss", "/raffle draw 1")
    drawn = await _raffle(bot, 1)
    assert drawn.result is not None and drawn.result["entrants"] == frozen
    assert drawn.result["winners"] == _expected(1, drawn.seed, frozen, 1, randomness(raffle.beacon_round))[1]
    checked = await bot.ok("kim", "/raffle verify 1")
    assert "✅" in (checked.title or ""), checked.plain_text()
