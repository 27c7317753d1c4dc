"""How a drop reads: the feed post, ``/drop show``, list lines and reminders. Times are timestamp
spans (``core.markup.timestamp``): local to every viewer on Discord, in the member's zone elsewhere."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.drops.models import CANCELLED, METHOD_LABELS, Drop
from core.markup import clip, escape, timestamp
from core.replies import Button, Reply, ReplyField

#: prep checklist items: key → label
CHECKLIST = {
    "size": "Size chosen",
    "account": "Account logged in",
    "payment": "Payment ready",
    "raffles": "Raffles entered",
}
GREEN, GREY, RED = 0x2ECC71, 0x95A5A6, 0xE74C3C


def local_text(moment: datetime, zone: str) -> str:
    """``Sat 5 Dec 2026 10:00 EST`` in ``zone``."""
    local = moment.astimezone(ZoneInfo(zone))
    return local.strftime("%a %-d %b %Y %H:%M ") + (local.tzname() or zone)


def when(moment: datetime, zone: str, *, relative: bool = False) -> str:
    return timestamp(moment, local_text(moment, zone), relative=relative)


def in_words(seconds: float) -> str:
    """``2 days``, ``1 hour``, ``10 minutes``: how far off the release is."""
    seconds = max(0, round(seconds))
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size and (seconds % size < size / 20 or seconds >= size * 2 or unit == "minute"):
            count = round(seconds / size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "moments"


def _retailer_lines(drop: Drop, zone: str) -> list[str]:
    lines = []
    for entry in drop.retailers:
        line = f"• **{escape(entry['name'])}**: {METHOD_LABELS.get(entry['method'], entry['method'])}"
        if entry.get("deadline"):
            line += f", entries close {when(datetime.fromisoformat(entry['deadline']), zone)}"
        lines.append(line)
    return lines


def link_buttons(drop: Drop) -> list[Button]:
    return [Button(label=f"{entry['name']} raffle", url=entry["url"]) for entry in drop.retailers if entry.get("url")][
        :5
    ]


def card(drop: Drop, zone: str, *, market_price: float | None = None) -> Reply:
    """The drop as posted to the feed and shown by ``/drop show``."""
    cancelled = drop.status == CANCELLED
    title = f"{'❌ CANCELLED: ' if cancelled else '📅 '}{drop.name}"
    lines = [f"Release: {when(drop.release_at, zone, relative=not cancelled)}"]
    lines.extend(_retailer_lines(drop, zone))
    if drop.notes:
        lines.append("")
        lines.append(escape(drop.notes))
    fields = []
    if drop.retail_price is not None:
        fields.append(ReplyField(name="Retail", value=f"${drop.retail_price:,.0f}"))
    if market_price is not None:
        fields.append(ReplyField(name="Market", value=f"${market_price:,.0f}"))
    buttons = [] if cancelled else [*link_buttons(drop), Button(label="Remind me", action=f"remind {drop.id}")]
    return Reply(
        title=clip(title, 200),
        text="\n".join(lines),
        fields=fields,
        buttons=buttons,
        footer=f"Drop #{drop.id} · v{drop.sequence}" + (" · cancelled" if cancelled else ""),
        color=RED if cancelled else GREEN,
    )


def list_line(drop: Drop, zone: str) -> str:
    methods = ", ".join(
        sorted({METHOD_LABELS[e["method"]].split(",")[0] for e in drop.retailers if e["method"] in METHOD_LABELS})
    )
    return f"`#{drop.id}` **{escape(clip(drop.name, 90))}** · {when(drop.release_at, zone)}" + (
        f" · {methods}" if methods else ""
    )


def reminder(drop: Drop, zone: str, offset_s: int, *, last: bool, ticked: list[str], now: datetime) -> Reply:
    """One member's reminder. The last one lists the prep items still unticked, with buttons."""
    left = max((drop.release_at - now).total_seconds(), float(offset_s) if now < drop.release_at else 0.0)
    lines = [f"Release: {when(drop.release_at, zone, relative=True)}", *_retailer_lines(drop, zone)]
    buttons = link_buttons(drop)
    if last:
        open_items = [key for key in CHECKLIST if key not in ticked]
        if open_items:
            lines.append("")
            lines.append("Still to do: " + ", ".join(CHECKLIST[key] for key in open_items))
            buttons += [Button(label=f"✅ {CHECKLIST[key]}", action=f"prep {drop.id} {key}") for key in open_items]
        else:
            lines.append("")
            lines.append("Prep done. Good luck! 🍀")
    return Reply(
        title=clip(f"⏰ {drop.name} drops in {in_words(min(left, offset_s + 60))}", 200),
        text="\n".join(lines),
        buttons=buttons,
        footer=f"Drop #{drop.id} · /remind {drop.id} off to stop",
    )


def checklist(drop: Drop, ticked: list[str]) -> Reply:
    lines = [f"{'✅' if key in ticked else '⬜'} {label}" for key, label in CHECKLIST.items()]
    buttons = [
        Button(label=f"{'Untick' if key in ticked else '✅'} {label}", action=f"prep {drop.id} {key}")
        for key, label in CHECKLIST.items()
    ]
    return Reply(title=clip(f"📝 Prep: {drop.name}", 200), text="\n".join(lines), buttons=buttons, ephemeral=True)


def cancelled_notice(drop: Drop, zone: str) -> Reply:
    return Reply(
        title=clip(f"❌ Cancelled: {drop.name}", 200),
        text=f"The drop planned for {when(drop.release_at, zone)} is off, and so are your reminders for it.",
        footer=f"Drop #{drop.id}",
    )


def moved_line(old: datetime, new: datetime, zone: str) -> str:
    shift = new - old
    direction = "later" if shift > timedelta(0) else "earlier"
    return f"Moved {in_words(abs(shift.total_seconds()))} {direction}: now {when(new, zone)}"
