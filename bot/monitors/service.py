"""The monitor engine of one process: monitors' lifecycle, scheduling and event output.

Each active monitor is a job on the engine's scheduler (APScheduler in the embedded default) at its
own interval, with jitter. Events leave through the outbox: stored with the snapshot change, then put
on the bus topic ``monitor.event`` and, as a ``Reply``, on the monitor's feed.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import structlog
from sqlalchemy import delete, select, update

from bot.monitors.config import MonitorsSection
from bot.monitors.filters import KeywordFilter, parse_sizes
from bot.monitors.hosts import HostGates
from bot.monitors.models import Monitor, MonitorEvent, MonitorProduct
from bot.monitors.probe import Probe, inspect, probe_page, probe_shopify, shopify_target
from bot.monitors.render import render, role_id
from bot.monitors.runner import MonitorRunner, MonitorSpec, PollOutcome
from bot.monitors.sources import FetchStats
from bot.monitors.sources.http_fetch import PoliteFetcher
from bot.monitors.sources.page_watch import PageWatcher, parse_selectors
from core.engine import Engine
from core.errors import BadArgument, NotFound, UserError
from core.geo import parse_lat_lon
from core.storage.types import utcnow

log = structlog.get_logger(__name__)

EVENT_TOPIC = "monitor.event"


def same_page(first: str, second: str) -> bool:
    """Whether two monitor URLs watch the same page (scheme, ``www.``, case and a trailing slash aside)."""

    def key(url: str) -> tuple[str, str]:
        parts = urlsplit(url.strip().lower())
        return parts.netloc.removeprefix("www."), parts.path.rstrip("/")

    return key(first) == key(second)


class MonitorService:
    def __init__(self, engine: Engine, settings: MonitorsSection) -> None:
        self.engine = engine
        self.settings = settings
        self.fetcher = PoliteFetcher(
            timeout_s=settings.request_timeout_seconds, allow_private=settings.allow_private_addresses
        )
        self.gates = HostGates(base_s=settings.backoff_base_seconds, max_s=settings.backoff_max_seconds)
        self.stats = FetchStats()
        self.runners: dict[int, MonitorRunner] = {}
        self._page_watcher: PageWatcher | None = None

    def page_watcher(self) -> PageWatcher:
        if self._page_watcher is None:
            self._page_watcher = PageWatcher(
                executable_path=self.settings.chromium_path,
                timeout_s=self.settings.page_timeout_seconds,
                allow_private=self.settings.allow_private_addresses,
                chromium_user=self.settings.chromium_user,
            )
        return self._page_watcher

    async def close(self) -> None:
        """Release the HTTP session and the browser; runs from ``Engine.stop`` (and tests' teardown)."""
        for monitor_id in list(self.runners):
            self.engine.scheduler.cancel(_job(monitor_id))
        await self.fetcher.close()
        if self._page_watcher is not None:
            await self._page_watcher.close()

    # ------------------------------------------------------------------ start-up and scheduling

    async def boot(self) -> None:
        """Publish what a crash left in the outbox, then schedule every active monitor."""
        await self.flush_outbox()
        async with self.engine.db.read() as session:
            rows = list((await session.execute(select(Monitor).where(Monitor.paused.is_(False)))).scalars())
        for row in rows:
            self.schedule(row)
        self.engine.scheduler.every("monitors:prune", 6 * 3600, self.prune)
        log.info("monitors.booted", active=len(rows))

    def schedule(self, row: Monitor) -> None:
        jitter = row.interval_s * self.settings.jitter_fraction
        self.engine.scheduler.every(_job(row.id), row.interval_s, partial(self._poll_job, row.id), jitter=jitter)

    async def _poll_job(self, monitor_id: int) -> None:
        try:
            await self.poll(monitor_id)
        except Exception:
            log.exception("monitor.poll_crashed", monitor=monitor_id)

    async def poll(self, monitor_id: int) -> PollOutcome:
        runner = self.runners.get(monitor_id) or await self._runner(monitor_id)
        return await runner.poll()

    async def _runner(self, monitor_id: int) -> MonitorRunner:
        async with self.engine.db.read() as session:
            row = await session.get(Monitor, monitor_id)
        if row is None:
            self.engine.scheduler.cancel(_job(monitor_id))
            raise NotFound(f"No monitor #{monitor_id}.")
        runner = self.runners[monitor_id] = MonitorRunner(self, row)
        return runner

    # ------------------------------------------------------------------ output

    async def publish(self, spec: MonitorSpec, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        for payload in events:
            await self._emit(payload, spec.feed, spec.role)
        await self._mark_published([payload["event_id"] for payload in events])

    async def _emit(self, payload: dict[str, Any], feed: str | None, role: str | None) -> None:
        await self.engine.bus.publish(EVENT_TOPIC, payload)
        if not feed:
            return
        try:
            await self.engine.feeds.publish(
                feed, render(payload, role=role, max_buttons=self.settings.max_cart_buttons)
            )
        except UserError:
            log.warning("monitor.feed_unknown", feed=feed, monitor=payload["monitor_id"])

    async def _mark_published(self, event_ids: list[str]) -> None:
        try:
            async with self.engine.db.transaction() as session:
                await session.execute(
                    update(MonitorEvent).where(MonitorEvent.event_id.in_(event_ids)).values(published_at=utcnow())
                )
        except Exception:
            # the events went out; at worst they go out again at start-up, with the same ids
            log.exception("monitor.outbox_mark_failed", events=len(event_ids))

    async def flush_outbox(self) -> int:
        async with self.engine.db.read() as session:
            rows = (
                await session.execute(
                    select(MonitorEvent.payload, Monitor.feed, Monitor.role)
                    .join(Monitor, Monitor.id == MonitorEvent.monitor_id, isouter=True)
                    .where(MonitorEvent.published_at.is_(None))
                    .order_by(MonitorEvent.created_at)
                )
            ).all()
        for payload, feed, role in rows:
            await self._emit(payload, feed, role)
        if rows:
            await self._mark_published([payload["event_id"] for payload, _feed, _role in rows])
            log.info("monitor.outbox_flushed", events=len(rows))
        return len(rows)

    async def prune(self) -> None:
        cutoff = utcnow() - timedelta(days=self.settings.events_retention_days)
        async with self.engine.db.transaction() as session:
            await session.execute(
                delete(MonitorEvent).where(MonitorEvent.created_at < cutoff, MonitorEvent.published_at.is_not(None))
            )

    # ------------------------------------------------------------------ admin actions

    async def probe(self, url: str, *, render: bool, selectors: dict[str, str]) -> Probe:
        if render:
            probe, _snapshot = await probe_page(self.page_watcher(), url, selectors, self.settings.chromium_path)
            return probe
        return await probe_shopify(self.fetcher, shopify_target(url))

    async def add(
        self,
        url: str,
        *,
        keywords: str | None = None,
        sizes: str | None = None,
        feed: str | None = None,
        interval: int | None = None,
        role: str | None = None,
        render: bool = False,
        css: str | None = None,
        near: str | None = None,
        created_by: int | None = None,
    ) -> tuple[Monitor, Probe, PollOutcome]:
        """Validate, check the URL really is what it claims, store, take the baseline, schedule.

        ``near`` (``lat,lon``) marks a physical shop: its product events carry the location.
        """
        try:
            keyword_filter = KeywordFilter.parse(keywords)
        except ValueError as exc:
            raise BadArgument("keywords", str(exc)) from None
        try:
            size_list = parse_sizes(sizes)
        except ValueError as exc:
            raise BadArgument("sizes", str(exc)) from None
        try:
            selectors = parse_selectors(css)
        except ValueError as exc:
            raise BadArgument("css", str(exc)) from None
        latitude, longitude = parse_lat_lon(near, "near") if near is not None else (None, None)
        feed_name = self.engine.feeds.check_name(feed or self.settings.default_feed)
        if role is not None and role_id(role) is None:
            # a name or @everyone would be stored and never ping: feeds refuse it the same way
            raise BadArgument("role", "give a role mention (<@&id>) or a role id; @everyone and @here never ping")
        render = render or bool(selectors)
        host = await self._host_of(url, render)
        minimum = self.settings.host_minimum(host)
        chosen = interval if interval is not None else max(self.settings.default_interval_seconds, int(minimum + 0.999))
        if chosen < minimum:
            raise BadArgument("interval", f"at least {minimum:g} s for {host}: that's its minimum, to stay polite")
        probe = await self.probe(url, render=render, selectors=selectors)
        described = keyword_filter.describe()
        async with self.engine.db.transaction() as session:
            same_host = await session.execute(
                select(Monitor.id, Monitor.url).where(Monitor.host == probe.host, Monitor.feed == feed_name)
            )
            for other, other_url in same_host:
                if same_page(other_url, probe.url):
                    # two monitors of one page on one feed post every change twice
                    raise UserError(
                        f"Monitor #{other} already watches {probe.url} for `{feed_name}`. "
                        f"Remove it first (`/monitor remove {other}`) to watch it with other keywords."
                    )
            row = Monitor(
                kind=probe.kind,
                url=probe.url,
                host=probe.host,
                keywords=described,
                sizes=size_list,
                feed=feed_name,
                role=role.strip() if role else None,
                interval_s=chosen,
                paused=False,
                selectors=selectors,
                currency=probe.currency,
                latitude=latitude,
                longitude=longitude,
                created_by=created_by,
                status="new",
                revision=0,
            )
            session.add(row)
            await session.flush()
        runner = self.runners[row.id] = MonitorRunner(self, row)
        outcome = await runner.poll()
        self.schedule(row)
        log.info("monitor.added", monitor=row.id, url=row.url, interval=chosen, first=outcome.status)
        return row, probe, outcome

    async def _host_of(self, url: str, render: bool) -> str:
        if render:
            from bot.monitors.probe import page_url

            return page_url(url)[1]
        return shopify_target(url).host

    async def get(self, monitor_id: int) -> Monitor:
        async with self.engine.db.read() as session:
            row = await session.get(Monitor, monitor_id)
        if row is None:
            raise NotFound(f"No monitor #{monitor_id}. See `/monitor list`.")
        return row

    async def remove(self, monitor_id: int) -> Monitor:
        row = await self.get(monitor_id)
        runner = self.runners.get(monitor_id)
        self.engine.scheduler.cancel(_job(monitor_id))
        if runner is not None:
            await runner.lock.acquire()
        try:
            async with self.engine.db.transaction() as session:
                await session.execute(delete(MonitorProduct).where(MonitorProduct.monitor_id == monitor_id))
                await session.execute(delete(Monitor).where(Monitor.id == monitor_id))
        finally:
            if runner is not None:
                runner.lock.release()
        self.runners.pop(monitor_id, None)
        return row

    async def set_paused(self, monitor_id: int, paused: bool) -> Monitor:
        row = await self.get(monitor_id)
        if row.paused == paused:
            raise UserError(f"Monitor #{monitor_id} is already {'paused' if paused else 'running'}.")
        async with self.engine.db.transaction() as session:
            await session.execute(update(Monitor).where(Monitor.id == monitor_id).values(paused=paused))
        row.paused = paused
        if paused:
            self.engine.scheduler.cancel(_job(monitor_id))
        else:
            self.schedule(row)
        return row

    async def monitors(self) -> list[tuple[Monitor, MonitorRunner | None]]:
        async with self.engine.db.read() as session:
            rows = list((await session.execute(select(Monitor).order_by(Monitor.id))).scalars())
        return [(row, self.runners.get(row.id)) for row in rows]

    async def inspect(self, url: str, *, render: bool = False, css: str | None = None) -> dict[str, Any]:
        try:
            selectors = parse_selectors(css)
        except ValueError as exc:
            raise BadArgument("css", str(exc)) from None
        return await inspect(
            url,
            fetcher=self.fetcher,
            watcher=self.page_watcher,
            render=render,
            selectors=selectors,
            max_pages=self.settings.max_pages,
            chromium_path=self.settings.chromium_path,
        )


def _job(monitor_id: int) -> str:
    return f"monitor:{monitor_id}"
