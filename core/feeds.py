"""Channel feeds: named streams (``restocks``, ``drops``...) bound to platform targets.

Publishing only puts the item on the event bus; the ``FeedDispatcher`` in whichever process runs the
frontends delivers it to every bound target. So the publisher never needs to hold a chat connection.

An item published with a stable ``key`` (``drop:42``) can be changed later: the dispatcher stores
the platform's message reference per target (``feed_posts``), and ``FeedService.update`` edits those
messages where the frontend can edit (``EditablePosts``: Discord, Telegram) and posts the new version
as a new message where it cannot (SMS, the shell). A target bound after the first post gets the
current version as a new post.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import structlog
from sqlalchemy import Integer, String, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from core.errors import NotFound, UserError
from core.events import EventBus
from core.frontend import Frontend
from core.replies import Reply
from core.storage.database import Database
from core.storage.models import Base, FeedBinding
from core.storage.types import utcnow
from core.targets import DiscordChannel, ShellConsole, TelegramChat, parse_target

log = structlog.get_logger(__name__)

FEED_TOPIC = "feed.post"
Target = DiscordChannel | TelegramChat | ShellConsole
#: longest item key (``drop:42``, ``cop:7:results``)
KEY_MAX = 120


class FeedPost(Base):
    """Where a keyed feed item was posted: the platform's message reference per target."""

    __tablename__ = "feed_posts"
    __table_args__ = (UniqueConstraint("feed", "item_key", "target_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed: Mapped[str] = mapped_column(String(64))
    item_key: Mapped[str] = mapped_column(String(KEY_MAX), index=True)
    target_key: Mapped[str] = mapped_column(String(200))
    #: what the frontend needs to edit the message(s): a Discord message id, Telegram ``t:12,t:13``
    message_ref: Mapped[str] = mapped_column(String(500))
    #: how many times the post was edited (0: as first posted)
    edits: Mapped[int] = mapped_column(Integer, default=0)
    posted_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


@runtime_checkable
class EditablePosts(Protocol):
    """A frontend that can change a message it posted to a channel (Discord, Telegram)."""

    async def post_ref(self, target: Target, item: Reply) -> str:
        """Post like ``Frontend.post`` and return a reference to the message(s) for ``edit_post``."""
        ...

    async def edit_post(self, target: Target, ref: str, item: Reply) -> str:
        """Replace the message(s) ``ref`` names with ``item``; returns the reference now valid (the
        same one, or a longer one when the new version needed another message)."""
        ...


def _check_key(key: str) -> str:
    if not key or len(key) > KEY_MAX:
        raise ValueError(f"a feed item key is 1 to {KEY_MAX} characters")
    return key


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

    async def publish(self, feed: str, item: Reply, *, key: str | None = None) -> None:
        """Queue ``item`` for every target bound to ``feed``. With a ``key`` the posts are remembered
        so ``update`` can edit them; publishing a key again posts only where it was not posted yet."""
        name = self.check_name(feed)
        payload: dict[str, Any] = {"feed": name, "item": item.model_dump(mode="json")}
        if key is not None:
            payload["key"] = _check_key(key)
        await self._bus.publish(FEED_TOPIC, payload)

    async def update(self, feed: str, key: str, item: Reply) -> None:
        """Replace the item published under ``key`` with ``item`` everywhere it was posted (edited in
        place where the platform allows, else posted again); posted fresh where it never was."""
        name = self.check_name(feed)
        payload = {"feed": name, "item": item.model_dump(mode="json"), "key": _check_key(key), "edit": True}
        await self._bus.publish(FEED_TOPIC, payload)

    async def posts(self, feed: str, key: str) -> dict[str, str]:
        """Target key → message reference of each post of the item ``key`` (tests, admins)."""
        async with self._db.read() as session:
            rows = await session.scalars(select(FeedPost).where(FeedPost.feed == feed, FeedPost.item_key == key))
            return {row.target_key: row.message_ref for row in rows}


    async def record_post(self, feed: str, key: str, target_key: str, ref: str, *, edited: bool) -> None:
        """Remember (or refresh) where the item ``key`` sits on one target."""
        async with self._db.transaction() as session:
            row = (await session.scalars(select(FeedPost).where(
                FeedPost.feed == feed, FeedPost.item_key == key, FeedPost.target_key == target_key
            ))).first()  # fmt: skip
            if row is None:
                session.add(FeedPost(feed=feed, item_key=key, target_key=target_key, message_ref=ref[:500]))
            else:
                row.message_ref, row.updated_at = ref[:500], utcnow()
                row.edits += 1 if edited else 0


class FeedDispatcher:
    """Delivers published feed items through the frontends running in this process."""

    def __init__(self, feeds: FeedService, frontends: Mapping[str, Frontend]) -> None:
        self._feeds = feeds
        self._frontends = frontends
        #: one item's post and its updates run in the order they were published
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def handle(self, _topic: str, payload: dict[str, Any]) -> None:
        item = Reply.model_validate(payload["item"])
        feed, key = payload["feed"], payload.get("key")
        if key is None:
            for _feed, target in await self._feeds.bindings(feed):
                frontend = self._frontends.get(target.platform)
                if frontend is None:
                    continue
                try:
                    await frontend.post(target, item)
                except Exception:
                    log.exception("feed.delivery_failed", feed=feed, target=target.key)
            return
        lock = self._locks.setdefault((feed, key), asyncio.Lock())
        async with lock:
            await self._keyed(feed, key, item, edit=bool(payload.get("edit")))
        if not lock.locked() and len(self._locks) > 1024:
            self._locks.pop((feed, key), None)

    async def _keyed(self, feed: str, key: str, item: Reply, *, edit: bool) -> None:
        posted = await self._feeds.posts(feed, key)
        for _feed, target in await self._feeds.bindings(feed):
            frontend = self._frontends.get(target.platform)
            if frontend is None:
                continue
            ref = posted.get(target.key)
            if ref is not None and not edit:
                continue  # a repeated publish: this target has it already
            try:
                if ref is not None and isinstance(frontend, EditablePosts):
                    new_ref: str | None = await frontend.edit_post(target, ref, item)
                elif isinstance(frontend, EditablePosts):
                    new_ref = await frontend.post_ref(target, item)
                else:
                    await frontend.post(target, item)
                    new_ref = ref or "-"
            except Exception:
                log.exception("feed.delivery_failed", feed=feed, target=target.key, key=key)
                continue
            await self._feeds.record_post(feed, key, target.key, new_ref or "-", edited=ref is not None)

