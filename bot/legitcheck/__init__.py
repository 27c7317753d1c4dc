"""Legit checks: members ask the community whether a pair is real; votes are weighted by who has been
right (on verdicts and on seeded gold checks), and photos reused from other checks are flagged.

Other slices may read checks through ``engine.service(LegitChecks)``. Payouts go through the economy
(``legit_vote_won`` earn rule), verdict DMs through the delivery outbox, cards to the ``lc`` feed.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.legitcheck.commands import commands
from bot.legitcheck.config import LegitCheckSection
from bot.legitcheck.models import LcCheck, LcVoter
from bot.legitcheck.service import LegitChecks
from core.config import Config
from core.engine import Engine
from core.slice import Slice


class LegitCheckSlice(Slice[LegitChecks]):
    name = "legitcheck"
    config_model = LegitCheckSection
    models = ("bot.legitcheck.models",)
    migrations = Path(__file__).parent / "migrations"
    depends_on = ("economy", "delivery")

    def build(self, engine: Engine) -> LegitChecks:
        service = LegitChecks(engine)
        engine.registry.add(*commands())
        engine.scheduler.every("legitcheck.sweep", service.settings.sweep_seconds, service.sweep, jitter=1)
        return service

    async def start(self, services: LegitChecks) -> None:
        """Load every stored photo hash into this process's index before the first submission."""
        await services.photos.refresh()

    async def merge_members(
        self, services: LegitChecks, session: AsyncSession, survivor_id: int, absorbed_id: int
    ) -> None:
        """Checks follow the member. Votes and the voting record stay where they are (a vote on a
        check both accounts voted on would break one-vote-per-member), except the bar, which the
        survivor inherits so linking cannot lift it."""
        await session.execute(update(LcCheck).where(LcCheck.member_id == absorbed_id).values(member_id=survivor_id))
        absorbed = await session.get(LcVoter, absorbed_id)
        if absorbed is not None and absorbed.barred:
            survivor = await session.get(LcVoter, survivor_id)
            if survivor is None:
                session.add(
                    LcVoter(member_id=survivor_id, agreed=0, disagreed=0, gold_right=0, gold_wrong=0, barred=True)
                )
            else:
                survivor.barred = True

    def check_config(self, config: Config) -> list[str]:
        settings = config.get(LegitCheckSection)
        return [
            f"[legitcheck] authenticators: {key!r} is not platform:id (e.g. discord:1234)"
            for key in settings.authenticators
            if ":" not in key
        ]


SLICE = LegitCheckSlice()

__all__ = ["SLICE", "LegitCheckSlice", "LegitChecks"]
