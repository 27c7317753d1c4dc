"""Platform-neutral delivery: the outbox, the worker that drains it, and our rate limiters.

Importing it registers the outbox table and the ``[delivery]`` config section.
"""

from core.delivery.config import DeliverySection
from core.delivery.limits import DeliveryLimiter, PlatformLimits, TokenBucket
from core.delivery.outbox import NewMessage, dead_letters, enqueue, enqueue_claimed, retry_dead
from core.delivery.worker import REFUSED_TOPIC, DeliveryWorker, WorkerSettings
from core.storage.metadata import register_models

register_models("core.delivery.models")

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
