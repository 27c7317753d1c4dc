"""/admin deadletters: what could not be delivered, and a way to send it again."""

from __future__ import annotations

from bot.delivery.service import Delivery
from bot.delivery.undelivered import Undelivered
from core.commands import Command, Param, ParamType, Permission
from core.context import Context
from core.delivery import dead_letters, retry_dead
from core.errors import NotFound
from core.replies import Reply, ReplyField

#: how many of each kind the listing shows
LISTED = 20


async def deadletters(ctx: Context, action: str = "list", id: int | None = None) -> Reply:
    if action == "retry":
        count = await retry_dead(ctx.engine.db, None if id is None else [id])
        ctx.service(Delivery).wake()
        if not count:
            raise NotFound("No such dead letter." if id is not None else "There are no dead letters.")
        return Reply(title="♻️ Retrying", text=f"{count} notification(s) are back in the queue.", ephemeral=True)
    rows = await dead_letters(ctx.engine.db, limit=LISTED)
    unsent = await _undelivered(ctx)
    if not rows and not unsent:
        return Reply(title="📭 Dead letters", text="None. Everything was delivered.", ephemeral=True)
    fields = [
        ReplyField(
            name=f"#{row.id} {row.status} · member #{row.member_id} · {row.channel} · {row.attempts} tries",
            value=(row.last_error or "no reason recorded")[:200],
            inline=False,
        )
        for row in rows
    ]
    fields.extend(
        ReplyField(
            name=f"{item.status} · member #{item.member_id} · {item.at:%Y-%m-%d %H:%M} UTC",
            value=f"{item.what[:120]}\nWhy: {item.reason[:200]}",
            inline=False,
        )
        for item in unsent
    )
    parts = [f"{len(rows)} dead letter(s)" if rows else "No dead letters"]
    if unsent:
        parts.append(f"{len(unsent)} unreachable (never sent: no channel could carry them)")
    return Reply(
        title=f"📭 Dead letters and Unreachable (latest {LISTED} of each)",
        text="; ".join(parts) + ".",
        fields=fields,
        footer="Retry one with /admin deadletters retry ID, or all with /admin deadletters retry. "
        "Unreachable notices can't be retried: the member fixes the reason, and later alerts reach them.",
        ephemeral=True,
    )


async def _undelivered(ctx: Context) -> list[Undelivered]:
    """What other slices report as never handed to a channel, newest first."""
    found: list[Undelivered] = []
    for source in ctx.service(Delivery).undelivered:
        found.extend(await source(LISTED))
    return sorted(found, key=lambda item: item.at, reverse=True)[:LISTED]


COMMANDS = [
    Command("admin deadletters", "Notifications that could not be delivered; retry them.", deadletters,
            (Param("action", "list or retry", required=False, default="list", choices=("list", "retry")),
             Param("id", "Dead letter id (retry: all if omitted)", type=ParamType.INTEGER, required=False,
                   min_value=1)),
            permission=Permission.ADMIN, private=True),
]
