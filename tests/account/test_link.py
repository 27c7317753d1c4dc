"""/link codes can't be guessed and a code alone merges nothing: redeeming asks the code's owner,
and only the owner's Confirm folds the accounts together. Wrong codes are limited per caller and
for everyone, in the database, so every process of the bot shares the count."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from core.delivery.models import OutboxMessage
from core.engine import Engine
from core.identity import Caller
from core.replies import Reply
from core.storage.database import Database
from snpd.app import build_engine

OWNER = Caller("discord", "7001", "sam")
JOINER = Caller("telegram", "8001", "sam_tg")
ERROR = Reply.error("").title


async def issue(engine: Engine, caller: Caller) -> str:
    reply = await engine.dispatch_line(caller, "/link")
    found = re.search(r"Your code: \*\*([A-Z2-9]{5}-[A-Z2-9]{5})\*\*", reply.text)
    assert found is not None, reply.text
    return found.group(1)


async def notices(engine: Engine, member_id: int) -> list[Reply]:
    async with engine.db.read() as session:
        rows = await session.execute(
            select(OutboxMessage).where(OutboxMessage.member_id == member_id).order_by(OutboxMessage.id)
        )
        return [Reply.model_validate(row.payload) for row in rows.scalars()]


async def request_id(engine: Engine, owner_id: int) -> int:
    [*_, ask] = await notices(engine, owner_id)
    actions = [button.action or "" for button in ask.buttons]
    assert [a.split()[:2] for a in actions] == [["/link", "confirm"], ["/link", "refuse"]], actions
    return int(actions[0].split()[2])


@pytest.fixture
async def strict(make_config: Any, database: Database) -> AsyncIterator[Engine]:
    """An engine whose global limit is low enough to reach in a test."""
    built = build_engine(make_config(account={"link_failures_per_member": 3, "link_failures_global": 7}), db=database)
    await built.start(migrate=False)
    yield built
    await built.scheduler.stop()
    await built.bus.drain()


async def test_codes_carry_fifty_bits_and_are_shown_grouped(engine: Engine) -> None:
    codes = {await issue(engine, Caller("discord", str(n), f"m{n}")) for n in range(20)}
    assert len(codes) == 20
    assert all(len(code.replace("-", "")) == 10 for code in codes)


async def test_redeeming_asks_the_owner_and_merges_only_on_their_confirm(engine: Engine) -> None:
    owner = await engine.identity.resolve(OWNER)
    joiner = await engine.identity.resolve(JOINER)
    code = await issue(engine, OWNER)

    asked = await engine.dispatch_line(JOINER, f"/link {code.lower().replace('-', ' ')}")
    assert asked.title != ERROR, asked.text
    assert "Discord" in asked.text and "sam" in asked.text, "the joiner sees whose account they ask to join"
    assert (await engine.identity.resolve(JOINER)).id == joiner.id, "nothing merges before the owner confirms"

    [ask] = await notices(engine, owner.id)
    assert "Telegram @sam_tg wants to join your account" in ask.plain_text()
    assert [button.label for button in ask.buttons] == ["Confirm", "Refuse"]
    request = await request_id(engine, owner.id)

    by_joiner = await engine.dispatch_line(JOINER, f"/link confirm {request}")
    assert by_joiner.title == ERROR and "issued the code" in by_joiner.text
    assert (await engine.identity.resolve(JOINER)).id == joiner.id

    done = await engine.dispatch_line(OWNER, f"/link confirm {request}")
    assert done.title == "✅ Accounts linked", done.text
    assert "Discord, Telegram" in done.text
    assert (await engine.identity.resolve(JOINER)).id == owner.id
    absorbed = await engine.identity.get(joiner.id)
    assert absorbed is not None and absorbed.merged_into == owner.id

    twice = await engine.dispatch_line(OWNER, f"/link confirm {request}")
    assert twice.title == ERROR and "already" in twice.text


async def test_the_owner_can_refuse(engine: Engine) -> None:
    owner = await engine.identity.resolve(OWNER)
    joiner = await engine.identity.resolve(JOINER)
    code = await issue(engine, OWNER)
    await engine.dispatch_line(JOINER, f"/link {code}")
    request = await request_id(engine, owner.id)
    stranger = await engine.dispatch_line(Caller("discord", "7999", "eve"), f"/link confirm {request}")
    assert stranger.title == ERROR and "No link request" in stranger.text
    refused = await engine.dispatch_line(OWNER, f"/link refuse {request}")
    assert refused.title != ERROR and "refused" in refused.text.lower()
    assert (await engine.identity.resolve(JOINER)).id == joiner.id
    late = await engine.dispatch_line(OWNER, f"/link confirm {request}")
    assert late.title == ERROR and "refused" in late.text
    spent = await engine.dispatch_line(JOINER, f"/link {code}")
    assert spent.title == ERROR and "already used" in spent.text
    [told] = await notices(engine, joiner.id)
    assert "refused" in told.plain_text()


async def test_an_older_code_says_it_was_replaced(engine: Engine) -> None:
    old = await issue(engine, OWNER)
    await issue(engine, OWNER)
    reply = await engine.dispatch_line(JOINER, f"/link {old}")
    assert reply.title == ERROR and "replaced by a newer code" in reply.text


async def test_wrong_codes_lock_the_caller_out(strict: Engine) -> None:
    code = await issue(strict, OWNER)
    for _ in range(3):
        wrong = await strict.dispatch_line(JOINER, "/link ZZZZZ-ZZZZZ")
        assert "does not exist" in wrong.text
    locked = await strict.dispatch_line(JOINER, f"/link {code}")
    assert locked.title == ERROR and "Too many wrong link codes" in locked.text
    other = Caller("telegram", "8002", "other")
    assert (await strict.dispatch_line(other, f"/link {code}")).title != ERROR, "one caller's lockout is theirs"


async def test_the_lockout_is_shared_by_every_process(strict: Engine, make_config: Any) -> None:
    for _ in range(3):
        await strict.dispatch_line(JOINER, "/link ZZZZZ-ZZZZZ")
    second = build_engine(make_config(account={"link_failures_per_member": 3}), db=strict.db)
    reply = await second.dispatch_line(JOINER, "/link ZZZZZ-ZZZZZ")
    assert "Too many wrong link codes" in reply.text


async def test_guessing_from_many_accounts_locks_everyone_and_warns_code_owners(strict: Engine) -> None:
    owner = await strict.identity.resolve(OWNER)
    code = await issue(strict, OWNER)
    for n in range(7):
        await strict.dispatch_line(Caller("telegram", str(9000 + n), f"bot{n}"), "/link ZZZZZ-ZZZZZ")
    honest = await strict.dispatch_line(JOINER, f"/link {code}")
    assert honest.title == ERROR and "paused" in honest.text
    [warning] = await notices(strict, owner.id)
    assert "wrong /link codes" in warning.plain_text()
    assert warning.buttons == []


async def test_concurrent_guesses_check_at_most_the_limit(strict: Engine) -> None:
    await strict.identity.resolve(JOINER)
    replies = await asyncio.gather(*(strict.dispatch_line(JOINER, "/link ZZZZZ-ZZZZZ") for _ in range(40)))
    checked = [r for r in replies if "does not exist" in r.text]
    assert len(checked) == 3
    assert all("Too many wrong link codes" in r.text for r in replies if r not in checked)
