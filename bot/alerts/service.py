"""The alerts runtime: keeps the rule index current, turns each monitor event into outbox rows for
the members it matches, sends digests, and runs the delivery worker.

A fan-out writes members in chunks, urgent ones first; each chunk is one transaction holding both the
``alert_notices`` rows (one per event and member, unique: the same event never reaches a member twice,
however many of their rules match and however often the event is replayed) and the outbox rows. The
event itself is stored first with ``fanned_out = false`` and flipped when the last chunk is written,
so a crash mid-fan-out is finished at the next start-up.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.config import AlertsSection
from bot.alerts.deals import DealScorer, NoDeals, deals_for
from bot.alerts.matcher import Criteria, MatchEvent, RuleRef, prepare_event
from bot.alerts.models import AlertNotice, AlertPrefs, AlertRule, RecentEvent
from bot.alerts.render import alert_reply, digest_reply, summary
from bot.alerts.rule_index import RuleIndex
from bot.alerts.rules import compile_rule
from bot.alerts.timing import digest_period, local_day, quiet_until
from bot.delivery.service import Delivery
from core.delivery import DeliveryWorker, NewMessage, enqueue, enqueue_claimed
from core.delivery.models import OutboxMessage
from core.engine import Engine
from core.storage.models import DEFAULT_CHANNEL_ORDER, Identity, Member, table
from core.storage.types import utcnow

log = structlog.get_logger(__name__)

#: published when a member adds, edits, pauses, resumes or deletes a rule, so every process re-reads it
RULE_TOPIC = "alerts.rule_changed"

EVENT_TOPIC = "monitor.event"
SOURCE = "alert"
QUEUED, DIGEST, DIGESTED, UNREACHABLE = "queued", "digest", "digested", "unreachable"
HIGH_PRIORITY = 10
#: how long a fan-out waits for its first alert to go out before writing the rest
FIRST_SEND_WAIT_S = 0.05
DIRECT = ("discord", "telegram")


@dataclass(frozen=True)
class Recipient:
    """A matched member with what the fan-out needs to decide how and when to tell them."""

    member: Member
    rule: RuleRef
    platforms: frozenset[str]
    prefs: AlertPrefs | None


def channels_for(
    member: Member, platforms: Iterable[str], rule_channels: Sequence[str], high: bool, *, console: bool = False
) -> list[str]:
    """The channels to try, in order: the rule's own order or the member's, keeping those the member
    has linked and allowed. SMS is for high-priority rules only, and only with SMS alerts on.
    ``console``: the local shell is running, so a member who uses it also reads DMs there, last."""
    linked = set(platforms)
    order = list(rule_channels) or list(member.channel_order or DEFAULT_CHANNEL_ORDER)
    chosen: list[str] = []
    for channel in order:
        if channel not in linked:
            continue
        if channel in DIRECT and not member.dm_enabled:
            continue
        if channel == "sms" and not (member.sms_enabled and high):
            continue
        chosen.append(channel)
    if console and "shell" in linked and member.dm_enabled:
        chosen.append("shell")
    return chosen


class _Rehearsal(Exception):
    """Rolls back ``rehearse_fan_out``'s transaction."""


def best_rules(matched: Sequence[RuleRef]) -> dict[int, RuleRef]:
    """The rule each matched member's alert names: their high-priority rule with the lowest id, else
    their rule with the lowest id (the index returns matches in no particular order)."""
    best = {rule.member_id: rule for rule in matched}
    if len(best) < len(matched):  # someone has several matching rules: choose by urgency, then id
        for rule in matched:
            current = best[rule.member_id]
            if (not rule.high_priority, rule.rule_id) < (not current.high_priority, current.rule_id):
                best[rule.member_id] = rule
    return best


class FanOutOrder:
    """The order a fan-out writes its members in: high-priority members first, each group by member
    id. The first chunk is chosen before the whole order is sorted (when high-priority members fill
    it, sorting the other thousands waits until the first alerts are written and on their way)."""

    def __init__(self, by_member: Mapping[int, RuleRef], first: int) -> None:
        self._by_member = by_member
        self._urgent = sorted(member_id for member_id, rule in by_member.items() if rule.high_priority)
        self._others: list[int] | None = None
        self.first = self._urgent[:first]
        if len(self.first) < first:
            self.first += self._sorted_others()[: first - len(self.first)]

    @property
    def more_than_first(self) -> bool:
        return len(self._by_member) > len(self.first)

    def _sorted_others(self) -> list[int]:
        if self._others is None:
            self._others = sorted(self._by_member.keys() - set(self._urgent))
        return self._others

    def chunks(self, size: int) -> Iterator[list[int]]:
        """The first chunk, then the rest ``size`` members at a time, sorted only once asked for."""
        yield self.first
        urgent_left = self._urgent[len(self.first) :]
        others_taken = len(self.first) - min(len(self.first), len(self._urgent))
        rest = urgent_left + self._sorted_others()[others_taken:]
        for start in range(0, len(rest), size):
            yield rest[start : start + size]


