"""One monitor's polls: observe, diff against the persisted snapshot, store, then publish.

Order matters for correctness:

1. The observation is diffed against the in-memory snapshot (loaded from the database on first use).
2. Snapshot rows, events (the outbox) and health go to the database in one transaction.
3. Only then are the in-memory snapshot and the fetch caches updated, and the events published.

A poll that fails anywhere changes nothing, so the next poll sees the same change again and derives
the same event ids (``monitor:product:revision:kind``). A restart reloads the snapshot, so nothing
already stored alerts again; the first complete listing is stored as the baseline without alerting.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import insert, select, update

from bot.monitors.diff import Change, diff
from bot.monitors.filters import KeywordFilter, size_key, words
from bot.monitors.models import Monitor, MonitorEvent, MonitorProduct
from bot.monitors.prices import insert_new, row_for
from bot.monitors.render import change_payload, store_payload
from bot.monitors.sources import Observation, PageCache, observe_listing, observe_page, observe_product
from bot.monitors.sources.http_fetch import FetchError
from bot.monitors.sources.page_watch import PageWatchError
from bot.monitors.sources.resale import PriceObservation
from bot.monitors.sources.shopify import Product, ShopifyError, ShopifyTarget, parse_url
from core.storage.types import utcnow

if TYPE_CHECKING:
    from bot.monitors.service import MonitorService

log = structlog.get_logger(__name__)

#: how often a healthy monitor writes its "last good poll" time when nothing else changes
HEALTH_FLUSH = timedelta(seconds=60)
_STATUS_FOR = {"rate_limited": "blocked", "blocked": "blocked"}


@dataclass(frozen=True)
class MonitorSpec:
    """The settings of a monitor row, frozen for one runner."""

    id: int
    kind: str
    url: str
    host: str
    keywords: KeywordFilter
    sizes: tuple[str, ...]
    feed: str | None
    role: str | None
    interval_s: int
    selectors: dict[str, str]
    currency: str | None
    #: ``(lat, lon)`` of a physical shop; its product events carry it
    location: tuple[float, float] | None = None

    @classmethod
    def from_row(cls, row: Monitor) -> MonitorSpec:
        return cls(
            row.id,
            row.kind,
            row.url,
            row.host,
            KeywordFilter.parse(row.keywords),
            tuple(row.sizes or ()),
            row.feed,
            row.role,
            row.interval_s,
            dict(row.selectors or {}),
            row.currency,
            row.location,
        )


@dataclass
class Stored:
    product: Product
    revision: int
    gone: bool = False
    #: variant id → unix time of its last availability alert (flap debouncing)
    alerted: dict[str, float] = field(default_factory=dict)

    def state(self) -> dict[str, Any]:
        return {**self.product.to_json(), "gone": self.gone, "alerted": self.alerted}


@dataclass
class Health:
    status: str = "new"
    last_error: str | None = None
    last_good_at: datetime | None = None
    last_poll_at: datetime | None = None
    resume_in_s: float = 0.0
    flushed: tuple[str, str | None, datetime | None] = ("new", None, None)


@dataclass
class PollOutcome:
    #: ``baseline``, ``changed``, ``unchanged``, ``password``, ``backing_off`` or a failure status
    status: str
    events: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


@dataclass
class _Plan:
    """Everything one poll will write, computed before anything is written."""

    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    stored: dict[str, Stored] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    monitor: dict[str, Any] = field(default_factory=dict)
    #: retail prices seen in new-product and price-change events, for the observations table
    prices: list[dict[str, Any]] = field(default_factory=list)


class MonitorRunner:
    def __init__(self, service: MonitorService, row: Monitor) -> None:
        self.service = service
        self.spec = MonitorSpec.from_row(row)
        self.target: ShopifyTarget | None = parse_url(row.url) if row.kind != "page" else None
        self.health = Health(row.status, row.last_error, row.last_good_at)
        self.health.flushed = (row.status, row.last_error, row.last_good_at)
        self.baseline_at = row.baseline_at
        self.password = row.password
        self.revision = row.revision
        self.products: dict[str, Stored] | None = None
        self.pages: dict[int, PageCache] = {}
        self.chunks: dict[str, bytes | None] = {}
        self.lock = asyncio.Lock()

    # ------------------------------------------------------------------ polling

    async def poll(self) -> PollOutcome:
        async with self.lock:
            settings = self.service.settings
            gate = self.service.gates.get(self.spec.host, settings.host_minimum(self.spec.host))
            resting = gate.backing_off_for()
            if resting > 0:
                self.health.resume_in_s = resting
                return PollOutcome("backing_off", error=self.health.last_error)
            if self.products is None:
                await self._load()
            now = utcnow()
            async with gate.turn():
                try:
                    observation = await self._observe()
                except (FetchError, ShopifyError, PageWatchError) as exc:
                    return await self._failed(exc, gate, now)
            gate.succeeded()
            self.health.resume_in_s = 0.0
            plan = self._plan(observation, now)
            try:
                await self._store(plan, now)
            except Exception as exc:
                log.exception("monitor.store_failed", monitor=self.spec.id)
                self._set_health("error", f"database: {type(exc).__name__}", now, good=False)
                self.service.engine.metrics.monitor_poll(self.spec.host, ok=False)
                return PollOutcome("error", error=self.health.last_error)
            self.service.engine.metrics.monitor_poll(self.spec.host, ok=True)
            self._apply(plan, observation)
            await self.service.publish(self.spec, plan.events)
            return PollOutcome(self._outcome_status(observation, plan), plan.events)

    def _outcome_status(self, observation: Observation, plan: _Plan) -> str:
        if observation.password:
            return "password"
        if "baseline_at" in plan.monitor:
            return "baseline"
        return "changed" if plan.inserts or plan.updates else "unchanged"

    async def _observe(self) -> Observation:
        service = self.service
        if self.spec.kind == "page":
            observation, currency = await observe_page(service.page_watcher(), self.spec.url, self.spec.selectors)
            if currency and not self.spec.currency:
                self.spec = replace(self.spec, currency=currency)
            return observation
        assert self.target is not None
        if self.target.kind == "product":
            return await observe_product(service.fetcher, self.target, self.pages, stats=service.stats)
        return await observe_listing(
            service.fetcher,
            self.target,
            self.pages,
            self.chunks,
            max_pages=service.settings.max_pages,
            stats=service.stats,
        )

    async def _failed(self, exc: FetchError | ShopifyError | PageWatchError, gate: Any, now: datetime) -> PollOutcome:
        kind = exc.kind
        retry_after = getattr(exc, "retry_after", None)
        rest = gate.failed(retry_after)
        self.health.resume_in_s = rest
        status = _STATUS_FOR.get(kind, "error")
        self._set_health(status, str(exc), now, good=False)
        self.service.engine.metrics.monitor_poll(self.spec.host, ok=False)
        log.warning(
            "monitor.poll_failed",
            monitor=self.spec.id,
            host=self.spec.host,
            kind=kind,
            error=str(exc),
            rest_s=round(rest, 1),
        )
        await self._flush_health()
        return PollOutcome(status, error=str(exc))

    # ------------------------------------------------------------------ diffing

    def _plan(self, observation: Observation, now: datetime) -> _Plan:
        plan = _Plan()
        assert self.products is not None
        if observation.password != bool(self.password) or self.password is None:
            self._plan_password(observation.password, plan, now)
        if observation.password:
            self._set_health("password", None, now, good=True)
            self._health_columns(plan)
            return plan
        baseline = self.baseline_at is None
        epoch = now.timestamp()
        for product in observation.changed:
            stored = self.products.get(product.id)
            if stored is not None and not stored.gone and stored.product.same_state(product):
                continue
            revision = stored.revision + 1 if stored else 1
            alerted = dict(stored.alerted) if stored else {}
            fresh = Stored(product, revision, False, alerted)
            if not baseline:
                changes = diff(stored.product if stored else None, product)
                for change in self._filter(changes, alerted, epoch):
                    event_id = f"{self.spec.id}:{product.id}:{revision}:{change.kind}"
                    plan.events.append(self._payload(change, event_id, now))
                    if change.kind in ("new_product", "price_change") and change.price is not None:
                        plan.prices.append(self._retail(change, event_id, now))
            plan.stored[product.id] = fresh
            row = {
                "monitor_id": self.spec.id,
                "product_id": product.id,
                "revision": revision,
                "state": fresh.state(),
                "updated_at": now,
            }
            (plan.updates if stored else plan.inserts).append(row)
        if observation.seen is not None:
            for product_id, stored in self.products.items():
                if product_id in observation.seen or stored.gone or product_id in plan.stored:
                    continue
                gone = Stored(stored.product, stored.revision + 1, True, stored.alerted)
                plan.stored[product_id] = gone
                plan.updates.append(
                    {
                        "monitor_id": self.spec.id,
                        "product_id": product_id,
                        "revision": gone.revision,
                        "state": gone.state(),
                        "updated_at": now,
                    }
                )
        if baseline:
            plan.monitor["baseline_at"] = now
        self._set_health("ok", None, now, good=True)
        self._health_columns(plan)
        return plan

    def _plan_password(self, up: bool, plan: _Plan, now: datetime) -> None:
        plan.monitor["password"] = up
        if self.password is None:
            return  # first look: this is the baseline, not news
        revision = self.revision + 1
        plan.monitor["revision"] = revision
        kind = "password_up" if up else "password_down"
        base = self.target.base_url if self.target else self.spec.url
        plan.events.append(
            store_payload(
                kind,
                event_id=f"{self.spec.id}:store:{revision}:{kind}",
                monitor_id=self.spec.id,
                store=self.spec.host,
                base_url=base,
                name=self.spec.host,
                occurred_at=now,
            )
        )

    def _filter(self, changes: list[Change], alerted: dict[str, float], epoch: float) -> list[Change]:
        """Keyword and size filters, then flap debouncing: a size alerts at most once per window."""
        spec = self.spec
        if not changes:
            return []
        product = changes[0].product
        if spec.keywords and not spec.keywords.matches(
            words(" ".join((product.title, product.handle, product.vendor, product.product_type, *product.tags)))
        ):
            return []
        window = self.service.settings.flap_window_seconds
        kept: list[Change] = []
        for change in changes:
            variants = change.variants
            if spec.sizes:
                variants = tuple(v for v in variants if size_key(v.size) in spec.sizes)
                offered = any(size_key(v.size) in spec.sizes for v in product.variants)
                if change.kind in ("restock", "sold_out") and not variants:
                    continue
                if change.kind in ("new_product", "price_change") and not offered:
                    continue
            if change.kind in ("restock", "sold_out"):
                variants = tuple(v for v in variants if epoch - alerted.get(v.id, float("-inf")) >= window)
                if not variants:
                    continue
            if change.kind in ("restock", "sold_out", "new_product"):
                for variant in variants:
                    alerted[variant.id] = epoch
            kept.append(change.with_variants(variants) if variants != change.variants else change)
        return kept

    def _retail(self, change: Change, event_id: str, now: datetime) -> dict[str, Any]:
        assert change.price is not None
        product = change.product
        return row_for(
            PriceObservation(
                observed_at=now,
                source=f"shopify:{self.spec.host}"[:40],
                kind="retail",
                product=product.title,
                price=change.price,
                external_id=event_id,
                currency=self.spec.currency or "USD",
                brand=product.vendor[:64] or None,
                url=product.url,
                extra={"monitor_id": self.spec.id, "product_id": product.id},
            )
        )

    def _payload(self, change: Change, event_id: str, now: datetime) -> dict[str, Any]:
        base = self.target.base_url if self.target else self.spec.url
        return change_payload(
            change,
            event_id=event_id,
            monitor_id=self.spec.id,
            store=self.spec.host,
            base_url=base,
            currency=self.spec.currency,
            occurred_at=now,
            carts=self.spec.kind != "page",
            location=self.spec.location,
        )

    # ------------------------------------------------------------------ storage

    async def _load(self) -> None:
        async with self.service.engine.db.read() as session:
            rows = await session.execute(
                select(MonitorProduct.product_id, MonitorProduct.revision, MonitorProduct.state).where(
                    MonitorProduct.monitor_id == self.spec.id
                )
            )
            self.products = {
                product_id: Stored(
                    Product.from_json(product_id, state),
                    revision,
                    bool(state.get("gone")),
                    dict(state.get("alerted") or {}),
                )
                for product_id, revision, state in rows
            }

    async def _store(self, plan: _Plan, now: datetime) -> None:
        if not (plan.inserts or plan.updates or plan.events or plan.monitor):
            return
        async with self.service.engine.db.transaction() as session:
            if plan.inserts:
                await session.execute(insert(MonitorProduct), plan.inserts)
            if plan.updates:
                await session.execute(update(MonitorProduct), plan.updates)
            if plan.prices:
                await session.execute(insert_new(self.service.engine.db), plan.prices)
            if plan.events:
                await session.execute(
                    insert(MonitorEvent),
                    [
                        {
                            "event_id": e["event_id"],
                            "monitor_id": self.spec.id,
                            "kind": e["kind"],
                            "payload": e,
                            "created_at": now,
                        }
                        for e in plan.events
                    ],
                )
            if plan.monitor:
                await session.execute(update(Monitor).where(Monitor.id == self.spec.id).values(**plan.monitor))

    def _apply(self, plan: _Plan, observation: Observation) -> None:
        assert self.products is not None
        self.products.update(plan.stored)
        for product_id, stored in plan.stored.items():
            if stored.gone:
                self.chunks.pop(product_id, None)
        self.pages.update(observation.pages)
        for number in [n for n in self.pages if n not in observation.pages and observation.seen is not None]:
            del self.pages[number]
        self.chunks.update(observation.chunks)
        if "baseline_at" in plan.monitor:
            self.baseline_at = plan.monitor["baseline_at"]
        if "password" in plan.monitor:
            self.password = plan.monitor["password"]
        if "revision" in plan.monitor:
            self.revision = plan.monitor["revision"]
        if "status" in plan.monitor:
            self.health.flushed = (self.health.status, self.health.last_error, self.health.last_good_at)

    # ------------------------------------------------------------------ health

    def _set_health(self, status: str, error: str | None, now: datetime, *, good: bool) -> None:
        self.health.status = status
        self.health.last_poll_at = now
        if good:
            self.health.last_good_at = now
            self.health.last_error = None
        else:
            self.health.last_error = (error or "")[:300]

    def _health_dirty(self) -> bool:
        status, error, good_at = self.health.flushed
        if (status, error) != (self.health.status, self.health.last_error):
            return True
        current = self.health.last_good_at
        return current is not None and (good_at is None or current - good_at >= HEALTH_FLUSH)

    def _health_columns(self, plan: _Plan) -> None:
        if self._health_dirty():
            plan.monitor.update(
                status=self.health.status, last_error=self.health.last_error, last_good_at=self.health.last_good_at
            )

    async def _flush_health(self) -> None:
        if not self._health_dirty():
            return
        try:
            async with self.service.engine.db.transaction() as session:
                await session.execute(
                    update(Monitor)
                    .where(Monitor.id == self.spec.id)
                    .values(
                        status=self.health.status,
                        last_error=self.health.last_error,
                        last_good_at=self.health.last_good_at,
                    )
                )
        except Exception:
            log.exception("monitor.health_write_failed", monitor=self.spec.id)
            return
        self.health.flushed = (self.health.status, self.health.last_error, self.health.last_good_at)

    @property
    def product_count(self) -> int:
        return sum(1 for stored in (self.products or {}).values() if not stored.gone)

    @property
    def last_poll_age(self) -> float | None:
        return None if self.health.last_poll_at is None else time.time() - self.health.last_poll_at.timestamp()
