"""``/link``: a code joins two accounts only when the code's owner says yes.

Redeeming a code spends it and files a ``LinkRequest``; the owner is sent "Telegram @x wants to join
your account: Confirm / Refuse" through the delivery outbox, and only the owner's Confirm merges.
Wrong codes count against the caller and against everyone (``Limit`` rows in the database, shared by
every process); when either fills, ``/link`` locks for a window and owners of live codes are told.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.account.config import AccountSection
from bot.account.models import CONFIRMED, PENDING, REFUSED, LinkRequest
from bot.account.throttle import Limit, Throttled
from bot.delivery.service import Delivery
from core.delivery import NewMessage, enqueue
from core.engine import Engine
from core.errors import NotFound, UserError
from core.identity import MEMBER_MERGED, PLATFORM_LABELS, Caller, LinkResult, read_link_code
from core.replies import Button, Reply
from core.storage.models import Identity, LinkCode
from core.storage.types import utcnow

#: outbox sources: the owner's Confirm/Refuse, the joiner's answer, the lockout warning
ASK_SOURCE = "link"
ANSWER_SOURCE = "link-answer"
WARN_SOURCE = "link-guard"
_EVERYONE = "everyone"


def account_label(platform: str, handle: str) -> str:
    """``Telegram @sam``, ``Discord @sam``, ``Phone +1******0123``: how an account is shown to members."""
    label = PLATFORM_LABELS.get(platform, platform.title())
    if platform in ("discord", "telegram") and handle:
        return f"{label} @{handle.lstrip('@')}"
    return f"{label} {handle}".strip()


@dataclass(frozen=True)
class Requested:
    """A filed request: its id and the account the joiner asked to join."""

    request_id: int
    owner_label: str


class Linking:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        settings = engine.config.get(AccountSection)
        window = float(settings.link_lockout_s)
        self._per_member = Limit("link-fail:member", settings.link_failures_per_member, window)
        self._everyone = Limit("link-fail", settings.link_failures_global, window)
        self._request_ttl = timedelta(seconds=settings.link_request_ttl_s)

    async def request(self, raw_code: str, joiner_id: int, caller: Caller) -> Requested:
        """Spend the code and ask its owner. A wrong code counts against the caller and everyone."""
        now = utcnow()
        member_subject = str(joiner_id)
        async with self._engine.db.transaction() as session:
            try:
                await self._per_member.take(session, member_subject, now)
            except Throttled as exc:
                raise UserError(
                    f"Too many wrong link codes from this account. Try again in {exc.minutes} minutes."
                ) from None
            try:
                await self._everyone.take(session, _EVERYONE, now)
            except Throttled as exc:
                raise UserError(
                    "Too many wrong link codes were tried here lately, so `/link` is paused for everyone. "
                    f"Try again in {exc.minutes} minutes."
                ) from None
            failure: UserError | None = None
            try:
                code = await self._spend(session, read_link_code(raw_code), joiner_id, caller.platform, now)
            except UserError as wrong:
                failure = wrong
            if failure is None:
                await self._per_member.give_back(session, member_subject)
                await self._everyone.give_back(session, _EVERYONE)
                filed = await self._file(session, code, joiner_id, caller, now)
            else:
                locked = await self._lock_if_full(session, member_subject, now)
        self._wake()
        if failure is None:
            return filed
        if locked:
            raise UserError(f"{failure} Too many wrong link codes: `/link` is locked for a while.")
        raise failure

    async def _spend(self, session: AsyncSession, text: str, joiner_id: int, platform: str, now: datetime) -> LinkCode:
        code = await session.get(LinkCode, text) if text else None
        if code is None:
            raise NotFound("That link code does not exist. Check it, or run `/link` again for a new one.")
        if code.used_at is not None:
            spent = (await session.execute(select(LinkRequest.id).where(LinkRequest.code == text))).first()
            if spent is None:
                raise UserError("That link code was replaced by a newer code. Use the newest one `/link` showed.")
            raise UserError("That link code was already used. Run `/link` again for a new one.")
        if code.expires_at <= now:
            raise UserError("That link code has expired. Run `/link` again for a new one.")
        if code.member_id == joiner_id:
            label = PLATFORM_LABELS.get(platform, platform.title())
            raise UserError(
                f"Send this code from your other account, not from {label}: it links a second platform to this one."
            )
        spent_now = await session.execute(
            update(LinkCode).where(LinkCode.code == text, LinkCode.used_at.is_(None)).values(used_at=now)
        )
        if spent_now.rowcount != 1:  # type: ignore[attr-defined]
            raise UserError("That link code was already used. Run `/link` again for a new one.")
        return code

    async def _file(
        self, session: AsyncSession, code: LinkCode, joiner_id: int, caller: Caller, now: datetime
    ) -> Requested:
        owner_label = await self._label(session, code.member_id, code.platform)
        joiner_label = account_label(caller.platform, caller.display_name[:100])
        request = LinkRequest(
            code=code.code,
            owner_id=code.member_id,
            joiner_id=joiner_id,
            joiner_label=joiner_label,
            joiner_platform=caller.platform,
            status=PENDING,
            created_at=now,
            expires_at=now + self._request_ttl,
        )
        session.add(request)
        await session.flush()
        ask = Reply(
            title="🔗 Link request",
            text=(
                f"{joiner_label} wants to join your account ({owner_label}, member #{code.member_id}).\n"
                "If you confirm, that account and everything it holds (LACES, alerts, items) becomes part of "
                "yours. Confirm only if it is yours; refuse anything you don't recognise.\n"
                f"`/link confirm {request.id}` or `/link refuse {request.id}`"
            ),
            buttons=[
                Button(label="Confirm", action=f"/link confirm {request.id}"),
                Button(label="Refuse", action=f"/link refuse {request.id}"),
            ],
        )
        await enqueue(
            session,
            [NewMessage(source=ASK_SOURCE, ref=str(request.id), member_id=code.member_id,
                        channels=[code.platform], reply=ask)],
        )  # fmt: skip
        return Requested(request_id=request.id, owner_label=owner_label)

    async def _lock_if_full(self, session: AsyncSession, member_subject: str, now: datetime) -> bool:
        """After a wrong code: if it filled a counter, start the lockout and warn live codes' owners."""
        locked = False
        for limit, subject in ((self._per_member, member_subject), (self._everyone, _EVERYONE)):
            try:
                await limit.check(session, subject, now)
            except Throttled:
                await limit.lock(session, subject, now)
                locked = True
        if locked:
            await self._warn_owners(session, now)
        return locked

    async def _warn_owners(self, session: AsyncSession, now: datetime) -> None:
        live = (
            await session.execute(select(LinkCode).where(LinkCode.used_at.is_(None), LinkCode.expires_at > now))
        ).scalars()
        warning = Reply(
            title="🔒 Wrong link codes",
            text=(
                "Someone just tried many wrong /link codes here and `/link` locked them out for a while. "
                "Your code still works, and nothing joins your account unless you press Confirm: "
                "refuse any request you don't recognise."
            ),
        )
        await enqueue(
            session,
            [NewMessage(source=WARN_SOURCE, ref=code.code, member_id=code.member_id, channels=[code.platform],
                        reply=warning) for code in live],
        )  # fmt: skip

    async def decide(self, request_id: int, member_id: int, *, confirm: bool) -> LinkResult | None:
        """The owner's answer: Confirm merges the joiner into the owner (one transaction with every
        slice's merge hook), Refuse leaves both apart. Anyone but the owner is refused."""
        now = utcnow()
        async with self._engine.db.transaction() as session:
            request = await session.get(LinkRequest, request_id)
            if request is None or member_id not in (request.owner_id, request.joiner_id):
                raise NotFound(f"No link request #{request_id} for you.")
            if request.owner_id != member_id:
                raise UserError("Only the account that issued the code can confirm or refuse this request.")
            if request.status != PENDING:
                raise UserError(f"That link request was already {request.status}.")
            if request.expires_at <= now:
                raise UserError("That link request has expired. Ask for a new code with `/link`.")
            decided = await session.execute(
                update(LinkRequest)
                .where(LinkRequest.id == request_id, LinkRequest.status == PENDING)
                .values(status=CONFIRMED if confirm else REFUSED, decided_at=now)
            )
            if decided.rowcount != 1:  # type: ignore[attr-defined]
                raise UserError("That link request was already answered.")
            result = (
                await self._engine.identity.merge(session, request.owner_id, request.joiner_id) if confirm else None
            )
            owner_label = await self._label(session, request.owner_id, None)
            answer = (
                Reply(
                    title="✅ Accounts linked",
                    text=f"Your {request.joiner_label} account is now part of {owner_label}.",
                )
                if confirm
                else Reply(
                    title="🔗 Link refused", text=f"{owner_label} refused to join your {request.joiner_label} account."
                )
            )
            await enqueue(
                session,
                [NewMessage(source=ANSWER_SOURCE, ref=str(request.id),
                            member_id=request.owner_id if confirm else request.joiner_id,
                            channels=[request.joiner_platform], reply=answer)],
            )  # fmt: skip
        if result is not None:
            await self._engine.bus.publish(
                MEMBER_MERGED, {"survivor_id": result.survivor_id, "absorbed_id": result.absorbed_id}
            )
        self._wake()
        return result

    async def _label(self, session: AsyncSession, member_id: int, platform: str | None) -> str:
        """The member's account on ``platform`` (or their first one), as the other side sees it."""
        query = select(Identity.platform, Identity.handle).where(Identity.member_id == member_id)
        rows = (await session.execute(query.order_by(Identity.platform))).all()
        chosen = next((row for row in rows if row.platform == platform), rows[0] if rows else None)
        return account_label(chosen.platform, chosen.handle) if chosen is not None else f"member #{member_id}"

    def _wake(self) -> None:
        self._engine.service(Delivery).wake()  # the account slice depends on delivery


__all__ = ["Linking", "Requested", "account_label"]
