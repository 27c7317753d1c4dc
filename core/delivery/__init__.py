"""Platform-neutral delivery: the outbox, the worker that drains it, and our rate limiters.

The ``bot.delivery`` slice owns its lifecycle (tables, migrations, config section, worker, commands);
every feature that sends a message goes through it.
"""

from core.delivery.config import DeliverySection
from core.delivery.limits import DeliveryLimiter, PlatformLimits, TokenBucket
from core.delivery.outbox import NewMessage, dead_letters, enqueue, enqueue_claimed, retry_dead
from core.delivery.worker import REFUSED_TOPIC, DeliveryWorker, WorkerSettings

__all__ = [
    "REFUSED_TOPIC",
    "DeliveryLimiter",
    "DeliverySection",
    "DeliveryWorker",
    "NewMessage",
    "PlatformLimits",
    "TokenBucket",
    "WorkerSettings",
    "dead_letters",
    "enqueue",
    "enqueue_claimed",
    "retry_dead",
]
