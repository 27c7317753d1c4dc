"""The engine: one object that owns the services and turns a caller's command into a reply.

Frontends call ``dispatch`` (typed values, e.g. from a Discord slash command) or ``dispatch_line``
(text, from Telegram, SMS or the shell). Both run the same permission check, validation and error
handling, so every platform answers the same way.

The engine builds the feature slices it is given (``core.slice.Slice``) in dependency order, starts
them after migrations, stops them in reverse, and hands out their services by type
(``engine.service(EconomyServices)``).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import structlog

from core.commands import Command
from core.config import Config
from core.context import Context
from core.crypto import AddressVault
from core.errors import PermissionDenied, UserError
from core.events import EventBus, InProcessEventBus
from core.feeds import FEED_TOPIC, FeedDispatcher, FeedService
from core.frontend import Frontend
from core.identity import Caller, IdentityService
from core.ops.metrics import Metrics
from core.registry import CommandRegistry
from core.replies import Reply
from core.requests import RequestLog
from core.scheduler import EmbeddedScheduler, Scheduler
from core.slice import Slice, in_dependency_order
from core.storage.database import Database
from core.storage.migrate import upgrade

log = structlog.get_logger(__name__)

T = TypeVar("T")


class SliceStartError(Exception):
    """A slice's ``start`` failed; the slices started before it have been stopped again."""


