"""The delivery services one engine shares: the limiter, the address book and the outbox worker.

Features write outbox rows in their own transactions (``core.delivery.enqueue``) and call ``wake``;
the worker sends them through whichever chat frontends are attached. It runs from the engine's start
and only claims rows for platforms whose frontend is attached, so nothing polls for readiness:
``frontend_attached`` wakes it.
"""

from __future__ import annotations

from bot.delivery.addresses import EngineAddressBook
from bot.delivery.undelivered import UndeliveredSource
from core.delivery import DeliveryLimiter, DeliverySection, DeliveryWorker
from core.engine import Engine


class Delivery:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.settings = engine.config.get(DeliverySection)
        self.limiter = DeliveryLimiter(self.settings.limits())
        self.address_book = EngineAddressBook(engine)
        self.worker = self._new_worker()
        self.running = False
        #: features' notifications that never reached the outbox (``bot.delivery.undelivered``)
        self.undelivered: list[UndeliveredSource] = []
        engine.metrics.watch_delivery(lambda: self.worker.stats)

    def _new_worker(self) -> DeliveryWorker:
        engine = self._engine
        return DeliveryWorker(
            engine.db,
            engine.frontends,
            self.address_book,
            self.limiter,
            self.settings.worker_settings(
                sms_sender=engine.config.sms.from_number, sms_validity_s=engine.config.sms.validity_period_seconds
            ),
            publish=engine.bus.publish,
        )

    async def start(self) -> None:
        if not self.running:
            self.running = True
            await self.worker.start()

    async def stop(self) -> None:
        if self.running:
            self.running = False
            await self.worker.stop()

    async def restart_worker(self) -> DeliveryWorker:
        """Start a fresh worker in place of one that died (``kill``): what a process restart does.
        Its rows come free when the dead worker's leases run out."""
        self.worker = self._new_worker()
        await self.worker.start()
        self.running = True
        return self.worker

    def wake(self) -> None:
        """New rows are due: let the worker claim them now rather than at its next tick."""
        if self.running:
            self.worker.wake()
