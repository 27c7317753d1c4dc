"""/report restock: a member saw a restock (in a shop or online) and tells the group.

The report is stored, posted to the ``reports`` feed under the reporter's name, and announced on the
bus as ``laces.earn`` (``{"kind": "restock_report", "member_id", "source_id"}``) so the economy can
reward it; ``source_id`` is the stored report's id, stable for deduplication. A per-member cooldown
keeps the feed readable and the reward from being farmed.
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from bot.monitors.filters import size_key
from bot.monitors.models import RestockReport
from bot.monitors.service import MonitorService
from core.commands import Command, Param
from core.context import Context
from core.errors import BadArgument, UserError
from core.markup import escape
from core.replies import Reply
from core.storage.types import utcnow

EARN_TOPIC = "laces.earn"
REPORTS_FEED = "reports"
_SIZE_TEXT = re.compile(
    r"^(?:(?:us|uk|eu|m|w|y)\s*)?\d{1,2}(?:[.,]5)?\s*[a-z]{0,2}$|^(?:xxs|xs|s|m|l|xl|xxl|os)$", re.I
)


async def report_restock(ctx: Context, store: str, item: str, size: str | None = None) -> Reply:
    if size is not None and (size_key(size) is None or not _SIZE_TEXT.match(size.strip())):
        raise BadArgument(
            "size", f'`{size}` is not a size. Put a many-word item in quotes: /report restock Kith "Jordan 4 Bred" 10'
        )
    feed = ctx.engine.feeds.check_name(REPORTS_FEED)
    settings = ctx.service(MonitorService).settings
    now = utcnow()
    cooldown = timedelta(seconds=settings.report_cooldown_seconds)
    async with ctx.engine.db.transaction() as session:
        last = await session.execute(
            select(RestockReport.created_at)
            .where(RestockReport.member_id == ctx.member.id)
            .order_by(RestockReport.created_at.desc())
            .limit(1)
        )
        previous = last.scalar_one_or_none()
        if previous is not None and now - previous < cooldown:
            wait = int((cooldown - (now - previous)).total_seconds()) + 1
            raise UserError(f"You reported a restock moments ago. You can report another in {wait} s.")
        report = RestockReport(
            member_id=ctx.member.id,
            store=store.strip()[:100],
            item=item.strip()[:200],
            size=size.strip() if size else None,
            created_at=now,
        )
        session.add(report)
        await session.flush()
        report_id = report.id
    # everything here was typed by a member: escaped, so it can't add markup, links or mentions
    item, store_name, who = escape(report.item), escape(report.store), escape(ctx.member.display_name)
    where = f" in size **{escape(report.size)}**" if report.size else ""
    post = Reply(
        title=f"📣 Restock reported: {item}",
        text=f"**{who}** saw **{item}** restock at **{store_name}**{where}.",
        footer=f"member report #{report_id} · unverified, check before you cop",
        color=0xE67E22,
    )
    await ctx.engine.feeds.publish(feed, post)
    await ctx.engine.bus.publish(
        EARN_TOPIC, {"kind": "restock_report", "member_id": ctx.member.id, "source_id": str(report_id)}
    )
    return Reply(
        title="📣 Thanks!", text=f"Your report is posted to `{REPORTS_FEED}` (report #{report_id}).", ephemeral=True
    )


async def _pair_names(ctx: Context, prefix: str) -> list[str]:
    """The market slice's catalog names (imported here: the market slice imports this one's modules)."""
    from bot.market.commands import pair_names

    return await pair_names(ctx, prefix)


COMMANDS = [
    Command(
        name="report restock",
        description="Tell the group about a restock you saw in a store or online.",
        handler=report_restock,
        params=(
            Param("store", "Where: shop name or site", max_length=100),
            Param("item", "What restocked (quote many words)", max_length=200, autocomplete=_pair_names),
            Param("size", "Size you saw, if any", required=False, max_length=16),
        ),
    ),
]
