"""Where to send: the identity service's ``address_for``, plus a bulk lookup for fan-outs.

A fan-out of thousands would otherwise ask the database once per member; this reads a claimed
batch's identities in one query and decrypts phone numbers with the engine's vault, exactly as
``IdentityService.address_for`` does for one member.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from core.engine import Engine
from core.storage.models import Identity


class EngineAddressBook:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def address_for(self, member_id: int, platform: str) -> str | None:
        return await self._engine.identity.address_for(member_id, platform)

    async def addresses_for(self, member_ids: Sequence[int], platform: str) -> dict[int, str]:
        async with self._engine.db.read() as session:
            rows = await session.execute(
                select(Identity.member_id, Identity.external_id, Identity.secret_address).where(
                    Identity.member_id.in_(list(member_ids)), Identity.platform == platform
                )
            )
            found = rows.all()
        vault = self._engine.vault
        addresses: dict[int, str] = {}
        for member_id, external_id, secret in found:
            if platform != "sms":
                addresses[member_id] = external_id
            elif vault is not None and secret is not None:
                addresses[member_id] = vault.decrypt(secret)
        return addresses