class AlertsRuntime:
    def __init__(self, engine: Engine, delivery: Delivery, *, deals: DealScorer | None = None) -> None:
        self.engine = engine
        self.delivery = delivery
        self.settings = engine.config.get(AlertsSection)
        self.delivery_settings = delivery.settings
        self.deals: DealScorer = deals or _observed_deals(engine)
        self.index = RuleIndex()
        self._rule_channels: dict[int, list[str]] = {}
        self._rule_names: dict[int, str] = {}
        self._rule_sizes: dict[int, list[str]] = {}
        self._loaded = False
        self._load_lock = asyncio.Lock()
        #: rule changes that arrive while the index loads, applied once it has
        self._changed_while_loading: dict[int, AlertRule | None] | None = None
        #: tells this process's own rule announcements apart from other processes'
        self._origin = secrets.token_hex(8)
        self._rule_locks = [asyncio.Lock() for _ in range(64)]
        engine.bus.subscribe(RULE_TOPIC, self._on_rule_announced)
        self._events_seen = 0
        #: events this process fanned out lately: a replay stops here without touching the database
        self._recent_ids: dict[str, None] = {}
        #: perf_counter() when the last event arrived (benchmarks read it)
        self.last_event_at: float | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def _console(self) -> bool:
        """The local shell is attached: its members' alerts are printed there as DMs."""
        return "shell" in self.engine.frontends

    @property
    def worker(self) -> DeliveryWorker:
        """The delivery slice's worker, which this runtime's fan-outs hand their first rows to."""
        return self.delivery.worker

    async def restart_worker(self) -> DeliveryWorker:
        """Start a fresh delivery worker in place of one that died (what a process restart does)."""
        return await self.delivery.restart_worker()

    async def ensure_loaded(self) -> None:
        if self._loaded:
            return
        async with self._load_lock:
            if self._loaded:
                return
            self._changed_while_loading = {}
            async with self.engine.db.read() as session:
                rules = list((await session.execute(select(AlertRule).where(AlertRule.paused.is_(False)))).scalars())
                payloads = (await session.execute(select(RecentEvent.payload))).scalars()
                seen = [prepare_event(payload) for payload in payloads]
                for event in seen:
                    self.index.observe(event)
            for rule in rules:
                self._index_rule(rule)
            # A rule saved while the rules were being read may or may not be in what was read; its
            # change, applied now (no await from here on), leaves the index right either way.
            changed, self._changed_while_loading = self._changed_while_loading or {}, None
            self._loaded = True
            for rule_id, rule_or_none in changed.items():
                self._apply_rule(rule_id, rule_or_none)
            for event in seen:  # the products monitors report are the ones they will report again
                self.index.compile(event)
            log.info("alerts.index_loaded", rules=len(rules))

    async def reload(self) -> None:
        """Read every rule again into a fresh index: after rules were written in bulk (an import, a
        benchmark) rather than through the commands, which announce each change."""
        async with self._load_lock:
            self.index = RuleIndex()
            self._rule_channels.clear()
            self._rule_names.clear()
            self._rule_sizes.clear()
            self._loaded = False
        await self.ensure_loaded()
        await self.rehearse_fan_out()

    async def start(self) -> None:
        """Load the rule index and finish any fan-out a crash interrupted; delivery has started."""
        await self.ensure_loaded()
        await self.resume_fanouts()
        await self.rehearse_fan_out()

    async def rehearse_fan_out(self) -> None:
        """Write alerts for a few linked members in a transaction that is rolled back: SQLAlchemy
        compiles each statement the first time it runs, and those milliseconds should not fall on the
        first alert after a start. The rehearsal has the real fan-out's shape: a first chunk of
        several members (a batch insert compiles apart from a one-row one) and a later, unclaimed
        chunk. Nothing is kept and nothing is sent."""
        first = max(2, self.settings.first_chunk)
        async with self.engine.db.read() as session:
            linked = select(Identity.member_id).distinct().order_by(Identity.member_id).limit(first + 2)
            member_ids = list((await session.execute(linked)).scalars())
        if not member_ids:
            return
        event_id = f"rehearsal:{self._origin}"
        payload: dict[str, Any] = {"event_id": event_id, "kind": "restock", "product": {"title": "rehearsal"}}
        event = prepare_event(payload)
        head = {member_id: RuleRef(0, member_id, Criteria()) for member_id in member_ids[:first]}
        tail = {member_id: RuleRef(0, member_id, Criteria()) for member_id in member_ids[first:]}
        try:
            async with self.engine.db.transaction() as session:
                fresh = (await self._fill_chunk(session, event_id, payload, event, head, record=True, claim=True))[2]
                if tail:
                    await self._fill_chunk(session, event_id, payload, event, tail, fresh=fresh)
                raise _Rehearsal
        except _Rehearsal:
            pass

    async def housekeeping(self) -> None:
        """The scheduler's periodic job: send due digests."""
        await self.send_digests()

    # ------------------------------------------------------------------ the index

    def _index_rule(self, rule: AlertRule) -> None:
        if rule.paused:
            self.index.remove(rule.id)
            return
        self.index.add(compile_rule(rule))
        self._rule_channels[rule.id] = list(rule.channels)
        self._rule_names[rule.id] = rule.name
        self._rule_sizes[rule.id] = list(rule.sizes)

    async def rule_changed(self, rule: AlertRule) -> None:
        """A member saved ``rule`` in this process: index it now, and tell the other processes."""
        async with self._rule_lock(rule.id):
            self._apply_rule(rule.id, rule)
        await self._announce(rule.id)

    async def on_member_merged(self, _topic: str, payload: Mapping[str, Any]) -> None:
        """Rules moved to the survivor in the /link transaction: re-read them so matches name the
        member who owns them now."""
        async with self.engine.db.read() as session:
            owned = select(AlertRule).where(AlertRule.member_id == payload["survivor_id"])
            moved = list((await session.execute(owned)).scalars())
        for rule in moved:
            async with self._rule_lock(rule.id):
                self._apply_rule(rule.id, rule)

    async def rule_deleted(self, rule_id: int) -> None:
        async with self._rule_lock(rule_id):
            self._apply_rule(rule_id, None)
        await self._announce(rule_id)

    def _rule_lock(self, rule_id: int) -> asyncio.Lock:
        """Changes to one rule apply one at a time, each with what was committed when it started: so
        a re-read begun before a newer local save can't land after it and bring the old version back."""
        return self._rule_locks[rule_id % len(self._rule_locks)]

    def _apply_rule(self, rule_id: int, rule: AlertRule | None) -> None:
        """Index ``rule`` as committed (None: deleted); while the index loads, remember it for after."""
        if not self._loaded and self._changed_while_loading is not None:
            self._changed_while_loading[rule_id] = rule
        if rule is None:
            self._forget_rule(rule_id)
        elif self._loaded:
            self._index_rule(rule)

    def _forget_rule(self, rule_id: int) -> None:
        self.index.remove(rule_id)
        for by_rule in (self._rule_channels, self._rule_names, self._rule_sizes):
            by_rule.pop(rule_id, None)

    async def _announce(self, rule_id: int) -> None:
        await self.engine.bus.publish(RULE_TOPIC, {"rule_id": rule_id, "origin": self._origin})

    async def _on_rule_announced(self, _topic: str, payload: Mapping[str, Any]) -> None:
        """Another process changed a rule: read it back, so every process's index agrees."""
        if payload.get("origin") == self._origin:
            return
        rule_id = int(payload["rule_id"])
        async with self._rule_lock(rule_id):
            async with self.engine.db.read() as session:
                rule = await session.get(AlertRule, rule_id)
            self._apply_rule(rule_id, rule)

    # ------------------------------------------------------------------ events

    async def prepare(self, payload: Mapping[str, Any]) -> MatchEvent:
        product = payload.get("product") or {}
        title = str(product.get("title") or product.get("handle") or "")
        plain = prepare_event(payload)
        if not self.index.deal_rules:
            return plain
        deals = await deals_for(self.deals, title, sorted(plain.sizes), plain.price)
        return prepare_event(payload, deals) if deals else plain

    async def on_event(self, _topic: str, payload: dict[str, Any]) -> None:
        self.last_event_at = time.perf_counter()
        event_id = str(payload.get("event_id") or "")
        if not event_id or not payload.get("kind"):
            log.warning("alerts.bad_event", keys=sorted(payload))
            return
        if event_id in self._recent_ids:
            return
        await self.ensure_loaded()
        await self.fan_out(payload, record=True)
        self._recent_ids[event_id] = None
        if len(self._recent_ids) > self.settings.recent_events:
            self._recent_ids.pop(next(iter(self._recent_ids)))
        self._events_seen += 1
        if self._events_seen % 50 == 0:
            await self._prune_events()

    async def resume_fanouts(self) -> None:
        async with self.engine.db.read() as session:
            unfinished = list(
                (await session.execute(select(RecentEvent).where(RecentEvent.fanned_out.is_(False)))).scalars()
            )
        for event in unfinished:
            log.info("alerts.fanout_resumed", event_id=event.event_id)
            await self.fan_out(event.payload)

    async def _prune_events(self) -> None:
        async with self.engine.db.transaction() as session:
            newest = select(RecentEvent.id).order_by(RecentEvent.id.desc()).limit(self.settings.recent_events)
            cutoff = (await session.execute(select(func.min(newest.subquery().c.id)))).scalar_one_or_none()
            if cutoff is not None:
                await session.execute(
                    delete(RecentEvent).where(RecentEvent.id < cutoff, RecentEvent.fanned_out.is_(True))
                )

    async def fan_out(self, payload: Mapping[str, Any], *, record: bool = False) -> int:
        """Write the notifications for one event; returns how many members it matched. ``record``
        stores the event (for /alerts test and crash recovery) in the first chunk's transaction.

        The first chunk is small and claimed for the running worker in the same transaction, so the
        first alerts go out without waiting for the rest of the fan-out or a claim round-trip."""
        event_id = str(payload["event_id"])
        event = await self.prepare(payload)
        self.index.observe(event)
        by_member = best_rules(self.index.match(event))
        order = FanOutOrder(by_member, self.settings.first_chunk)
        chunks = order.chunks(self.settings.fanout_chunk)
        fresh = False
        for number, chunk in enumerate(chunks):
            if not chunk and not (record and number == 0):
                continue
            claim = number == 0 and self.delivery.running
            rules = {member_id: by_member[member_id] for member_id in chunk}
            adopted, addresses, new_event = await self._write_chunk(
                event_id, payload, event, rules, record=record and number == 0, fresh=fresh, claim=claim
            )
            fresh = fresh or new_event
            if adopted:
                sends = await self.worker.adopt(adopted, addresses)
                if sends and order.more_than_first:
                    # The rest of the fan-out is seconds of work on this event loop: let the first
                    # alert reach its platform before it starts (bounded, should a platform be slow).
                    await asyncio.wait(sends, timeout=FIRST_SEND_WAIT_S, return_when=asyncio.FIRST_COMPLETED)
            self.worker.wake()
        async with self.engine.db.transaction() as session:
            await session.execute(
                update(RecentEvent).where(RecentEvent.event_id == event_id[:100]).values(fanned_out=True)
            )
        if by_member:
            log.info("alerts.fanned_out", event_id=event_id, members=len(by_member))
        return len(by_member)

    async def _recipients(
        self, session: AsyncSession, rules: dict[int, RuleRef], addresses: dict[tuple[int, str], str] | None = None
    ) -> list[Recipient]:
        """Members for the matched rules, with their linked platforms and alert settings, in one query
        (a second only for members merged away by /link, who count as their survivor)."""
        found: dict[int, tuple[Member, set[str], AlertPrefs | None]] = {}
        await self._read_members(session, list(rules), found, addresses)
        missing = {m.merged_into for m, _, _ in found.values() if m.merged_into is not None} - set(found)
        if missing:
            await self._read_members(session, list(missing), found, addresses)
        survivors: dict[int, RuleRef] = {}
        for member_id, rule in rules.items():
            entry = found.get(member_id)
            if entry is None:
                continue
            member = entry[0]
            while member.merged_into is not None and member.merged_into in found:
                member = found[member.merged_into][0]
            current = survivors.get(member.id)
            if current is None or (rule.high_priority and not current.high_priority):
                survivors[member.id] = rule
        return [
            Recipient(found[mid][0], rule, frozenset(found[mid][1]), found[mid][2]) for mid, rule in survivors.items()
        ]

    async def _read_members(
        self,
        session: AsyncSession,
        ids: list[int],
        found: dict[int, tuple[Member, set[str], AlertPrefs | None]],
        addresses: dict[tuple[int, str], str] | None,
    ) -> None:
        rows = await session.execute(
            select(Member, AlertPrefs, Identity.platform, Identity.external_id, Identity.secret_address)
            .outerjoin(AlertPrefs, AlertPrefs.member_id == Member.id)
            .outerjoin(Identity, Identity.member_id == Member.id)
            .where(Member.id.in_(ids))
        )
        vault = self.engine.vault
        for member, prefs, platform, external_id, secret in rows:
            entry = found.get(member.id)
            if entry is None:
                entry = found[member.id] = (member, set(), prefs)
            if platform is None:
                continue
            entry[1].add(platform)
            if addresses is not None:
                if platform != "sms":
                    addresses[(member.id, platform)] = external_id
                elif vault is not None and secret is not None:
                    addresses[(member.id, platform)] = vault.decrypt(secret)

    async def _write_chunk(
        self,
        event_id: str,
        payload: Mapping[str, Any],
        event: MatchEvent,
        rules: dict[int, RuleRef],
        *,
        record: bool = False,
        fresh: bool = False,
        claim: bool = False,
    ) -> tuple[list[OutboxMessage], dict[tuple[int, str], str], bool]:
        """One transaction: the notices and outbox rows for these members. ``record`` stores the
        event; if it was not there before, nobody can have been told about it yet (``fresh``), which
        saves looking. With ``claim``, the rows are written as already sending for the worker and
        returned with their addresses."""
        async with self.engine.db.transaction() as session:
            return await self._fill_chunk(
                session, event_id, payload, event, rules, record=record, fresh=fresh, claim=claim
            )

    async def _fill_chunk(
        self,
        session: AsyncSession,
        event_id: str,
        payload: Mapping[str, Any],
        event: MatchEvent,
        rules: dict[int, RuleRef],
        *,
        record: bool = False,
        fresh: bool = False,
        claim: bool = False,
    ) -> tuple[list[OutboxMessage], dict[tuple[int, str], str], bool]:
        """``_write_chunk``'s work, in the caller's transaction."""
        now = utcnow()
        insert = sqlite.insert if self.engine.db.is_sqlite else postgresql.insert
        if record:
            stored = await session.execute(
                insert(RecentEvent)
                .values(event_id=event_id[:100], payload=dict(payload), fanned_out=False, received_at=now)
                .on_conflict_do_nothing(index_elements=["event_id"])
            )
            fresh = stored.rowcount == 1  # type: ignore[attr-defined]
        if not rules:
            return [], {}, fresh
        addresses: dict[tuple[int, str], str] | None = {} if claim else None
        recipients = await self._recipients(session, rules, addresses)
        if not fresh:  # a new event has no notices yet; a resumed or replayed one may
            ids = [r.member.id for r in recipients]
            done = set(
                (
                    await session.execute(
                        select(AlertNotice.member_id).where(
                            AlertNotice.event_id == event_id, AlertNotice.member_id.in_(ids)
                        )
                    )
                ).scalars()
            )
            recipients = [r for r in recipients if r.member.id not in done]
        sent_today = await self._sent_today(session, recipients, now)
        notices: list[dict[str, Any]] = []
        messages: list[NewMessage] = []
        text = summary(payload)
        for recipient in recipients:
            status, message = self._decide(recipient, payload, event, now, sent_today)
            member = recipient.member
            notices.append(
                {
                    "event_id": event_id[:100],
                    "member_id": member.id,
                    "rule_id": recipient.rule.rule_id,
                    "status": status,
                    "local_day": local_day(now, member.timezone),
                    "summary": text,
                    "created_at": now,
                }
            )
            if message is not None:
                messages.append(message)
        if notices:
            await session.execute(insert(table(AlertNotice)).on_conflict_do_nothing(), notices)
        validity = {"sms": float(self.engine.config.sms.validity_period_seconds)}
        if claim:
            rows = await enqueue_claimed(
                session,
                messages,
                owner=self.worker.owner,
                lease_s=self.worker.settings.on_wire_lease_s,  # written as on the wire
                validity_s=validity,
                fresh=fresh,
            )
            return rows, addresses or {}, fresh
        await enqueue(session, messages, validity_s=validity)
        return [], {}, fresh

    async def _sent_today(self, session: AsyncSession, recipients: list[Recipient], now: datetime) -> dict[int, int]:
        capped = [r for r in recipients if r.prefs is not None and r.prefs.daily_cap is not None]
        if not capped:
            return {}
        days = {local_day(now, r.member.timezone) for r in capped}
        rows = await session.execute(
            select(AlertNotice.member_id, AlertNotice.local_day, func.count())
            .where(
                AlertNotice.member_id.in_([r.member.id for r in capped]),
                AlertNotice.local_day.in_(days),
                AlertNotice.status == QUEUED,
            )
            .group_by(AlertNotice.member_id, AlertNotice.local_day)
        )
        wanted = {r.member.id: local_day(now, r.member.timezone) for r in capped}
        return {mid: int(n) for mid, day, n in rows.all() if wanted.get(mid) == day}

    def _decide(
        self,
        recipient: Recipient,
        payload: Mapping[str, Any],
        event: MatchEvent,
        now: datetime,
        sent_today: dict[int, int],
    ) -> tuple[str, NewMessage | None]:
        """Queued now, queued for the end of quiet hours, into the digest, or nowhere to send."""
        member, rule, prefs = recipient.member, recipient.rule, recipient.prefs
        high = rule.high_priority
        channels = channels_for(
            member, recipient.platforms, self._rule_channels.get(rule.rule_id, []), high, console=self._console
        )
        if not channels:
            return UNREACHABLE, None
        capped = prefs is not None and prefs.daily_cap is not None and not high
        if capped and prefs is not None and sent_today.get(member.id, 0) >= (prefs.daily_cap or 0):
            return DIGEST, None
        not_before = None
        if prefs is not None and not high:
            not_before = quiet_until(now, member.timezone, prefs.quiet_start, prefs.quiet_end)
        wanted = self._rule_sizes.get(rule.rule_id, [])
        deal = event.best_deal(set(wanted) & event.sizes if wanted else event.sizes)
        reply = alert_reply(
            payload,
            rule_id=rule.rule_id,
            rule_name=self._rule_names.get(rule.rule_id, ""),
            wanted=wanted,
            high=high,
            deal=deal,
        )
        message = NewMessage(
            source=SOURCE,
            ref=str(payload["event_id"]),
            member_id=member.id,
            channels=channels,
            reply=reply,
            priority=HIGH_PRIORITY if high else 0,
            not_before=not_before,
        )
        return QUEUED, message

    # ------------------------------------------------------------------ digests

    async def send_digests(self, now: datetime | None = None) -> int:
        """Queue one digest per member whose digest is due and has items. Returns how many."""
        now = now or utcnow()
        async with self.engine.db.read() as session:
            rows = (
                await session.execute(
                    select(AlertPrefs, Member)
                    .join(Member, Member.id == AlertPrefs.member_id)
                    .where(AlertPrefs.digest != "off")
                )
            ).all()
        queued = 0
        for prefs, member in rows:
            period = digest_period(now, member.timezone, prefs.digest, prefs.digest_hour)
            if period is None or prefs.digest_sent_for == period:
                continue
            queued += await self._send_digest(member, period)
        if queued:
            self.worker.wake()
        return queued

    async def _send_digest(self, member: Member, period: str) -> int:
        async with self.engine.db.transaction() as session:
            prefs = await session.get(AlertPrefs, member.id)
            if prefs is None or prefs.digest_sent_for == period:
                return 0
            prefs.digest_sent_for = period
            items = list(
                (
                    await session.execute(
                        select(AlertNotice)
                        .where(AlertNotice.member_id == member.id, AlertNotice.status == DIGEST)
                        .order_by(AlertNotice.id)
                    )
                ).scalars()
            )
            if not items:
                return 0
            platforms = set(
                (await session.execute(select(Identity.platform).where(Identity.member_id == member.id))).scalars()
            )
            channels = channels_for(member, platforms, [], high=False, console=self._console)
            if not channels:
                return 0
            limit = self.settings.digest_items
            reply = digest_reply(period, [item.summary for item in items[:limit]], more=max(0, len(items) - limit))
            for item in items:
                item.status = DIGESTED
            await enqueue(
                session,
                [NewMessage(source="digest", ref=period, member_id=member.id, channels=channels, reply=reply)],
            )
            return 1


def _observed_deals(engine: Engine) -> DealScorer:
    """Deal scores from the monitors slice's price observations when that slice is installed."""
    try:
        from bot.monitors.prices import ObservedDeals
    except ImportError:
        return NoDeals()
    scorer: DealScorer = ObservedDeals(engine.db)
    return scorer
