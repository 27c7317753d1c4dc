"""The economy's services for one engine, wired once by ``register`` and shared by its commands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from bot.economy.fulfilment import Fulfilment
from bot.economy.raffles import Raffles
from bot.economy.service import Economy
from bot.economy.shop import Shop

if TYPE_CHECKING:
    from core.engine import Engine

log = structlog.get_logger(__name__)

@dataclass
class EconomyRuntime:
    economy: Economy
    shop: Shop
    raffles: Raffles
    #: set after the first sweep has re-registered raffle draws with the in-memory scheduler
    restored: bool = False

    @classmethod
    def build(cls, engine: Engine) -> EconomyRuntime:
        economy = Economy(engine)
        return cls(economy, Shop(economy, Fulfilment(engine)), Raffles(economy))

    async def sweep(self) -> None:
        """The periodic job: draw due raffles, end expired entitlements, finish interrupted purchases.

        Each part is idempotent, so a sweep that overlaps a command or another process is harmless.
        """
        if not self.restored:
            await self.raffles.reschedule_open()
            self.restored = True
        for name, step in (
            ("raffles", self.raffles.draw_due),
            ("expiry", self.shop.expire),
            ("purchases", self.shop.recover),
        ):
            try:
                await step()
            except Exception:
                log.exception("economy.sweep_failed", step=name)
