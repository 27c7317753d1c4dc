"""For tests of other features that need two accounts linked: the owner's side of ``/link``."""

from __future__ import annotations

from sqlalchemy import select

from bot.account.linking import ASK_SOURCE
from core.delivery.models import OutboxMessage
from core.engine import Engine
from core.identity import Caller
from core.replies import Reply


async def confirm_link(engine: Engine, owner: Caller) -> Reply:
    """Press Confirm on the newest link request sent to ``owner``, as the owner would; returns the
    reply ("✅ Accounts linked")."""
    member = await engine.identity.resolve(owner)
    async with engine.db.read() as session:
        asked = (
            await session.execute(
                select(OutboxMessage)
                .where(OutboxMessage.member_id == member.id, OutboxMessage.source == ASK_SOURCE)
                .order_by(OutboxMessage.id.desc())
                .limit(1)
            )
        ).scalar_one()
    confirm = next(button for button in Reply.model_validate(asked.payload).buttons if button.label == "Confirm")
    return await engine.dispatch_line(owner, confirm.action or "")
