"""Reminder waves that arrive on time, whatever the group's size.

A wave is every member's reminder for one drop at one offset (``1h`` before release). Sending starts
when the wave is due would make the last member of a big group minutes late: the platforms cap how
fast a bot may send (the delivery limiter's rates). So each wave's outbox rows are written ahead with
a not-before time that is early enough, per channel, for the whole wave to go out at the rate the
limiter allows (times ``rate_share``, for other traffic) and land ``guard_s`` before it is due:

    needed = guard_s + members_on_channel / (rate[channel] × rate_share)
    starts_at[channel] = due - max(needed, min(arrival_window_s - 1, needed × slack))

A small wave therefore lands a few seconds before it is due; a big one starts near the beginning of
the minute before it, keeping the rest of the minute as a cushion against a slower send; a wave too
big for the minute at the platforms' limits starts as early as it must (arriving early, never late). The
rows expire at the release (a reminder after the drop has started is worse than none), and their
keys name the drop, the offset and the release moment, so a restart re-plans nothing twice
(``DropFanout`` records each planned wave in the same transaction as its rows) and a moved release
plans fresh waves while the old ones' unsent rows are retired.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.models import AlertPrefs
from bot.alerts.service import channels_for
from bot.alerts.timing import quiet_until
from bot.drops import render
from bot.drops.config import DropsSection
from bot.drops.models import CONFIRMED, Drop, DropFanout, DropReminder
from core.delivery.models import EXPIRED, PENDING, OutboxMessage
from core.delivery.outbox import enqueue_rows, expiry, key_for
from core.replies import Reply
from core.storage.database import Database
from core.storage.models import Identity, Member
from core.storage.types import utcnow

log = structlog.get_logger(__name__)

SOURCE = "drops"
#: a wave missed (the bot was down) is still sent this long after it was due, if the drop has not begun
STALE_S = 15 * 60


@dataclass(frozen=True)
class Wave:
    drop_id: int
    offset_s: int
    release_unix: int

    @property
    def ref(self) -> str:
        return f"{self.drop_id}.{self.offset_s}.{self.release_unix}"


def wave_prefix(drop_id: int) -> str:
    """The outbox ``group_key`` prefix of every reminder row of a drop."""
    return f"{SOURCE}:{drop_id}."


def starts(
    counts: Mapping[str, int], rates: Mapping[str, float], due: datetime, settings: DropsSection
) -> dict[str, datetime]:
    """When each channel's share of a wave starts. It needs ``guard_s + n / (rate × rate_share)``;
    a wave that fits the arrival window is given ``slack`` times that, up to the window, so a slower
    send than planned (a busy machine, other traffic) still lands before due."""
    result = {}
    for channel, count in counts.items():
        rate = max(0.01, rates.get(channel, 1.0) * settings.rate_share)
        needed = settings.guard_s + count / rate
        lead = max(needed, min(settings.arrival_window_s - 1.0, needed * settings.slack))
        result[channel] = due - timedelta(seconds=lead)
    return result


@dataclass
class Recipient:
    member_id: int
    timezone: str
    channels: list[str]
    offsets: list[int]
    ticked: list[str]
    high: bool


class ReminderPlanner:
    """Writes due reminder waves to the outbox. ``rates`` gives each channel's sends per second (the
    delivery limiter); ``platforms`` the platforms this server delivers on now."""

    def __init__(
        self,
        db: Database,
        settings: DropsSection,
        *,
        rates: Callable[[str], float],
        platforms: Callable[[], set[str]],
        validity_s: Mapping[str, float],
        wake: Callable[[], None],
    ) -> None:
        self._db = db
        self.settings = settings
        self._rates = rates
        self._platforms = platforms
        self._validity_s = validity_s
        self._wake = wake
        self._payloads: dict[tuple[Any, ...], dict[str, Any]] = {}

    async def plan(self, now: datetime | None = None, *, drop_id: int | None = None) -> int:
        """Plan every wave (of one drop, with ``drop_id``) whose fan-out starts within
        ``plan_ahead_s``; returns messages written."""
        now = now or utcnow()
        horizon = now + timedelta(days=self.settings.max_offset_days, seconds=self.settings.plan_ahead_s)
        query = select(Drop).where(Drop.status == CONFIRMED, Drop.release_at > now, Drop.release_at <= horizon)
        if drop_id is not None:
            query = query.where(Drop.id == drop_id)
        async with self._db.read() as session:
            drops = list(await session.scalars(query))
            if not drops:
                return 0
            offsets = (
                await session.execute(
                    select(DropReminder.drop_id, DropReminder.offsets).where(
                        DropReminder.drop_id.in_([d.id for d in drops])
                    )
                )
            ).all()
            planned = {
                tuple(row)
                for row in (
                    await session.execute(
                        select(DropFanout.drop_id, DropFanout.offset_s, DropFanout.release_unix).where(
                            DropFanout.drop_id.in_([d.id for d in drops])
                        )
                    )
                ).all()
            }
        wanted: dict[int, set[int]] = defaultdict(set)
        for drop_id, values in offsets:
            wanted[drop_id].update(int(v) for v in values or [])
        written = 0
        # the widest possible lead: a wave may need to start this far ahead of its due time
        reach = timedelta(seconds=self.settings.plan_ahead_s + self.settings.arrival_window_s * 10)
        for drop in drops:
            release_unix = int(drop.release_at.timestamp())
            for offset in sorted(wanted.get(drop.id, ()), reverse=True):
                due = drop.release_at - timedelta(seconds=offset)
                if (drop.id, offset, release_unix) in planned or due - reach > now:
                    continue
                if (now - due).total_seconds() > STALE_S:
                    continue  # long missed: a reminder that late is noise (a later wave will come)
                written += await self._plan_wave(drop, offset, now)
        if written:
            self._wake()
        return written

    async def _plan_wave(self, drop: Drop, offset: int, now: datetime) -> int:
        """Write one wave if it must start within ``plan_ahead_s`` (else leave it for a later tick)."""
        due = drop.release_at - timedelta(seconds=offset)
        recipients = await self._recipients(drop, offset, due)
        counts: dict[str, int] = defaultdict(int)
        for person in recipients:
            counts[person.channels[0]] += 1
        queued = await self._queued(counts, due)
        begin = starts(
            {c: n + queued.get(c, 0) for c, n in counts.items()},
            {c: self._rates(c) for c in counts},
            due,
            self.settings,
        )
        if begin and min(begin.values()) - now > timedelta(seconds=self.settings.plan_ahead_s):
            return 0
        wave = Wave(drop.id, offset, int(drop.release_at.timestamp()))
        rows = [self._row(drop, wave, person, max(begin[person.channels[0]], now), now) for person in recipients]
        try:
            async with self._db.transaction() as session:
                session.add(
                    DropFanout(
                        drop_id=drop.id,
                        offset_s=offset,
                        release_unix=wave.release_unix,
                        members=len(rows),
                        starts_at=min(begin.values(), default=due),
                    )
                )
                await session.flush()
                await enqueue_rows(session, rows)
        except IntegrityError:
            return 0  # another process planned it first
        log.info(
            "drops.wave_planned",
            drop=drop.id,
            offset=offset,
            members=len(rows),
            lead_s=round((due - min(begin.values(), default=due)).total_seconds(), 1),
        )
        return len(rows)

    async def _queued(self, counts: Mapping[str, int], due: datetime) -> dict[str, int]:
        """Reminder rows of other waves still waiting to go out on these channels before ``due``."""
        if not counts:
            return {}
        async with self._db.read() as session:
            rows = await session.execute(
                select(OutboxMessage.channel, func.count())
                .where(
                    OutboxMessage.source == SOURCE,
                    OutboxMessage.status == PENDING,
                    OutboxMessage.channel.in_(list(counts)),
                    OutboxMessage.next_attempt_at <= due,
                )
                .group_by(OutboxMessage.channel)
            )
            return {channel: int(n) for channel, n in rows.all()}

    async def plan_member(self, drop: Drop, member_id: int, offsets: set[int]) -> int:
        """Add one member to waves of ``drop`` already planned (they asked after the planner ran)."""
        now = utcnow()
        rows = []
        release_unix = int(drop.release_at.timestamp())
        for offset in offsets:
            due = drop.release_at - timedelta(seconds=offset)
            if (now - due).total_seconds() > STALE_S:
                continue
            start = max(now, due - timedelta(seconds=self.settings.guard_s))
            wave = Wave(drop.id, offset, release_unix)
            rows += [
                self._row(drop, wave, person, start, now)
                for person in await self._recipients(drop, offset, due, only=member_id)
            ]
        if rows:
            async with self._db.transaction() as session:
                await enqueue_rows(session, rows)
            self._wake()
        return len(rows)

    async def _recipients(self, drop: Drop, offset: int, due: datetime, *, only: int | None = None) -> list[Recipient]:
        platforms = self._platforms()
        query = (
            select(DropReminder, Member)
            .join(Member, Member.id == DropReminder.member_id)
            .where(DropReminder.drop_id == drop.id)
        )
        if only is not None:
            query = query.where(DropReminder.member_id == only)
        async with self._db.read() as session:
            rows = (await session.execute(query)).all()
            ids = [member.id for reminder, member in rows if offset in (reminder.offsets or [])]
            linked: dict[int, set[str]] = defaultdict(set)
            prefs: dict[int, AlertPrefs] = {}
            for start in range(0, len(ids), 5000):
                chunk = ids[start : start + 5000]
                for member_id, platform in (
                    await session.execute(
                        select(Identity.member_id, Identity.platform).where(Identity.member_id.in_(chunk))
                    )
                ).all():
                    linked[member_id].add(platform)
                for row in await session.scalars(select(AlertPrefs).where(AlertPrefs.member_id.in_(chunk))):
                    prefs[row.member_id] = row
        console = "shell" in platforms
        result = []
        for reminder, member in rows:
            if offset not in (reminder.offsets or []):
                continue
            channels = channels_for(
                member,
                linked[member.id] & platforms | ({"shell"} & linked[member.id]),
                (),
                reminder.high_priority,
                console=console,
            )
            if not channels:
                continue
            pref = prefs.get(member.id)
            quiet = pref is not None and quiet_until(due, member.timezone, pref.quiet_start, pref.quiet_end)
            if quiet and not reminder.high_priority:
                log.info("drops.reminder_quiet", drop=drop.id, member=member.id, offset=offset)
                continue
            result.append(
                Recipient(
                    member.id,
                    member.timezone or "UTC",
                    channels,
                    list(reminder.offsets),
                    list(reminder.ticked or []),
                    reminder.high_priority,
                )
            )
        return result

    def _payload(self, drop: Drop, wave: Wave, person: Recipient) -> dict[str, Any]:
        """The reminder as stored; members with the same zone and checklist share one (a wave of
        thousands renders a handful)."""
        last = wave.offset_s == min(person.offsets)
        key = (drop.id, drop.sequence, wave.ref, person.timezone, last, tuple(sorted(person.ticked)) if last else ())
        found = self._payloads.get(key)
        if found is None:
            if len(self._payloads) > 4096:
                self._payloads.clear()
            reply = render.reminder(
                drop,
                person.timezone,
                wave.offset_s,
                last=last,
                ticked=person.ticked,
                now=drop.release_at - timedelta(seconds=wave.offset_s),
            )
            found = self._payloads[key] = reply.model_dump(mode="json", exclude_defaults=True)
        return found

    def _row(self, drop: Drop, wave: Wave, person: Recipient, start: datetime, now: datetime) -> dict[str, Any]:
        first, *rest = person.channels
        group_key = f"{SOURCE}:{wave.ref}:{person.member_id}"
        validity = expiry(first, start, self._validity_s)
        return {
            "key": key_for(group_key, first),
            "group_key": group_key,
            "source": SOURCE,
            "member_id": person.member_id,
            "channel": first,
            "fallbacks": rest,
            "payload": self._payload(drop, wave, person),
            "priority": 1 if person.high else 0,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": start,
            "expires_at": min(drop.release_at, validity) if validity else drop.release_at,
            "created_at": now,
        }


async def retire_waves(session: AsyncSession, drop_id: int, reason: str) -> int:
    """Unsent reminder rows of a drop are retired (its release moved or it was cancelled), and its
    planned waves forgotten so the new release is planned afresh."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.source == SOURCE,
            OutboxMessage.status == PENDING,
            OutboxMessage.group_key.like(wave_prefix(drop_id) + "%"),
        )
        .values(status=EXPIRED, last_error=reason[:300])
    )
    await session.execute(delete(DropFanout).where(DropFanout.drop_id == drop_id))
    return int(result.rowcount)  # type: ignore[attr-defined]


def notices(
    drop: Drop, people: Sequence[tuple[int, str, list[str]]], ref: str, reply_for: Callable[[str], Reply]
) -> list[dict[str, Any]]:
    """Outbox rows telling members something about a drop now (a cancellation): ``people`` are
    (member id, zone, channels)."""
    now = utcnow()
    rows = []
    for member_id, zone, channels in people:
        if not channels:
            continue
        first, *rest = channels
        group_key = f"{SOURCE}:{ref}:{member_id}"
        rows.append(
            {
                "key": key_for(group_key, first),
                "group_key": group_key,
                "source": SOURCE,
                "member_id": member_id,
                "channel": first,
                "fallbacks": rest,
                "payload": reply_for(zone).model_dump(mode="json", exclude_defaults=True),
                "priority": 0,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "expires_at": None,
                "created_at": now,
            }
        )
    return rows
