"""/drops, /drop show|add|edit|raffle|cancel|proposals|confirm|reject, /remind, /prep and /calendar.

Times members read are in their own zone (``/settings tz:``) and, on Discord, in each viewer's local
time. Every refusal says what was wrong and changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

from bot.drops import render
from bot.drops.parse import (
    describe_offset,
    looks_like_offsets,
    parse_deadline,
    parse_offsets,
    parse_price,
    parse_release,
    parse_retailers,
    safe_link,
)
from bot.drops.service import DropChanges, Drops, NewDrop
from bot.market import pair_param
from bot.market.service import Market
from core.commands import Command, Param, ParamType, Permission
from core.context import Context
from core.errors import UserError
from core.markup import clip, escape
from core.replies import MAX_REPLY_FILE_BYTES, Button, Reply, ReplyFile
from core.storage.types import utcnow

PERIODS = {"week": 7, "month": 31, "all": 730}
#: the name /calendar sends the member's .ics under
CALENDAR_FILE = "snpd-drops.ics"


def _zone(ctx: Context) -> str:
    return ctx.member.timezone or "UTC"


async def list_drops(ctx: Context, period: str = "week", brand: str | None = None) -> Reply:
    drops = ctx.service(Drops)
    until = utcnow() + timedelta(days=PERIODS[period])
    found = await drops.upcoming(until=until, brand=brand)
    label = {"week": "this week", "month": "this month", "all": "coming up"}[period]
    if not found:
        more = f" for {escape(brand)}" if brand else ""
        return Reply(title=f"📅 Drops {label}", text=f"Nothing on the calendar{more}. Try `/drops all`.")
    lines = [render.list_line(drop, _zone(ctx)) for drop in found]
    return Reply(
        title=f"📅 Drops {label}" + (f" · {clip(brand, 40)}" if brand else ""),
        text="\n".join(lines),
        footer=f"Times in {_zone(ctx)} · /drop show ID · /remind ID",
    )


async def show(ctx: Context, item: str) -> Reply:
    drops = ctx.service(Drops)
    drop = await drops.find(item)
    reply = render.card(drop, _zone(ctx), market_price=await drops.market_price(drop))
    return reply


async def _pair(ctx: Context, item: str) -> tuple[str, int | None, str, float | None]:
    """The catalog pair an admin named: name, catalog id, brand, retail."""
    if not ctx.engine.has_service(Market):
        return item.strip()[:300], None, "", None
    resolved = await ctx.service(Market).resolve(item)
    if resolved.product is None:
        options = "; ".join(f"#{hit.id} {hit.name}" for hit in resolved.candidates[:5])
        raise UserError(
            f"Which pair? “{clip(item, 60)}” is not clear in the catalog."
            + (f" Candidates: {options}. Use `#ID`." if options else " Nothing matches.")
        )
    product = resolved.product
    return product.name, product.id, product.brand, product.retail


async def add(
    ctx: Context, item: str, when: str, retailers: str, price: float | None = None, notes: str | None = None
) -> Reply:
    drops = ctx.service(Drops)
    moment, zone = parse_release(when, now=utcnow())
    shops = parse_retailers(retailers, drops.settings.retailers)
    name, catalog_id, brand, retail = await _pair(ctx, item)
    drop = await drops.add(
        NewDrop(
            name=name,
            release_at=moment,
            timezone=zone,
            retailers=shops,
            catalog_id=catalog_id,
            brand=brand,
            retail_price=parse_price(price) or retail,
            notes=notes or "",
        ),
        by=ctx.member.id,
    )
    return Reply(
        title=f"✅ Drop #{drop.id} added",
        text=f"{escape(drop.name)}, {render.when(drop.release_at, _zone(ctx))}."
        f" Posted to the `{drops.settings.feed}` feed.",
    )


async def edit(
    ctx: Context,
    drop: int,
    when: str | None = None,
    retailers: str | None = None,
    price: float | None = None,
    notes: str | None = None,
) -> Reply:
    drops = ctx.service(Drops)
    if when is None and retailers is None and price is None and notes is None:
        raise UserError("Say what changes: when:, retailers:, price: or notes:.")
    moment, zone = parse_release(when, now=utcnow()) if when is not None else (None, None)
    changes = DropChanges(
        release_at=moment,
        timezone=zone,
        retailers=parse_retailers(retailers, drops.settings.retailers) if retailers is not None else None,
        retail_price=parse_price(price),
        notes=notes,
    )
    stored, moved_from = await drops.edit(drop, changes, by=ctx.member.id)
    text = f"{escape(stored.name)} is at version {stored.sequence}; the feed post is updated."
    if moved_from is not None:
        text += "\n" + render.moved_line(moved_from, stored.release_at, _zone(ctx)) + ". Reminders move with it."
    return Reply(title=f"✏️ Drop #{stored.id} edited", text=text)


async def raffle(ctx: Context, drop: int, retailer: str, url: str, deadline: str | None = None) -> Reply:
    drops = ctx.service(Drops)
    current = await drops.get(drop)
    link = safe_link(url)
    closes = parse_deadline(deadline, now=utcnow(), release=current.release_at) if deadline else None
    stored, _ = await drops.edit(drop, DropChanges(raffle=(retailer, link, closes)), by=ctx.member.id)
    text = f"{escape(retailer)} raffle linked for {escape(stored.name)}"
    if closes is not None:
        text += f", closing {render.when(closes, _zone(ctx))}"
    return Reply(title=f"🎟️ Drop #{stored.id} raffle", text=text + ".")


async def cancel(ctx: Context, drop: int) -> Reply:
    stored, told = await ctx.service(Drops).cancel(drop, by=ctx.member.id)
    return Reply(
        title=f"❌ Drop #{stored.id} cancelled",
        text=f"{escape(stored.name)} is off; {told} member{'s' if told != 1 else ''} with reminders "
        "will be told, and the feed post says so.",
    )


async def proposals(ctx: Context) -> Reply:
    pending = await ctx.service(Drops).proposals()
    if not pending:
        return Reply(title="🗓️ Proposed drops", text="Nothing waiting for a decision.", ephemeral=True)
    lines = [f"`{p.id}` {escape(clip(p.name, 80))} · {render.when(p.release_at, _zone(ctx))}" for p in pending]
    buttons = [Button(label=f"Confirm {p.id}", action=f"drop confirm {p.id}") for p in pending[:10]]
    return Reply(title="🗓️ Proposed drops", text="\n".join(lines), buttons=buttons, ephemeral=True)


async def confirm(ctx: Context, proposal: int) -> Reply:
    decided, drop = await ctx.service(Drops).decide(proposal, confirm=True, by=ctx.member.id)
    assert drop is not None
    return Reply(
        title=f"✅ Proposal {decided.id} confirmed",
        text=f"Drop #{drop.id} {escape(drop.name)} is on the calendar and posted. Add retailers with "
        f"`/drop edit {drop.id} retailers:…`.",
    )


async def reject(ctx: Context, proposal: int) -> Reply:
    decided, _ = await ctx.service(Drops).decide(proposal, confirm=False, by=ctx.member.id)
    return Reply(title=f"🚫 Proposal {decided.id} rejected", text=f"{escape(decided.name)} stays off the calendar.")


async def remind(ctx: Context, item: str, offsets: str | None = None, priority: str = "normal") -> Reply:
    drops = ctx.service(Drops)
    words = item.split()
    if offsets is None and len(words) > 1 and (looks_like_offsets(words[-1]) or words[-1].lower() == "off"):
        item, offsets = " ".join(words[:-1]), words[-1]
    drop = await drops.find(item)
    if offsets is not None and offsets.strip().lower() == "off":
        await drops.stop_reminding(ctx.member.id, drop.id)
        return Reply(title="🔕 Reminders off", text=f"No more reminders for {escape(drop.name)}.", ephemeral=True)
    settings = drops.settings
    chosen = parse_offsets(
        offsets or settings.default_offsets, max_days=settings.max_offset_days, max_count=settings.max_offsets
    )
    drop, past = await drops.remind(ctx.member.id, drop.id, chosen, high=priority == "high")
    listed = ", ".join(describe_offset(o) for o in chosen)
    lines = [
        f"{escape(drop.name)} · {render.when(drop.release_at, _zone(ctx), relative=True)}",
        f"Reminders {listed} before, on your channels"
        + (" (high priority: SMS too, through quiet hours)" if priority == "high" else "")
        + ".",
    ]
    if past:
        lines.append(f"Already past: {', '.join(describe_offset(o) for o in past)} (the drop is sooner than that).")
    buttons = [
        Button(label="Prep checklist", action=f"prep {drop.id}"),
        Button(label="Stop", action=f"remind {drop.id} off"),
    ]
    return Reply(title="⏰ Reminders set", text="\n".join(lines), buttons=buttons, ephemeral=True)


async def prep(ctx: Context, drop: int, item: str | None = None) -> Reply:
    stored, ticked = await ctx.service(Drops).tick(ctx.member.id, drop, item.lower() if item else None)
    return render.checklist(stored, ticked)


async def calendar(ctx: Context, action: str | None = None) -> Reply:
    drops = ctx.service(Drops)
    reset = action == "reset"
    url, fresh = await drops.calendar_url(ctx.member.id, reset=reset)
    lines = []
    if fresh:
        lines.append(("Your new" if reset else "Your") + f" calendar link (keep it private):\n`{url}`")
        if reset:
            lines.append("The old link no longer works.")
    else:
        lines.append(
            "Your calendar link was shown when you made it; `/calendar reset` makes a new one (and stops the old)."
        )
    data = await drops.calendar_for_member(ctx.member.id)
    files = [ReplyFile(name=CALENDAR_FILE, data=data, content_type="text/calendar")]
    if len(data) > MAX_REPLY_FILE_BYTES:  # thousands of drops: the link still serves it
        files = []
    lines.append(
        (f"`{CALENDAR_FILE}` is attached: open it to import the drops once. " if files else "")
        + "Subscribe to the link in your calendar app to stay up to date. The bot's own reminders are the "
        "dependable channel: calendar apps refresh slowly and often ignore alarms."
    )
    return Reply(title="📆 Drop calendar", text="\n\n".join(lines), files=files, ephemeral=True)


_DROP_ID = Param("drop", "Drop number (from /drops)", type=ParamType.INTEGER, min_value=1)
_PROPOSAL_ID = Param("proposal", "Proposal number", type=ParamType.INTEGER, min_value=1)
_WHEN = Param("when", "Release: 2026-12-05 10:00 America/New_York", max_length=60)
_RETAILERS = Param("retailers", "e.g. Nike SNKRS:app, Foot Locker:raffle, Kith:fcfs", max_length=400)


COMMANDS = [
    Command(
        name="drops",
        description="Upcoming drops in your time zone.",
        handler=list_drops,
        params=(
            Param("period", "week, month or all", required=False, default="week", choices=tuple(PERIODS)),
            Param("brand", "Only this brand", required=False, max_length=40),
        ),
    ),
    Command(
        name="drop show",
        description="One drop: times, retailers, raffles and market price.",
        handler=show,
        params=(pair_param("item", "Drop number or pair"),),
    ),
    Command(
        name="drop add",
        description="Put a drop on the calendar (posts it to the drops feed).",
        handler=add,
        params=(
            pair_param(),
            _WHEN,
            _RETAILERS,
            Param("price", "Retail price", type=ParamType.NUMBER, required=False),
            Param("notes", "Notes for members", required=False, max_length=1000),
        ),
        permission=Permission.MOD,
    ),
    Command(
        name="drop edit",
        description="Change a drop's time, retailers, price or notes.",
        handler=edit,
        params=(
            _DROP_ID,
            Param("when", "New release time with zone", required=False, max_length=60),
            Param("retailers", "Replace the retailers", required=False, max_length=400),
            Param("price", "Retail price", type=ParamType.NUMBER, required=False),
            Param("notes", "Notes for members", required=False, max_length=1000),
        ),
        permission=Permission.MOD,
    ),
    Command(
        name="drop raffle",
        description="Link a retailer's raffle (and when entries close).",
        handler=raffle,
        params=(
            _DROP_ID,
            Param("retailer", "Retailer (quote names with spaces)", max_length=60),
            Param("url", "Raffle link (http/https)", max_length=500),
            Param(
                "deadline", "Entries close: 2026-12-04 12:00 America/New_York", required=False, max_length=60, rest=True
            ),
        ),
        permission=Permission.MOD,
    ),
    Command(
        name="drop cancel",
        description="Cancel a drop; reminder holders are told.",
        handler=cancel,
        params=(_DROP_ID,),
        permission=Permission.MOD,
    ),
    Command(
        name="drop proposals",
        description="Release dates found by the catalog and monitors.",
        handler=proposals,
        permission=Permission.MOD,
    ),
    Command(
        name="drop confirm",
        description="Confirm a proposed drop.",
        handler=confirm,
        params=(_PROPOSAL_ID,),
        permission=Permission.MOD,
    ),
    Command(
        name="drop reject",
        description="Reject a proposed drop.",
        handler=reject,
        params=(_PROPOSAL_ID,),
        permission=Permission.MOD,
    ),
    Command(
        name="remind",
        description="Reminders before a drop (default 1d,1h,10m); `off` stops them.",
        handler=remind,
        params=(
            pair_param("item", "Drop number or pair, then offsets like 1d,1h,10m"),
            Param("offsets", "e.g. 1d,1h,10m or off", required=False, max_length=60),
            Param(
                "priority",
                "high: SMS too, through quiet hours",
                required=False,
                default="normal",
                choices=("normal", "high"),
            ),
        ),
    ),
    Command(
        name="prep",
        description="Your prep checklist for a drop.",
        handler=prep,
        params=(
            _DROP_ID,
            Param("item", "size, account, payment or raffles", required=False, choices=tuple(render.CHECKLIST)),
        ),
    ),
    Command(
        name="calendar",
        description="Your .ics drop calendar: the file and a private subscription link.",
        handler=calendar,
        private=True,
        params=(Param("action", "reset: a new link, the old one stops", required=False, choices=("reset",)),),
    ),
]
