"""Alert rules: members say what they want, the monitors' events are matched against every rule
through an index, and the matches are written to the delivery slice's outbox for each member's
channels, within quiet hours, caps and digests. Alerts decide who gets what; delivery sends it.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import and_, delete, exists, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.commands import COMMANDS
from bot.alerts.config import AlertsSection
from bot.alerts.models import AlertNotice, AlertPrefs, AlertRule
from bot.alerts.service import EVENT_TOPIC, AlertsRuntime
from bot.alerts.unreachable import unreachable_alerts
from bot.delivery.service import Delivery
from core.engine import Engine
from core.identity import MEMBER_MERGED
from core.slice import Slice


class AlertsSlice(Slice[AlertsRuntime]):
    name = "alerts"
    config_model = AlertsSection
    models = ("bot.alerts.models",)
    migrations = Path(__file__).parent / "migrations"
    depends_on = ("delivery",)

    def build(self, engine: Engine) -> AlertsRuntime:
        runtime = AlertsRuntime(engine, engine.service(Delivery))
        engine.registry.add(*COMMANDS)
        engine.service(Delivery).undelivered.append(unreachable_alerts(engine))
        engine.bus.subscribe(EVENT_TOPIC, runtime.on_event)
        engine.bus.subscribe(MEMBER_MERGED, runtime.on_member_merged)
        engine.scheduler.every("alerts.housekeeping", runtime.settings.housekeeping_s, runtime.housekeeping)
        return runtime

    async def start(self, services: AlertsRuntime) -> None:
        await services.start()

    async def merge_members(
        self, services: AlertsRuntime, session: AsyncSession, survivor_id: int, absorbed_id: int
    ) -> None:
        """The absorbed member's rules become the survivor's (editable and deletable again); their
        quiet hours, cap and digest are kept only if the survivor had none; notices they were already
        sent stay counted once per event."""
        await session.execute(update(AlertRule).where(AlertRule.member_id == absorbed_id).values(member_id=survivor_id))
        if await session.get(AlertPrefs, survivor_id) is None:
            await session.execute(
                update(AlertPrefs).where(AlertPrefs.member_id == absorbed_id).values(member_id=survivor_id)
            )
        else:
            await session.execute(delete(AlertPrefs).where(AlertPrefs.member_id == absorbed_id))
        survivor_notice = AlertNotice.__table__.alias("survivor_notice")
        await session.execute(
            delete(AlertNotice).where(
                AlertNotice.member_id == absorbed_id,
                exists().where(
                    and_(survivor_notice.c.member_id == survivor_id, survivor_notice.c.event_id == AlertNotice.event_id)
                ),
            )
        )
        await session.execute(
            update(AlertNotice).where(AlertNotice.member_id == absorbed_id).values(member_id=survivor_id)
        )


SLICE = AlertsSlice()

__all__ = ["SLICE", "AlertsRuntime", "AlertsSlice"]
