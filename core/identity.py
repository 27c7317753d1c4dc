"""Members and their platform identities, and ``/link`` codes that merge two identities into one member."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.commands import Permission
from core.crypto import AddressVault
from core.errors import BadArgument, UserError
from core.storage.database import Database
from core.storage.models import Identity, LinkCode, Member
from core.storage.types import utcnow

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: codes are typed by hand
CODE_LENGTH = 6
CHANNELS = ("discord", "telegram", "sms")
#: bus topic published after a /link merge commits: ``{"survivor_id", "absorbed_id"}``
MEMBER_MERGED = "member.merged"


#: moves every slice's per-member rows inside the /link transaction: (session, survivor_id, absorbed_id)
MergeHook = Callable[[AsyncSession, int, int], Awaitable[None]]


@dataclass(frozen=True)
class Caller:
    """Who sent a command, as the frontend saw them. ``origin`` is where (a serialised target)."""

    platform: str
    external_id: str
    display_name: str
    platform_role: Permission = Permission.MEMBER
    is_bot: bool = False
    origin: dict[str, object] | None = None


@dataclass(frozen=True)
class LinkResult:
    survivor_id: int
    absorbed_id: int
    platforms: tuple[str, ...]


class IdentityService:
    def __init__(
        self,
        db: Database,
        *,
        admins: list[str],
        mods: list[str],
        default_timezone: str,
        code_ttl: timedelta,
        vault: AddressVault | None = None,
        merge_hook: MergeHook | None = None,
    ) -> None:
        self._db = db
        self._merge_hook = merge_hook
        self._admins = set(admins)
        self._mods = set(mods)
        self._default_timezone = default_timezone
        self._code_ttl = code_ttl
        self._vault = vault

    def role_for(self, caller: Caller) -> Permission:
        key = f"{caller.platform}:{caller.external_id}"
        configured = Permission.MEMBER
        if key in self._admins or caller.platform == "shell":
            configured = Permission.ADMIN
        elif key in self._mods:
            configured = Permission.MOD
        return max(configured, caller.platform_role)

    def _lookup_id(self, platform: str, external_id: str) -> str:
        if platform != "sms":
            return external_id
        if self._vault is None:
            raise UserError("SMS is not configured on this server.")
        return self._vault.lookup_key(external_id)

    async def resolve(self, caller: Caller) -> Member:
        """The member behind a platform account, created on first contact."""
        lookup = self._lookup_id(caller.platform, caller.external_id)
        async with self._db.read() as session:
            member = await self._member_for(session, caller.platform, lookup)
        if member is not None:
            return member
        async with self._db.transaction() as session:
            member = await self._member_for(session, caller.platform, lookup)
            if member is not None:
                return member
            member = Member(
                display_name=caller.display_name[:100] or "member",
                timezone=self._default_timezone,
                is_bot=caller.is_bot,
            )
            session.add(member)
            await session.flush()
            secret = (
                self._vault.encrypt(caller.external_id) if caller.platform == "sms" and self._vault else None
            )
            session.add(
                Identity(
                    member_id=member.id,
                    platform=caller.platform,
                    external_id=lookup,
                    handle=caller.display_name[:100],
                    secret_address=secret,
                )
            )
            return member

    async def _member_for(self, session: AsyncSession, platform: str, lookup: str) -> Member | None:
        query = (
            select(Member)
            .join(Identity, Identity.member_id == Member.id)
            .where(Identity.platform == platform, Identity.external_id == lookup)
        )
        return (await session.execute(query)).scalar_one_or_none()

    async def get(self, member_id: int) -> Member | None:
        async with self._db.read() as session:
            return await session.get(Member, member_id)

    async def identities(self, member_id: int) -> list[Identity]:
        async with self._db.read() as session:
            rows = await session.execute(
                select(Identity).where(Identity.member_id == member_id).order_by(Identity.platform)
            )
            return list(rows.scalars())

    async def address_for(self, member_id: int, platform: str) -> str | None:
        """The id to send to on ``platform`` (decrypted for phone numbers), or None if not linked."""
        for identity in await self.identities(member_id):
            if identity.platform != platform:
                continue
            if platform == "sms":
                if self._vault is None or identity.secret_address is None:
                    return None
                return self._vault.decrypt(identity.secret_address)
            return identity.external_id
        return None

    async def find_by_handle(self, text: str) -> Member | None:
        """Resolve ``@name``, a platform mention ``<@123>``, or ``#42`` (member id) to a member."""
        raw = text.strip()
        async with self._db.read() as session:
            if raw.startswith("#") and raw[1:].isdigit():
                return await session.get(Member, int(raw[1:]))
            mention = raw.removeprefix("<@").removeprefix("!").removesuffix(">")
            if mention.isdigit():
                found = await session.execute(
                    select(Member).join(Identity).where(Identity.external_id == mention).limit(1)
                )
                member = found.scalar_one_or_none()
                if member is not None:
                    return member
            handle = raw.lstrip("@").lower()
            found = await session.execute(
                select(Member)
                .join(Identity)
                .where(Identity.handle.ilike(handle), Member.merged_into.is_(None))
                .limit(1)
            )
            return found.scalar_one_or_none()

    async def issue_link_code(self, member_id: int, platform: str) -> LinkCode:
        """A fresh single-use code; any older unused code of this member stops working."""
        now = utcnow()
        async with self._db.transaction() as session:
            await session.execute(
                update(LinkCode)
                .where(LinkCode.member_id == member_id, LinkCode.used_at.is_(None))
                .values(used_at=now)
            )
            code = LinkCode(
                code="".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH)),
                member_id=member_id,
                platform=platform,
                created_at=now,
                expires_at=now + self._code_ttl,
            )
            session.add(code)
            return code

    async def redeem_link_code(self, raw_code: str, member_id: int, platform: str) -> LinkResult:
        """Fold the redeeming member into the code's owner. One transaction; the code is spent once."""
        code_text = raw_code.strip().upper().replace("-", "").replace(" ", "")
        now = utcnow()
        async with self._db.transaction() as session:
            code = await session.get(LinkCode, code_text)
            if code is None:
                raise UserError("That link code does not exist. Check it, or run `/link` again for a new one.")
            if code.used_at is not None:
                raise UserError("That link code was already used. Run `/link` again for a new one.")
            if code.expires_at <= now:
                raise UserError("That link code has expired. Run `/link` again for a new one.")
            if code.member_id == member_id:
                raise UserError(
                    f"Send this code from your other account, not from {platform.title()}: "
                    "it links a second platform to this one."
                )
            spent = await session.execute(
                update(LinkCode)
                .where(LinkCode.code == code_text, LinkCode.used_at.is_(None))
                .values(used_at=now)
            )
            if spent.rowcount != 1:  # type: ignore[attr-defined]
                raise UserError("That link code was already used. Run `/link` again for a new one.")
            survivor_ids = await session.execute(select(Identity).where(Identity.member_id == code.member_id))
            absorbed_ids = await session.execute(select(Identity).where(Identity.member_id == member_id))
            kept = list(survivor_ids.scalars())
            moving = list(absorbed_ids.scalars())
            clash = {i.platform for i in kept} & {i.platform for i in moving}
            if clash:
                name = sorted(clash)[0].title()
                raise UserError(
                    f"Both accounts already have a {name} identity. A member owns one account per platform."
                )
            for identity in moving:
                identity.member_id = code.member_id
            absorbed = await session.get(Member, member_id)
            if absorbed is not None:
                absorbed.merged_into = code.member_id
            if self._merge_hook is not None:
                await session.flush()
                await self._merge_hook(session, code.member_id, member_id)
            return LinkResult(
                survivor_id=code.member_id,
                absorbed_id=member_id,
                platforms=tuple(sorted({i.platform for i in kept + moving})),
            )

    async def update_settings(
        self,
        member_id: int,
        *,
        timezone: str | None = None,
        dm_enabled: bool | None = None,
        sms_enabled: bool | None = None,
        channel_order: list[str] | None = None,
    ) -> Member:
        if timezone is not None:
            try:
                ZoneInfo(timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise BadArgument("timezone", f"unknown timezone `{timezone}`; use a name like Europe/London") from None
        if channel_order is not None:
            if sorted(channel_order) != sorted(set(channel_order)) or not set(channel_order) <= set(CHANNELS):
                raise BadArgument("channels", f"list each of {', '.join(CHANNELS)} at most once")
            if not channel_order:
                raise BadArgument("channels", "name at least one channel")
        async with self._db.transaction() as session:
            member = await session.get(Member, member_id)
            if member is None:
                raise UserError("No such member.")
            if sms_enabled:
                phones = await session.execute(
                    select(Identity.id).where(Identity.member_id == member_id, Identity.platform == "sms")
                )
                if phones.first() is None:
                    raise BadArgument("sms", "link a phone number first: text the code from `/link` to our number")
            if timezone is not None:
                member.timezone = timezone
            if dm_enabled is not None:
                member.dm_enabled = dm_enabled
            if sms_enabled is not None:
                member.sms_enabled = sms_enabled
            if channel_order is not None:
                member.channel_order = list(channel_order)
            return member
