"""The legit-check service: submit, vote, close, pay, announce, appeal and moderate.

Every state change is one transaction keyed so a retry does nothing twice: a submission by its
platform request (``request_key`` unique), a vote by (check, member) (unique), a close by moving the
row from ``open`` with a conditional update (two processes racing for a deadline close it once), a
payout by the economy's earn key (check and voter), a DM by its outbox key. What happens after a close
(payouts, the DM, the card update) is marked done on the row, and the sweep retries what is not.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import structlog
from PIL import Image
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery.reach import direct_reach
from bot.delivery.service import Delivery
from bot.economy.runtime import EconomyRuntime
from bot.legitcheck import render
from bot.legitcheck.config import LegitCheckSection
from bot.legitcheck.models import CLOSED, OPEN, VOID, LcCheck, LcDraft, LcPhoto, LcPhotoHash, LcVote, LcVoter
from bot.legitcheck.phash import query_hashes, stored_hashes, to_signed
from bot.legitcheck.photoindex import PhotoIndex
from bot.legitcheck.tally import FAKE, INCONCLUSIVE, REAL, Ballot, Outcome, Record, affinity, tally, weight
from core.delivery import NewMessage, enqueue
from core.errors import NotFound, UserError
from core.markup import escape
from core.photos import PhotoStore, StoredPhoto
from core.replies import Reply
from core.storage.models import DEFAULT_CHANNEL_ORDER, Identity, Member
from core.storage.types import utcnow

if TYPE_CHECKING:
    from core.engine import Engine

log = structlog.get_logger(__name__)

EARN_KIND = "legit_vote_won"
DM_SOURCE = "lc"


@dataclass(frozen=True)
class Submitted:
    check: LcCheck
    #: the check was already there (a redelivered submission)
    replayed: bool = False


@dataclass(frozen=True)
class Cast:
    check_id: int
    choice: str
    closed: bool


class LegitChecks:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.db = engine.db
        self.settings = engine.config.get(LegitCheckSection)
        self.store = PhotoStore.from_config(engine.config, self.settings.photos)
        self.photos = PhotoIndex(engine.db)

    # ------------------------------------------------------------------ submitting

    async def submit(
        self,
        member: Member,
        item: str,
        size: str | None,
        photos: Sequence[StoredPhoto],
        *,
        request_key: str | None = None,
        gold_answer: str | None = None,
    ) -> Submitted:
        """Store a check of ``photos`` (already in the photo store), flag photos used before, post its card."""
        if request_key is not None:
            earlier = await self._by_request(request_key)
            if earlier is not None:
                return Submitted(earlier, replayed=True)
        if len(photos) < self.settings.min_photos:
            raise UserError(
                f"A check needs at least {self.settings.min_photos} photos; you sent {len(photos)}. "
                f"Send these shots:\n{render.shots_text()}"
            )
        hashed = [await asyncio.to_thread(self._hash, await self.store.read(photo.sha256)) for photo in photos]
        reuse = await self._reuse(member.id, [query for _, query in hashed])
        now = utcnow()
        check = LcCheck(
            member_id=member.id,
            item=item.strip()[:200],
            size=size.strip()[:16] if size else None,
            status=OPEN,
            request_key=request_key,
            created_at=now,
            deadline_at=now + timedelta(hours=self.settings.deadline_hours),
            real_share=0.0,
            fake_share=0.0,
            unsure_share=0.0,
            reasons=[],
            reuse=reuse,
            gold_answer=gold_answer,
            paid=False,
            announced=False,
        )
        try:
            async with self.db.transaction() as session:
                session.add(check)
                await session.flush()
                for position, (photo, (stored, _)) in enumerate(zip(photos, hashed, strict=True), start=1):
                    row = LcPhoto(
                        check_id=check.id,
                        position=position,
                        sha256=photo.sha256,
                        media_type=photo.type,
                        width=photo.width,
                        height=photo.height,
                    )
                    session.add(row)
                    await session.flush()
                    session.add_all(
                        LcPhotoHash(photo_id=row.id, key=to_signed(key), check=to_signed(check))
                        for key, check in stored
                    )
        except IntegrityError:
            earlier = await self._by_request(request_key) if request_key else None
            if earlier is None:
                raise
            return Submitted(earlier, replayed=True)
        await self.photos.refresh()
        await self._publish(check, new=True)
        return Submitted(check)

    @staticmethod
    def _hash(data: bytes) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return stored_hashes(image), query_hashes(image)

    async def _reuse(self, member_id: int, queries: list[list[tuple[int, int]]]) -> list[dict[str, Any]]:
        """Photos of this submission seen before in another member's check, or in a judged one
        (reusing your own photos in your own open check is not stealing)."""
        found: list[dict[str, Any]] = []
        for position, query in enumerate(queries, start=1):
            matches = await self.photos.search(query, self.settings.match_bits, self.settings.check_bits)
            if not matches:
                continue
            async with self.db.read() as session:
                rows = (
                    await session.execute(
                        select(LcPhoto.id, LcCheck.id, LcCheck.member_id, LcCheck.status)
                        .join(LcCheck, LcCheck.id == LcPhoto.check_id)
                        .where(LcPhoto.id.in_(list(matches)))
                        .order_by(LcCheck.id)
                    )
                ).all()
            for photo_id, check_id, owner, status in rows:
                if owner != member_id or status != OPEN:
                    found.append({"photo": position, "check_id": check_id, "bits": matches[photo_id]})
                    break
        return found

    async def _by_request(self, request_key: str) -> LcCheck | None:
        async with self.db.read() as session:
            return (await session.execute(select(LcCheck).where(LcCheck.request_key == request_key))).scalar()

    # ------------------------------------------------------------------ reading

    async def get(self, check_id: int) -> LcCheck:
        async with self.db.read() as session:
            check = await session.get(LcCheck, check_id)
        if check is None:
            raise NotFound(f"No legit check #{check_id}.")
        return check

    async def vote_count(self, check_id: int) -> int:
        async with self.db.read() as session:
            return int(await session.scalar(select(func.count()).where(LcVote.check_id == check_id)) or 0)

    async def photo_files(self, check_id: int) -> list[tuple[str, bytes]]:
        async with self.db.read() as session:
            rows = (
                await session.execute(select(LcPhoto).where(LcPhoto.check_id == check_id).order_by(LcPhoto.position))
            ).scalars()
            photos = list(rows)
        files = []
        for photo in photos:
            try:
                files.append(
                    (
                        f"lc{check_id}-{photo.position}.{'jpg' if photo.media_type == 'jpeg' else photo.media_type}",
                        await self.store.read(photo.sha256),
                    )
                )
            except FileNotFoundError:
                log.warning("legitcheck.photo_missing", check_id=check_id, sha256=photo.sha256)
        return files

    async def card(self, check: LcCheck, *, with_photos: bool = True) -> Reply:
        photos = await self.photo_files(check.id) if with_photos else []
        return render.card(check, await self.vote_count(check.id), photos)

    async def mine(self, member_id: int, limit: int = 10) -> list[LcCheck]:
        async with self.db.read() as session:
            rows = await session.execute(
                select(LcCheck).where(LcCheck.member_id == member_id).order_by(LcCheck.id.desc()).limit(limit)
            )
            return list(rows.scalars())

    async def queue(self, member_id: int, limit: int = 10) -> list[LcCheck]:
        """Open checks by others that ``member_id`` has not voted on, oldest first."""
        voted = select(LcVote.check_id).where(LcVote.member_id == member_id)
        async with self.db.read() as session:
            rows = await session.execute(
                select(LcCheck)
                .where(LcCheck.status == OPEN, LcCheck.member_id != member_id, LcCheck.id.not_in(voted))
                .order_by(LcCheck.deadline_at, LcCheck.id)
                .limit(limit)
            )
            return list(rows.scalars())

    async def record(self, member_id: int) -> tuple[LcVoter | None, int]:
        """A voter's record and how many votes they have cast."""
        async with self.db.read() as session:
            voter = await session.get(LcVoter, member_id)
            votes = await session.scalar(select(func.count()).where(LcVote.member_id == member_id))
        return voter, int(votes or 0)

    async def is_authenticator(self, member_id: int) -> bool:
        if not self.settings.authenticators:
            return False
        keys = set(self.settings.authenticators)
        return any(f"{i.platform}:{i.external_id}" in keys for i in await self.engine.identity.identities(member_id))

    async def weight_of(self, member_id: int) -> float:
        voter, _ = await self.record(member_id)
        return weight(_record(voter), self.settings, authenticator=await self.is_authenticator(member_id))

    # ------------------------------------------------------------------ voting

    async def vote(self, member: Member, check_id: int, choice: str, reasons: Sequence[str], note: str) -> Cast:
        """One vote per member per check, hidden until it closes; closes the check at its quorum."""
        base_weight = await self.weight_of(member.id)
        closed = False
        try:
            async with self.db.transaction() as session:
                check = await session.get(LcCheck, check_id, with_for_update=True)
                if check is None:
                    raise NotFound(f"No legit check #{check_id}.")
                if check.status != OPEN:
                    raise UserError(f"Check #{check_id} is closed; votes are no longer taken.")
                if check.member_id == member.id:
                    raise UserError("You can't vote on your own check.")
                voter = await session.get(LcVoter, member.id)
                if voter is not None and voter.barred:
                    raise UserError("A mod has barred you from voting on legit checks.")
                existing = await session.scalar(
                    select(LcVote.id).where(LcVote.check_id == check_id, LcVote.member_id == member.id)
                )
                if existing is not None:
                    raise UserError(f"You already voted on #{check_id}. Votes stay hidden until it closes.")
                earlier = await session.scalar(
                    select(func.count())
                    .select_from(LcVote)
                    .join(LcCheck, LcCheck.id == LcVote.check_id)
                    .where(LcVote.member_id == member.id, LcCheck.member_id == check.member_id)
                )
                member_weight = affinity(base_weight, int(earlier or 0), self.settings)
                session.add(
                    LcVote(
                        check_id=check_id,
                        member_id=member.id,
                        choice=choice,
                        reasons=list(reasons),
                        note=note[:200],
                        weight=member_weight,
                        created_at=utcnow(),
                    )
                )
                await session.flush()
                await session.execute(
                    delete(LcDraft).where(LcDraft.check_id == check_id, LcDraft.member_id == member.id)
                )
                outcome = tally(await self._ballots(session, check_id), self.settings, final=False)
                if outcome.verdict is not None:
                    closed = await self._close(session, check, outcome)
        except IntegrityError:
            raise UserError(f"You already voted on #{check_id}. Votes stay hidden until it closes.") from None
        if closed:
            await self.finish(check_id)
        return Cast(check_id, choice, closed)

    async def votable(self, member: Member, check_id: int) -> LcCheck:
        """The check, if ``member`` may still vote on it; otherwise the reason why not."""
        check = await self.get(check_id)
        if check.status != OPEN:
            raise UserError(f"Check #{check_id} is closed; votes are no longer taken.")
        if check.member_id == member.id:
            raise UserError("You can't vote on your own check.")
        async with self.db.read() as session:
            voted = await session.scalar(
                select(LcVote.id).where(LcVote.check_id == check_id, LcVote.member_id == member.id)
            )
        if voted is not None:
            raise UserError(f"You already voted on #{check_id}. Votes stay hidden until it closes.")
        return check

    async def pick(self, member: Member, check_id: int, choice: str, code: str) -> list[str]:
        """Tick or untick one checklist reason of a Fake or Unsure vote not cast yet; the ticked ones."""
        await self.votable(member, check_id)
        async with self.db.transaction() as session:
            draft = await session.get(LcDraft, (check_id, member.id), with_for_update=True)
            if draft is None:
                draft = LcDraft(check_id=check_id, member_id=member.id, choice=choice, reasons=[])
                session.add(draft)
            reasons = [] if draft.choice != choice else list(draft.reasons)
            reasons = [r for r in reasons if r != code] if code in reasons else [*reasons, code]
            draft.choice, draft.reasons = choice, reasons
        return reasons

    async def drafted(self, member: Member, check_id: int, choice: str) -> list[str]:
        async with self.db.read() as session:
            draft = await session.get(LcDraft, (check_id, member.id))
        return list(draft.reasons) if draft is not None and draft.choice == choice else []

    async def _ballots(self, session: AsyncSession, check_id: int) -> list[Ballot]:
        rows = (await session.execute(select(LcVote).where(LcVote.check_id == check_id))).scalars()
        return [Ballot(row.choice, row.weight, tuple(row.reasons)) for row in rows]

    async def _close(self, session: AsyncSession, check: LcCheck, outcome: Outcome) -> bool:
        """Move ``check`` from open to closed with ``outcome``, once, and score its voters."""
        verdict = outcome.verdict or INCONCLUSIVE
        if check.gold_answer is not None:
            verdict = check.gold_answer
        moved = await session.execute(
            update(LcCheck)
            .where(LcCheck.id == check.id, LcCheck.status == OPEN)
            .values(
                status=CLOSED,
                closed_at=utcnow(),
                verdict=verdict,
                real_share=outcome.shares.get(REAL, 0.0),
                fake_share=outcome.shares.get(FAKE, 0.0),
                unsure_share=outcome.shares.get("unsure", 0.0),
                reasons=list(outcome.reasons) if verdict == FAKE else [],
            )
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            return False
        votes = (await session.execute(select(LcVote).where(LcVote.check_id == check.id))).scalars()
        for vote in votes:
            if vote.choice not in (REAL, FAKE) or verdict not in (REAL, FAKE):
                continue
            voter = await session.get(LcVoter, vote.member_id, with_for_update=True)
            if voter is None:
                voter = LcVoter(
                    member_id=vote.member_id, agreed=0, disagreed=0, gold_right=0, gold_wrong=0, barred=False
                )
                session.add(voter)
            right = vote.choice == verdict
            if check.gold_answer is not None:
                voter.gold_right += right
                voter.gold_wrong += not right
            else:
                voter.agreed += right
                voter.disagreed += not right
        return True

    async def close_due(self) -> int:
        """Close every open check past its deadline (a verdict if the quorum and majority are there,
        else Inconclusive); any process may run it, each check closes once."""
        async with self.db.read() as session:
            due = list(
                (
                    await session.execute(
                        select(LcCheck.id).where(LcCheck.status == OPEN, LcCheck.deadline_at <= utcnow())
                    )
                ).scalars()
            )
        closed = 0
        for check_id in due:
            async with self.db.transaction() as session:
                check = await session.get(LcCheck, check_id, with_for_update=True)
                if check is None or check.status != OPEN:
                    continue
                outcome = tally(await self._ballots(session, check_id), self.settings, final=True)
                done = await self._close(session, check, outcome)
            if done:
                closed += 1
                await self.finish(check_id)
        return closed

    # ------------------------------------------------------------------ after a close

    async def finish(self, check_id: int) -> None:
        """Payouts, the submitter's DM and the card update of a closed (or voided) check, each once."""
        check = await self.get(check_id)
        if check.status == CLOSED and not check.paid:
            await self._pay(check)
        if not check.announced and check.status in (CLOSED, VOID):
            if check.status == CLOSED:
                await self._notify(check)
            await self._publish(check, new=False)
            async with self.db.transaction() as session:
                await session.execute(update(LcCheck).where(LcCheck.id == check_id).values(announced=True))

    async def _pay(self, check: LcCheck) -> None:
        """The winning side earns; Inconclusive pays nobody. Keys name check and voter."""
        if check.verdict in (REAL, FAKE) and self.engine.has_service(EconomyRuntime):
            economy = self.engine.service(EconomyRuntime).economy
            async with self.db.read() as session:
                winners = list(
                    (
                        await session.execute(
                            select(LcVote.member_id).where(LcVote.check_id == check.id, LcVote.choice == check.verdict)
                        )
                    ).scalars()
                )
            for member_id in winners:
                await economy.earn(EARN_KIND, member_id, f"lc{check.id}", note=f"legit check #{check.id}")
        async with self.db.transaction() as session:
            await session.execute(update(LcCheck).where(LcCheck.id == check.id).values(paid=True))

    async def _notify(self, check: LcCheck, reply: Reply | None = None, *, ref: str = "verdict") -> None:
        await self._dm(check.member_id, reply or render.verdict_dm(check), f"{check.id}:{ref}")

    async def _dm(self, member_id: int, reply: Reply, ref: str) -> None:
        member = await self.engine.identity.get(member_id)
        if member is None:
            return
        channels = list((await direct_reach(self.engine, member)).channels)
        if not channels:
            # nothing carries a DM right now: keep it in the outbox for a linked channel that comes back
            linked = {identity.platform for identity in await self.engine.identity.identities(member_id)}
            channels = [c for c in (*(member.channel_order or DEFAULT_CHANNEL_ORDER), "shell") if c in linked][:1]
        if not channels:
            return
        async with self.db.transaction() as session:
            await enqueue(
                session, [NewMessage(source=DM_SOURCE, ref=ref, member_id=member_id, channels=channels, reply=reply)]
            )
        if self.engine.has_service(Delivery):
            self.engine.service(Delivery).wake()

    async def _publish(self, check: LcCheck, *, new: bool) -> None:
        feed = self.settings.feed
        if feed not in self.engine.feeds.names:
            return
        card = await self.card(check)
        key = f"lc:{check.id}"
        if new:
            await self.engine.feeds.publish(feed, card, key=key)
        else:
            await self.engine.feeds.update(feed, key, card)

    # ------------------------------------------------------------------ appeals and moderation

    async def appeal(self, member: Member, check_id: int, note: str) -> LcCheck:
        check = await self.get(check_id)
        if check.member_id != member.id:
            raise UserError("Only the member who asked for a check can appeal it.")
        if check.status != CLOSED or check.closed_at is None:
            raise UserError(f"Check #{check_id} has no verdict yet; appeal once it closes.")
        if check.appealed_at is not None:
            raise UserError(f"You already appealed #{check_id}; a check is appealed once.")
        if utcnow() > check.closed_at + timedelta(hours=self.settings.appeal_hours):
            raise UserError(
                f"The appeal window of #{check_id} closed {self.settings.appeal_hours:g} h after its verdict."
            )
        async with self.db.transaction() as session:
            moved = await session.execute(
                update(LcCheck)
                .where(LcCheck.id == check_id, LcCheck.appealed_at.is_(None))
                .values(appealed_at=utcnow(), appeal_state="open", appeal_note=note[:300])
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                raise UserError(f"You already appealed #{check_id}; a check is appealed once.")
        check = await self.get(check_id)
        notice = Reply(
            title=f"⚖️ Appeal of legit check #{check_id}",
            text=f"{render.item_name(check)}\n{render.verdict_text(check)}\nThe submitter says: {escape(note)}",
            footer=f"/lc review {check_id} uphold|real|fake",
        )
        for member_id in await self.authenticator_ids():
            await self._dm(member_id, notice, f"{check_id}:appeal:{member_id}")
        return check

    async def authenticator_ids(self) -> list[int]:
        keys = [key.split(":", 1) for key in self.settings.authenticators if ":" in key]
        if not keys:
            return []
        async with self.db.read() as session:
            found: set[int] = set()
            for platform, external in keys:
                member_id = await session.scalar(
                    select(Identity.member_id).where(Identity.platform == platform, Identity.external_id == external)
                )
                if member_id is not None:
                    found.add(int(member_id))
        return sorted(found)

    async def review(self, reviewer: Member, check_id: int, decision: str) -> LcCheck:
        if not await self.is_authenticator(reviewer.id):
            raise UserError("Only authenticators review appeals.")
        check = await self.get(check_id)
        if check.appeal_state != "open":
            raise UserError(f"Check #{check_id} has no open appeal.")
        if check.member_id == reviewer.id:
            raise UserError("You can't review the appeal of your own check.")
        values: dict[str, Any] = {"appeal_state": "upheld"}
        overturned = decision != "uphold" and decision != check.verdict
        if overturned:
            # The voters who had it right are paid by ``finish``, as after any close (``paid`` is
            # cleared in the same commit, so a crash before it leaves the payout to ``sweep``).
            # Those paid for the old verdict keep what they earned: they voted in good faith and may
            # have spent it.
            values = {"appeal_state": "overturned", "verdict": decision, "reasons": [], "paid": False}
        async with self.db.transaction() as session:
            moved = await session.execute(
                update(LcCheck).where(LcCheck.id == check_id, LcCheck.appeal_state == "open").values(**values)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                raise UserError(f"Check #{check_id} has no open appeal.")
        if overturned:
            await self.finish(check_id)
        check = await self.get(check_id)
        await self._notify(check, render.verdict_dm(check), ref="appeal")
        await self._publish(check, new=False)
        return check

    async def void(self, check_id: int, reason: str) -> LcCheck:
        async with self.db.transaction() as session:
            moved = await session.execute(
                update(LcCheck)
                .where(LcCheck.id == check_id, LcCheck.status == OPEN)
                .values(status=VOID, closed_at=utcnow(), void_reason=reason[:200], paid=True)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                await self.get(check_id)
                raise UserError(f"Check #{check_id} is not open; only open checks can be voided.")
        check = await self.get(check_id)
        await self._notify(
            check,
            Reply(title=f"🔎 Legit check #{check_id} was voided", text=f"A mod voided it: {escape(reason)}"),
            ref="void",
        )
        await self.finish(check_id)
        return check

    async def bar(self, member_id: int, barred: bool) -> None:
        async with self.db.transaction() as session:
            voter = await session.get(LcVoter, member_id, with_for_update=True)
            if voter is None:
                session.add(
                    LcVoter(member_id=member_id, agreed=0, disagreed=0, gold_right=0, gold_wrong=0, barred=barred)
                )
            else:
                voter.barred = barred

    async def sweep(self) -> None:
        """Due deadlines, and any close whose payouts or announcements did not finish."""
        await self.close_due()
        async with self.db.read() as session:
            pending = list(
                (
                    await session.execute(
                        select(LcCheck.id).where(
                            LcCheck.status.in_((CLOSED, VOID)),
                            (LcCheck.paid.is_(False)) | (LcCheck.announced.is_(False)),
                        )
                    )
                ).scalars()
            )
        for check_id in pending:
            await self.finish(check_id)


def _record(voter: LcVoter | None) -> Record:
    if voter is None:
        return Record()
    return Record(voter.agreed, voter.disagreed, voter.gold_right, voter.gold_wrong)
