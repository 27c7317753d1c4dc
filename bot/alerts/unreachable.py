"""Alerts that matched a member no channel could reach, reported to ``/admin deadletters``.

Such a match is kept as an ``unreachable`` notice and never becomes an outbox row; the reason shown
is the member's reach now (``bot.delivery.reach``), which is what an admin can help them fix.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.alerts.models import AlertNotice
from bot.alerts.service import UNREACHABLE
from bot.delivery.reach import direct_reach
from bot.delivery.undelivered import Undelivered, UndeliveredSource
from core.engine import Engine
from core.storage.models import Member


def unreachable_alerts(engine: Engine) -> UndeliveredSource:
    async def newest(limit: int) -> list[Undelivered]:
        async with engine.db.read() as session:
            rows = (
                await session.execute(
                    select(AlertNotice, Member)
                    .join(Member, Member.id == AlertNotice.member_id)
                    .where(AlertNotice.status == UNREACHABLE)
                    .order_by(AlertNotice.id.desc())
                    .limit(limit)
                )
            ).all()
        reasons: dict[int, str] = {}
        for _notice, member in rows:
            if member.id not in reasons:
                reach = await direct_reach(engine, member)
                reasons[member.id] = (
                    "; ".join(reach.problems or ("no channel in their alert order is linked",))
                    if not reach.channels
                    else f"reachable now ({reach.describe()}), but not when it matched"
                )
        return [
            Undelivered(
                status=UNREACHABLE,
                member_id=member.id,
                what=(f"alert #{notice.rule_id}: " if notice.rule_id else "") + notice.summary,
                reason=reasons[member.id],
                at=notice.created_at,
            )
            for notice, member in rows
        ]

    return newest
