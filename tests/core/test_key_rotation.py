"""The Fernet key rotates without losing a phone number: numbers stored under the old key are
re-encrypted with the new one, still found by lookup, and still sendable once the old key is gone."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import select

from bot.slices import load_models
from core.crypto import AddressVault
from core.identity import Caller, IdentityService
from core.keys import rotate_keys
from core.storage.database import Database
from core.storage.metadata import all_metadata
from core.storage.models import Identity
from tests.paths import REPO

PHONE = "+14155550123"
OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def identities(database: Database, vault: AddressVault) -> IdentityService:
    return IdentityService(
        database, admins=[], mods=[], default_timezone="UTC", code_ttl=timedelta(minutes=5), vault=vault
    )


async def test_rotation_re_encrypts_and_keeps_lookups(database: Database) -> None:
    load_models()

    before = identities(database, AddressVault(OLD))
    member = await before.resolve(Caller("sms", PHONE, "phone"))

    both = AddressVault(f"{NEW},{OLD}")
    report = await rotate_keys(database, both, all_metadata())
    assert report.rotated["identities.secret_address"] == 1
    again = await rotate_keys(database, both, all_metadata())
    assert again.total == 0 and again.already_current == 1  # an interrupted rotation just runs again

    after = identities(database, AddressVault(NEW, lookup_key=both.lookup_secret()))
    assert await after.address_for(member.id, "sms") == PHONE
    assert (await after.resolve(Caller("sms", PHONE, "phone"))).id == member.id
    async with database.read() as session:
        token = (await session.execute(select(Identity.secret_address).where(Identity.platform == "sms"))).scalar_one()
    assert token is not None and AddressVault(NEW).is_current(token)


def test_snpd_keys_rotate_prints_the_lookup_key_to_keep(tmp_path: Path) -> None:
    (tmp_path / "bot.toml").write_text(f'[bot]\ndata_dir = "{tmp_path}"\n')
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO), "SNPD_ENCRYPTION_KEY": f"{NEW},{OLD}"}
    base = [sys.executable, "-m", "snpd", "--config", str(tmp_path / "bot.toml")]
    subprocess.run([*base, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=60)
    done = subprocess.run([*base, "keys", "rotate"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "identities.secret_address: 0 re-encrypted" in done.stdout
    assert AddressVault(f"{NEW},{OLD}").lookup_secret() in done.stdout
