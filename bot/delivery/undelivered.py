"""Notifications a feature decided on but could not hand to any channel, for ``/admin deadletters``.

The outbox only holds what had somewhere to go. An alert for a member no channel can reach (DMs off,
nothing linked, its platform not running) never becomes an outbox row, so the feature that made it
reports it here instead, and admins see it beside the dead letters, with the reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Undelivered:
    #: ``unreachable`` and the like: what happened to it
    status: str
    member_id: int
    #: what the notification was about, one line
    what: str
    reason: str
    at: datetime


#: newest first, at most ``limit`` of them
UndeliveredSource = Callable[[int], Awaitable[list[Undelivered]]]
