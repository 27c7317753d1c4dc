"""Channel feeds: named streams (``restocks``, ``drops``...) bound to platform targets.

Publishing only puts the item on the event bus; the ``FeedDispatcher`` in whichever process runs the
frontends delivers it to every bound target. So the publisher never needs to hold a chat connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from core.errors import NotFound, UserError
from core.events import EventBus
from core.frontend import Frontend
from core.replies import Reply
from core.storage.database import Database
from core.storage.models import FeedBinding
from core.targets import DiscordChannel, ShellConsole, TelegramChat, parse_target

log = structlog.get_logger(__name__)

FEED_TOPIC = "feed.post"
Target = DiscordChannel | TelegramChat | ShellConsole


class FeedService:
    def __init__(self, db: Database, bus: EventBus, names: list[str]) -> None:
        self._db = db
        self._bus = bus
        self.names = list(names)

    def check_name(self, feed: str) -> str:
        name = feed.strip().lower()
        if name not in self.names:
            raise UserError(f"No feed called `{feed}`. Feeds: {', '.join(self.names)}.")
        return name

    async def bind(self, feed: str, target: Target, *, by: int | None) -> FeedBinding:
        name = self.check_name(feed)
        try:
            async with self._db.transaction() as session:
                binding = FeedBinding(
                    feed=name,
                    platform=target.platform,
                    target_key=target.key,
                    target=target.model_dump(),
                    created_by=by,
                )
                session.add(binding)
                await session.flush()
                return binding
        except IntegrityError:
            raise UserError(f"`{name}` already posts to {target.describe()}.") from None

    async def unbind(self, feed: str, target: Target) -> None:
        name = self.check_name(feed)
        async with self._db.transaction() as session:
            result = await session.execute(
                delete(FeedBinding).where(FeedBinding.feed == name, FeedBinding.target_key == target.key)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound(f"`{name}` does not post to {target.describe()}.")

    async def bindings(self, feed: str | None = None) -> list[tuple[str, Target]]:
        async with self._db.read() as session:
            query = select(FeedBinding).order_by(FeedBinding.feed, FeedBinding.id)
            if feed is not None:
                query = query.where(FeedBinding.feed == feed)
            rows = (await session.execute(query)).scalars()
            return [(row.feed, parse_target(row.target)) for row in rows]

    async def publish(self, feed: str, item: Reply) -> None:
        """Queue ``item`` for every target bound to ``feed``."""
        name = self.check_name(feed)
        await self._bus.publish(FEED_TOPIC, {"feed": name, "item": item.model_dump(mode="json")})


class FeedDispatcher:
    """Delivers published feed items through the frontends running in this process."""

    def __init__(self, feeds: FeedService, frontends: Mapping[str, Frontend]) -> None:
        self._feeds = feeds
        self._frontends = frontends

    async def handle(self, _topic: str, payload: dict[str, Any]) -> None:
        item = Reply.model_validate(payload["item"])
        for _feed, target in await self._feeds.bindings(payload["feed"]):
            frontend = self._frontends.get(target.platform)
            if frontend is None:
                continue
            try:
                await frontend.post(target, item)
            except Exception:
                log.exception("feed.delivery_failed", feed=payload["feed"], target=target.key)