class Engine:
    def __init__(
        self,
        config: Config,
        *,
        db: Database | None = None,
        bus: EventBus | None = None,
        scheduler: Scheduler | None = None,
        slices: Sequence[Slice[Any]] = (),
    ) -> None:
        self.config = config
        self.db = db or Database(config.bot.resolved_database_url())
        self.bus: EventBus = bus or InProcessEventBus()
        self.scheduler: Scheduler = scheduler or EmbeddedScheduler()
        self.registry = CommandRegistry()
        #: Prometheus counters of this engine alone (``/metrics``); slices count into them
        self.metrics = Metrics()
        key = config.secrets.SNPD_ENCRYPTION_KEY
        lookup = config.secrets.SNPD_LOOKUP_KEY
        self.vault = (
            AddressVault(key.get_secret_value(), lookup_key=lookup.get_secret_value() if lookup else None)
            if key
            else None
        )
        self.identity = IdentityService(
            self.db,
            admins=config.permissions.admins,
            mods=config.permissions.mods,
            default_timezone=config.bot.default_timezone,
            code_ttl=timedelta(seconds=config.link.code_ttl_seconds),
            vault=self.vault,
            merge_hook=self._merge_members,
        )
        self.feeds = FeedService(self.db, self.bus, config.feeds.names)
        self.frontends: dict[str, Frontend] = {}
        self.requests = RequestLog(self.db)
        self.scheduler.every("core.requests_prune", 6 * 3600, self._prune_requests)
        self._dispatcher = FeedDispatcher(self.feeds, self.frontends)
        self.bus.subscribe(FEED_TOPIC, self._dispatcher.handle)
        self._services: dict[type, object] = {}
        self._slices: list[tuple[Slice[Any], Any]] = []
        self._started: list[tuple[Slice[Any], Any]] = []
        for item in in_dependency_order(slices):
            services = item.build(self)
            if services is not None:
                self._services[type(services)] = services
            self._slices.append((item, services))

    async def _prune_requests(self) -> None:
        await self.requests.prune()

    def migration_locations(self) -> list[Path]:
        """Every slice's Alembic versions folder, for the migration runner."""
        return [item.migrations for item, _ in self._slices if item.migrations is not None]

    def service(self, kind: type[T]) -> T:
        """The services object of type ``kind`` that a slice built: the one way to reach another
        slice's (or your own) services."""
        found = self._services.get(kind)
        if found is None:
            raise LookupError(f"{kind.__name__} is not available: its slice is not in bot/slices.py")
        return found  # type: ignore[return-value]

    def has_service(self, kind: type) -> bool:
        return kind in self._services

    def attach(self, frontend: Frontend) -> None:
        self.frontends[frontend.name] = frontend
        for item, services in self._slices:
            item.frontend_attached(services, frontend.name)

    async def _merge_members(self, session: Any, survivor_id: int, absorbed_id: int) -> None:
        """Every slice moves its own per-member rows, inside the ``/link`` transaction."""
        for item, services in self._slices:
            await item.merge_members(services, session, survivor_id, absorbed_id)

    async def start(self, *, migrate: bool = True) -> None:
        if migrate:
            heads = await upgrade(self.db, self.migration_locations())
            log.info("db.migrated", heads=heads)
        for item, services in self._slices:
            try:
                await item.start(services)
            except Exception as exc:
                log.exception("slice.start_failed", slice=item.name)
                await self._stop_slices()
                raise SliceStartError(f"the {item.name} slice failed to start: {exc}") from exc
            self._started.append((item, services))
        self.scheduler.start()

    async def stop_work(self) -> None:
        """Stop scheduled jobs, then the slices in reverse order, while frontends and storage are still
        up, so the delivery worker can finish the sends it has in flight."""
        await self.scheduler.stop()
        await self._stop_slices()
        await self.bus.drain()

    async def _stop_slices(self) -> None:
        while self._started:
            item, services = self._started.pop()
            try:
                await item.stop(services)
            except Exception:
                log.exception("slice.stop_failed", slice=item.name)

    async def stop(self) -> None:
        """``stop_work``, then close storage."""
        await self.stop_work()
        await self.db.dispose()

    async def dispatch(
        self, caller: Caller, name: str, raw: dict[str, Any], *, request_id: str | None = None
    ) -> Reply:
        """Run a command with raw values keyed by parameter name.

        ``request_id`` is the platform's own id for this request (a Discord interaction id, a Telegram
        ``update_id``, a Twilio ``MessageSid``): handlers key side effects on it, so a redelivery
        cannot repeat them.
        """

        platform_id = _platform_id(caller, request_id)

        async def run() -> Reply:
            reference = secrets.token_hex(4)
            try:
                command = self.registry.get(name)
                return await self._run(command, caller, reference, lambda: command.bind(raw), platform_id)
            except UserError as exc:
                return Reply.error(str(exc))

        return await self._once(platform_id, run)

    async def dispatch_line(self, caller: Caller, line: str, *, request_id: str | None = None) -> Reply:
        """Run a command typed as text: ``/laces tip @sam 5 thanks``."""

        platform_id = _platform_id(caller, request_id)

        async def run() -> Reply:
            reference = secrets.token_hex(4)
            try:
                command, words, named = self.registry.parse(line)
                return await self._run(
                    command, caller, reference, lambda: command.bind_words(words, named), platform_id
                )
            except UserError as exc:
                return Reply.error(str(exc))

        return await self._once(platform_id, run)

    async def _once(self, platform_id: str | None, run: Callable[[], Awaitable[Reply]]) -> Reply:
        """Run a platform request at most once (``core.requests``): a redelivery gets the first answer."""
        if platform_id is None:
            return await run()
        claim = await self.requests.claim(platform_id)
        if not claim.first:
            log.info("command.redelivered", request=platform_id, answered=claim.answer is not None)
            if claim.answer is not None:
                return Reply.model_validate(claim.answer)
            return Reply.error("That request is already being handled; its answer comes in a moment.")
        try:
            reply = await run()
        except BaseException:
            await self.requests.release(platform_id)
            raise
        await self.requests.finish(platform_id, reply.model_dump(mode="json"))
        return reply

    async def autocomplete(self, caller: Caller, name: str, param: str, prefix: str) -> list[str]:
        command = self.registry.get(name)
        declared = next((p for p in command.params if p.name == param), None)
        if declared is None:
            return []
        if declared.choices:
            return [c for c in declared.choices if c.lower().startswith(prefix.lower())][:25]
        if declared.autocomplete is None:
            return []
        member = await self.identity.resolve(caller)
        ctx = Context(self, caller, member, self.identity.role_for(caller), secrets.token_hex(4))
        try:
            return (await declared.autocomplete(ctx, prefix))[:25]
        except Exception:
            log.exception("command.autocomplete_failed", command=name, param=param)
            return []

    async def _run(
        self, command: Command, caller: Caller, reference: str, bind: Any, platform_id: str | None = None
    ) -> Reply:
        bound_log = log.bind(ref=reference, command=command.name, platform=caller.platform)
        role = self.identity.role_for(caller)
        if command.permission > role:
            raise PermissionDenied(command.permission.label)
        if caller.platform not in command.frontends:
            raise UserError(f"`/{command.name}` is not available on {caller.platform}.")
        values = bind()
        try:
            member = await self.identity.resolve(caller)
            ctx = Context(self, caller, member, role, reference, platform_id)
            reply = await command.handler(ctx, **values)
        except UserError:
            self.metrics.command(command.name, "refused")
            raise
        except Exception:
            self.metrics.command(command.name, "failed")
            bound_log.exception("command.failed")
            return Reply.error(
                f"Something went wrong on our side. Reference `{reference}`: give it to an admin."
            )
        bound_log.info("command.ok")
        self.metrics.command(command.name, "ok")
        if command.private and not reply.ephemeral:
            reply = reply.model_copy(update={"ephemeral": True})
        return reply


def _platform_id(caller: Caller, request_id: str | None) -> str | None:
    """The request's id across platforms (``telegram:812345``): what is claimed and what handlers see."""
    return f"{caller.platform}:{request_id}" if request_id else None
