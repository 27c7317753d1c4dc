"""Delivery: the outbox every feature sends through, its worker, dead letters and their command.

Alerts decide who gets what; the shop, raffles or any later feature send a DM the same way, by
writing an outbox row and waking ``Delivery``.
"""

from __future__ import annotations

from pathlib import Path

from bot.delivery.commands import COMMANDS
from bot.delivery.service import Delivery
from core.delivery import DeliverySection
from core.engine import Engine
from core.slice import Slice


class DeliverySlice(Slice[Delivery]):
    name = "delivery"
    config_model = DeliverySection
    models = ("core.delivery.models",)
    migrations = Path(__file__).parent / "migrations"

    def build(self, engine: Engine) -> Delivery:
        engine.registry.add(*COMMANDS)
        return Delivery(engine)

    async def start(self, services: Delivery) -> None:
        await services.start()

    async def stop(self, services: Delivery) -> None:
        await services.stop()

    def frontend_attached(self, services: Delivery, platform: str) -> None:
        services.wake()


SLICE = DeliverySlice()

__all__ = ["SLICE", "Delivery", "DeliverySlice"]
