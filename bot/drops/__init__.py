"""The drop calendar (#13 items 1-3): drops confirmed by mods and posted to the ``drops`` feed (the
post updated on every change), ``/drops`` and ``/drop show`` in each member's zone, reminders that
arrive on time however big the group (``bot.drops.reminders``), prep checklists, and per-member
``.ics`` feeds served on the ops web server at ``/calendar/<token>.ics``.

Release dates from the catalog and from monitor events are proposed to mods (``drop confirm``)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.drops.commands import COMMANDS
from bot.drops.config import DropsSection
from bot.drops.models import CalendarToken, DropReminder
from bot.drops.service import Drops
from bot.monitors.service import EVENT_TOPIC
from core.config import Config
from core.engine import Engine
from core.ops.server import add_page
from core.slice import Slice

#: catalog release dates are looked at this often
PROPOSE_S = 3600.0


class DropsSlice(Slice[Drops]):
    name = "drops"
    config_model = DropsSection
    models = ("bot.drops.models",)
    migrations = Path(__file__).parent / "migrations"
    depends_on = ("market", "delivery", "feeds", "alerts")

    def build(self, engine: Engine) -> Drops:
        drops = Drops(engine)
        engine.registry.add(*COMMANDS)
        engine.bus.subscribe(EVENT_TOPIC, drops.on_monitor_event)
        engine.scheduler.every("drops.plan", drops.settings.planner_s, drops.planner.plan)
        engine.scheduler.every("drops.propose", PROPOSE_S, drops.propose_from_catalog, jitter=60)

        async def calendar(request: web.Request) -> web.StreamResponse:
            document = await drops.calendar_for_token(request.match_info["token"])
            if document is None:
                raise web.HTTPNotFound(text="no such calendar")
            minutes = drops.settings.calendar_refresh_minutes
            return web.Response(
                body=document,
                headers={
                    "Content-Type": "text/calendar; charset=utf-8",
                    "Content-Disposition": 'inline; filename="drops.ics"',
                    "Cache-Control": f"private, max-age={minutes * 60}",
                },
            )

        add_page(engine, "/calendar/{token}.ics", calendar)
        return drops

    async def start(self, services: Drops) -> None:
        await services.planner.plan()  # waves due while the bot was down, before anything else

    async def merge_members(self, services: Drops, session: AsyncSession, survivor_id: int, absorbed_id: int) -> None:
        """Reminders move to the survivor unless it has its own for that drop; the absorbed calendar
        link stops (the survivor keeps theirs)."""
        own = set(
            (await session.scalars(select(DropReminder.drop_id).where(DropReminder.member_id == survivor_id))).all()
        )
        await session.execute(
            delete(DropReminder).where(DropReminder.member_id == absorbed_id, DropReminder.drop_id.in_(own))
        )
        await session.execute(
            update(DropReminder).where(DropReminder.member_id == absorbed_id).values(member_id=survivor_id)
        )
        await session.execute(delete(CalendarToken).where(CalendarToken.member_id == absorbed_id))

    def check_config(self, config: Config) -> list[str]:
        settings, feeds = config.get(DropsSection), config.feeds.names
        return [
            f"[drops] {key}: no feed named {value!r} (feeds: {', '.join(feeds)})"
            for key, value in (("feed", settings.feed), ("proposals_feed", settings.proposals_feed))
            if value not in feeds
        ]


SLICE = DropsSlice()

__all__ = ["SLICE", "Drops", "DropsSlice"]
