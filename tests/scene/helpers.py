"""What the scene tests share: a bot with the spotted feed and quick earnings, and feed capture."""

from __future__ import annotations

from typing import Any

from core.feeds import FEED_TOPIC
from core.replies import Reply
from tests.testbot import TestBot

#: LACES paid to brand-new test accounts (bot.toml's [feeds] names has the spotted feed)
SECTIONS: dict[str, dict[str, Any]] = {"economy": {"min_account_age_days": 0}}


def capture_feed(bot: TestBot, feed: str) -> list[Reply]:
    """Every item published to ``feed`` from now on."""
    posts: list[Reply] = []

    async def keep(_topic: str, payload: dict[str, Any]) -> None:
        if payload["feed"] == feed:
            posts.append(Reply.model_validate(payload["item"]))

    bot.engine.bus.subscribe(FEED_TOPIC, keep)
    return posts
