"""How a practice drop's message fared in the delivery outbox, and the run it never reached.

A practice drop is a DM: when the platform refuses it (Discord DMs closed to server members, the
Telegram bot blocked) the member is left waiting for nothing. The outbox row is the record of that,
so the run is judged from it, and the member is told on their next ``/cop practice`` or ``/cop status``.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.cop.models import CopDrop
from core.delivery.models import DEAD, EXPIRED, REFUSED

#: not queued (not open yet, or a group drop), queued or being retried, accepted by the platform,
#: turned away for good by the platform, and given up on by the worker for another reason
NO_MESSAGE, WAITING, DELIVERED, REFUSED_DM, FAILED = "none", "waiting", "sent", "refused", "failed"
#: outbox states a message never leaves unless an admin retries it
GAVE_UP = frozenset({REFUSED, DEAD, EXPIRED})


@dataclass(frozen=True)
class Undelivered:
    """A practice drop whose message never reached its member; ``refused`` when the platform
    turned the member away rather than failing."""

    drop: CopDrop
    refused: bool
