"""Members and their platform identities, and ``/link`` codes that merge two identities into one member."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.commands import Permission
from core.crypto import AddressVault
from core.errors import BadArgument, NotFound, UserError
from core.storage.database import Database
from core.storage.models import Identity, LinkCode, Member
from core.storage.types import utcnow
from core.timezones import resolve_timezone

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: codes are typed by hand
#: 10 letters of 32 are 50 bits: guessing one live code at the /link failure limits takes millennia
CODE_LENGTH = 10
CHANNELS = ("discord", "telegram", "sms")
PLATFORM_LABELS = {"discord": "Discord", "telegram": "Telegram", "sms": "Phone", "shell": "Shell"}
#: shell members made by ``/as NAME`` (external id ``as:NAME``): ordinary members, unlike the operator at the shell
SHELL_GUEST_PREFIX = "as:"
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
        operator = caller.platform == "shell" and not caller.external_id.startswith(SHELL_GUEST_PREFIX)
        if key in self._admins or operator:
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
        """Resolve ``#42`` (member id), a platform mention ``<@123>`` or ``@name`` to a member.

        Names compare whole and case-folded, never as a pattern. A name or id that two members
        share is refused: guessing would send LACES or an admin grant to the wrong person.
        """
        raw = text.strip()
        async with self._db.read() as session:
            if raw.startswith("#") and raw[1:].isdigit():
                return await session.get(Member, int(raw[1:]))
            mention = raw.removeprefix("<@").removeprefix("!").removesuffix(">")
            if mention.isdigit():
                rows = await session.execute(
                    select(Member, Identity.platform)
                    .join(Identity, Identity.member_id == Member.id)
                    .where(Identity.external_id == mention, Identity.platform != "sms")
                )
                found = _one_member(rows.all(), raw)
                if found is not None:
                    return found
            wanted = handle_key(raw)
            if not wanted:
                return None
            named = await session.execute(
                select(Member, Identity.platform, Identity.handle)
                .join(Identity, Identity.member_id == Member.id)
                .where(func.lower(Identity.handle) == func.lower(wanted), Member.merged_into.is_(None))
            )
            exact = [(member, platform) for member, platform, handle in named.all() if handle_key(handle) == wanted]
            return _one_member(exact, raw)

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

    async def merge(self, session: AsyncSession, survivor_id: int, absorbed_id: int) -> LinkResult:
        """Fold ``absorbed_id`` into ``survivor_id`` inside the caller's transaction: identities move,
        the absorbed member points at the survivor, and every slice moves its own rows."""
        pair = await session.execute(select(Member).where(Member.id.in_([survivor_id, absorbed_id])))
        members = {member.id: member for member in pair.scalars()}
        survivor, absorbed = members.get(survivor_id), members.get(absorbed_id)
        if survivor is None or absorbed is None or survivor_id == absorbed_id:
            raise UserError("Those accounts can't be linked: one of them no longer exists.")
        if survivor.merged_into is not None or absorbed.merged_into is not None:
            raise UserError("One of these accounts was linked to another one since. Run `/link` again.")
        kept = list((await session.execute(select(Identity).where(Identity.member_id == survivor_id))).scalars())
        moving = list((await session.execute(select(Identity).where(Identity.member_id == absorbed_id))).scalars())
        clash = {i.platform for i in kept} & {i.platform for i in moving}
        if clash:
            name = PLATFORM_LABELS.get(sorted(clash)[0], sorted(clash)[0])
            raise UserError(f"Both accounts already have a {name} identity. A member owns one account per platform.")
        for identity in moving:
            identity.member_id = survivor_id
        absorbed.merged_into = survivor_id
        if self._merge_hook is not None:
            await session.flush()
            await self._merge_hook(session, survivor_id, absorbed_id)
        return LinkResult(
            survivor_id=survivor_id,
            absorbed_id=absorbed_id,
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
            timezone = resolve_timezone(timezone).name  # any case: europe/london is Europe/London
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
                    raise BadArgument("sms", "verify your phone first: `/sms verify +1…`, then `/sms confirm CODE`")
            if timezone is not None:
                member.timezone = timezone
            if dm_enabled is not None:
                member.dm_enabled = dm_enabled
            if sms_enabled is not None:
                member.sms_enabled = sms_enabled
            if channel_order is not None:
                member.channel_order = list(channel_order)
            return member


def show_link_code(code: str) -> str:
    """``ABCDEFGHJK`` as ``ABCDE-FGHJK``: two groups are easier to read out and type."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def read_link_code(text: str) -> str:
    """What a member typed (any case, with dashes or spaces) as the stored code."""
    return "".join(text.split()).replace("-", "").upper()


def handle_key(text: str) -> str:
    """A name as compared: without leading ``@`` and surrounding space, case-folded."""
    return text.strip().lstrip("@").strip().casefold()


def _one_member(rows: Sequence[tuple[Member, str]], shown: str) -> Member | None:
    members = {member.id: member for member, _platform in rows}
    if len(members) > 1:
        platforms = ", ".join(sorted({PLATFORM_LABELS.get(platform, platform) for _m, platform in rows}))
        raise NotFound(
            f"Several members go by `{shown[:40]}` ({platforms}). Use an @mention or their #id (see `/profile`)."
        )
    return next(iter(members.values()), None)
