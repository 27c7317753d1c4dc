"""Direct messages about trades, through the delivery outbox in the caller's transaction, so a
proposal and the messages announcing it are stored together or not at all."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.delivery import NewMessage, enqueue
from core.replies import Reply
from core.storage.models import DEFAULT_CHANNEL_ORDER, Identity, Member

SOURCE = "trade"
_DIRECT = ("discord", "telegram")


def channels_for(member: Member, platforms: Iterable[str]) -> list[str]:
    """The member's channel order, kept to platforms they linked and allow DMs on. SMS only with
    SMS alerts on (it has no buttons: the message says which command answers); the local shell last."""
    linked = set(platforms)
    chosen: list[str] = []
    for channel in member.channel_order or DEFAULT_CHANNEL_ORDER:
        if channel not in linked or channel in chosen:
            continue
        if channel in _DIRECT and not member.dm_enabled:
            continue
        if channel == "sms" and not member.sms_enabled:
            continue
        chosen.append(channel)
    if "shell" in linked and "shell" not in chosen:
        chosen.append("shell")
    return chosen


async def send(session: AsyncSession, messages: Sequence[tuple[int, str, Reply]]) -> int:
    """Queue ``(member_id, ref, reply)`` DMs; ``ref`` keys them, so writing one twice sends it once.
    Returns how many members had a channel to reach them on."""
    ids = sorted({member_id for member_id, _, _ in messages})
    if not ids:
        return 0
    members = {m.id: m for m in (await session.execute(select(Member).where(Member.id.in_(ids)))).scalars()}
    platforms: dict[int, set[str]] = {}
    for member_id, platform in (
        await session.execute(select(Identity.member_id, Identity.platform).where(Identity.member_id.in_(ids)))
    ).all():
        platforms.setdefault(member_id, set()).add(platform)
    queued: list[NewMessage] = []
    for member_id, ref, reply in messages:
        member = members.get(member_id)
        if member is None:
            continue
        channels = channels_for(member, platforms.get(member_id, ()))
        if channels:
            queued.append(NewMessage(SOURCE, ref, member_id, channels, reply))
    await enqueue(session, queued)
    return len(queued)
