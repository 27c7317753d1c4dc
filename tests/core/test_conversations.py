"""The guided-command declaration, and the conversation store on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from core.commands import Command, Guide, Param
from core.context import Context
from core.conversations import ConversationKey, ConversationRow, ConversationStore
from core.replies import Reply
from core.storage.database import Database
from core.storage.metadata import all_metadata

KEY = ConversationKey("telegram", "42", "42")


async def _noop(ctx: Context, **values: object) -> Reply:
    return Reply(text="ok")


_PARAMS = (Param("what", "What"), Param("size", "Size", required=False), Param("note", "Note", required=False))


def test_guide_names_declared_params_in_its_order() -> None:
    command = Command("thing add", "Add a thing.", _noop, _PARAMS, guide=Guide("New thing", ("size", "what")))
    assert [p.name for p in command.guided] == ["size", "what"]
    assert Command("thing list", "List.", _noop).guided == ()


@pytest.mark.parametrize(
    ("guide", "problem"),
    [
        (Guide("New thing", ("what", "colour")), "guide step `colour` is not a parameter"),
        (Guide("New thing", ("size",)), "never asks for required `what`"),
        (Guide("New thing", ("what", "what")), "distinct"),
        (Guide("x" * 46, ("what",)), "1 to 45 characters"),
    ],
)
def test_a_bad_guide_fails_at_declaration(guide: Guide, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Command("thing add", "Add a thing.", _noop, _PARAMS, guide=guide)


async def test_migration_matches_model(database: Database) -> None:
    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return [d for d in compare_metadata(context, all_metadata()) if "conversations" in repr(d)]

    async with database.engine.connect() as connection:
        assert await connection.run_sync(diff) == []


async def test_answers_advance_once_per_version(database: Database) -> None:
    store = ConversationStore(database)
    started = await store.start(KEY, "alerts add")
    assert (started.step, started.answers) == (0, {})
    moved = await store.advance(started, step=1, answers={"keywords": "jordan 4"})
    assert moved is not None and moved.version == started.version + 1
    assert await store.advance(started, step=1, answers={"keywords": "stale"}) is None  # raced: refused
    read = await store.get(KEY)
    assert read is not None and (read.step, read.answers, read.fixing) == (1, {"keywords": "jordan 4"}, False)


async def test_only_one_claim_wins(database: Database) -> None:
    store = ConversationStore(database)
    seen = await store.start(KEY, "alerts add", step=3, answers={"sizes": "10"})
    results = await asyncio.gather(store.claim(seen), store.claim(seen), store.claim(seen))
    assert sorted(results) == [False, False, True]
    assert await store.get(KEY) is None
    assert await store.cancel(KEY) is False


async def test_starting_again_replaces_and_bumps_the_version(database: Database) -> None:
    store = ConversationStore(database)
    first = await store.start(KEY, "alerts add")
    second = await store.start(KEY, "alerts add", step=2, answers={"max_price": "250"}, fixing=True)
    assert second.version > first.version
    assert await store.advance(first, step=1, answers={}) is None  # a button from the first run
    read = await store.get(KEY)
    assert read is not None and read.fixing and read.answers == {"max_price": "250"}


async def test_expired_conversations_are_reported_then_swept(database: Database) -> None:
    short = ConversationStore(database, ttl=timedelta(seconds=-1))
    other = ConversationKey("telegram", "7", "7")
    await short.start(other, "alerts add")
    old = await short.get(other)
    assert old is not None and old.expired

    await ConversationStore(database).start(KEY, "alerts add")  # sweeps everyone else's expired rows
    async with database.read() as session:
        keys = (await session.execute(select(ConversationRow.chat_id))).scalars().all()
        count = (await session.execute(select(func.count()).select_from(ConversationRow))).scalar_one()
    assert list(keys) == ["42"] and count == 1


async def test_a_conversation_started_after_one_ended_does_not_reuse_its_versions(database: Database) -> None:
    """Buttons left in the chat by an ended conversation carry its versions; the next one must not
    accept them."""
    store = ConversationStore(database)
    ended = await store.start(KEY, "alerts add")
    assert await store.cancel(KEY)
    fresh = await store.start(KEY, "alerts add")
    assert fresh.version != ended.version
    assert await store.cancel(KEY)
    assert (await store.start(KEY, "alerts add")).version not in (ended.version, fresh.version)
