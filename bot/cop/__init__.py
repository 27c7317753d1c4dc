"""The Cop Simulator: practice for release day in chat.

``/cop practice`` arms a simulated drop that opens at a random moment after a countdown; the member
picks a size, adds it to the cart, checks out and types back a code, and the server times the run
from the moment the drop message was sent. Admins schedule group drops (``/cop schedule``) with
limited stock that everyone races for; the first checkouts win, results go to the ``cop`` feed and
winners earn LACES through the ``cop_win`` earn rule. ``/cop leaderboard`` ranks the fastest, and
each month's group drops make a tournament whose prizes the treasury pays through the ledger.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import and_, exists, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cop.commands import COMMANDS
from bot.cop.config import CopSection
from bot.cop.models import CopDrop, CopEntry
from bot.cop.service import Cop
from bot.economy.config import EconomySection
from core.config import Config
from core.delivery import REFUSED_TOPIC
from core.engine import Engine
from core.slice import Slice


class CopSlice(Slice[Cop]):
    name = "cop"
    config_model = CopSection
    models = ("bot.cop.models",)
    migrations = Path(__file__).parent / "migrations"
    depends_on = ("economy", "delivery", "feeds")

    def build(self, engine: Engine) -> Cop:
        cop = Cop(engine)
        engine.registry.add(*COMMANDS)
        engine.scheduler.every("cop.sweep", cop.settings.sweep_seconds, cop.sweep, jitter=1)
        # a platform that turns a member away closes their practice run at once (see bot.cop.undelivered)
        engine.bus.subscribe(REFUSED_TOPIC, cop.on_refused)
        return cop

    async def start(self, services: Cop) -> None:
        await services.restore()

    async def merge_members(self, services: Cop, session: AsyncSession, survivor_id: int, absorbed_id: int) -> None:
        """Entries follow the member, except in a drop both accounts entered (one entry per member
        per drop: the absorbed one stays where it is). Practice drops follow too."""
        kept = CopEntry.__table__.alias("kept")
        await session.execute(
            update(CopEntry)
            .where(
                CopEntry.member_id == absorbed_id,
                ~exists().where(and_(kept.c.member_id == survivor_id, kept.c.drop_id == CopEntry.drop_id)),
            )
            .values(member_id=survivor_id)
        )
        await session.execute(update(CopDrop).where(CopDrop.member_id == absorbed_id).values(member_id=survivor_id))

    def check_config(self, config: Config) -> list[str]:
        settings = config.get(CopSection)
        problems = []
        if "feed" in settings.model_fields_set and settings.feed not in config.feeds.names:
            names = ", ".join(config.feeds.names)
            problems.append(f"[cop] feed: no feed named {settings.feed!r} (feeds: {names}; add it to [feeds] names)")
        rules = config.get(EconomySection).earn
        # a kind without a rule pays nothing; only a kind the operator named is checked, to catch a typo
        if "earn_kind" in settings.model_fields_set and settings.earn_kind and settings.earn_kind not in rules:
            problems.append(
                f"[cop] earn_kind: no [economy.earn.{settings.earn_kind}] rule "
                f"(rules: {', '.join(sorted(rules))}); add one, or set earn_kind = \"\" to pay winners nothing"
            )
        return problems


SLICE = CopSlice()

__all__ = ["SLICE", "Cop", "CopSlice"]
