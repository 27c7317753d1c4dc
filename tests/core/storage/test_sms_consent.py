"""SMS consent records, on SQLite and PostgreSQL: opt-out binds the number and its owner's settings."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from core.engine import Engine
from core.identity import Caller
from core.storage import consent
from core.storage.database import Database
from core.storage.metadata import all_metadata
from core.storage.models import Member

PHONE = "+14155550123"


async def test_migration_matches_model(database: Database) -> None:
    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return [d for d in compare_metadata(context, all_metadata()) if "sms_consent" in repr(d)]

    async with database.engine.connect() as connection:
        assert await connection.run_sync(diff) == []


async def test_unknown_number_may_receive(database: Database) -> None:
    async with database.read() as session:
        assert await consent.opt_out_reason(session, "nobody") is None


async def test_opt_out_then_in_round_trip(database: Database) -> None:
    async with database.transaction() as session:
        await consent.record_opt_out(session, "hash-a", consent.REASON_STOP)
    async with database.read() as session:
        assert await consent.opt_out_reason(session, "hash-a") == "STOP"
        assert await consent.opt_out_reason(session, "hash-b") is None
    async with database.transaction() as session:
        await consent.record_opt_out(session, "hash-a", consent.REASON_UNSUBSCRIBED)
    async with database.read() as session:
        assert await consent.opt_out_reason(session, "hash-a") == "twilio-21610"
    async with database.transaction() as session:
        await consent.record_opt_in(session, "hash-a")
    async with database.read() as session:
        assert await consent.opt_out_reason(session, "hash-a") is None
        row = await session.get(consent.SmsConsent, "hash-a")
        assert row is not None and row.opted_in_at is not None and row.reason is None


async def test_read_your_own_write_in_one_transaction(database: Database) -> None:
    async with database.transaction() as session:
        assert await consent.opt_out_reason(session, "hash-c") is None
        await consent.record_opt_out(session, "hash-c", consent.REASON_LANDLINE)
        assert await consent.opt_out_reason(session, "hash-c") == "twilio-30006"


async def test_opt_out_switches_the_owners_sms_off_and_start_back_on(engine: Engine) -> None:
    assert engine.vault is not None
    member = await engine.identity.resolve(Caller("sms", PHONE, "+1•••••••0123"))
    await engine.identity.update_settings(member.id, sms_enabled=True)
    phone_hash = engine.vault.lookup_key(PHONE)
    async with engine.db.transaction() as session:
        assert await consent.member_for_phone(session, phone_hash) == member.id
        await consent.record_opt_out(session, phone_hash, consent.REASON_STOP)
    async with engine.db.read() as session:
        stored = await session.get(Member, member.id)
        assert stored is not None and stored.sms_enabled is False
    async with engine.db.transaction() as session:
        await consent.record_opt_in(session, phone_hash)
    async with engine.db.read() as session:
        stored = await session.get(Member, member.id, populate_existing=True)
        assert stored is not None and stored.sms_enabled is True
