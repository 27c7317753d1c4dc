"""/monitor add, list, remove, pause, resume and test: admins and mods manage what the group watches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from bot.monitors.models import Monitor
from bot.monitors.render import money
from bot.monitors.runner import MonitorRunner
from bot.monitors.service import MonitorService
from core.commands import Command, Param, ParamType, Permission
from core.context import Context
from core.markup import clip
from core.replies import Button, Reply
from core.storage.types import utcnow

_STATUS_ICONS = {"ok": "🟢", "new": "⚪", "blocked": "⛔", "password": "🔒", "error": "⚠️", "paused": "⏸️"}
TEXT_LIMIT = 3800


async def _feed_names(ctx: Context, prefix: str) -> list[str]:
    return [name for name in ctx.engine.feeds.names if name.startswith(prefix.lower())]


async def add(
    ctx: Context,
    url: str,
    keywords: str | None = None,
    sizes: str | None = None,
    feed: str | None = None,
    interval: int | None = None,
    role: str | None = None,
    render: bool | None = None,
    css: str | None = None,
    near: str | None = None,
) -> Reply:
    service = ctx.service(MonitorService)
    row, probe, outcome = await service.add(
        url,
        keywords=keywords,
        sizes=sizes,
        feed=feed,
        interval=interval,
        role=role,
        render=bool(render),
        css=css,
        near=near,
        created_by=ctx.member.id,
    )
    runner = service.runners.get(row.id)
    lines = [f"Watching `{row.url}` ({row.kind}) every {row.interval_s} s → `{row.feed}`."]
    if row.keywords or row.sizes:
        lines.append(f"Filters: {_filters(row)}")
    if row.location is not None:
        lines.append(f"📍 In store at {_where(row.location)}: its events carry the location for `near` alerts.")
    if probe.status == "password":
        lines.append("The store is behind its password page: you'll hear when it opens.")
    elif probe.status == "not_live":
        lines.append("That product isn't live yet: you'll hear the moment it appears.")
    if outcome.error:
        lines.append(f"First poll failed ({outcome.error}); it retries on its own.")
    elif runner is not None and probe.status == "ok":
        lines.append(f"Baseline: {runner.product_count} product(s). Alerts start with the next change.")
    return Reply(title=f"👀 Monitor #{row.id} added", text="\n".join(lines))


def _filters(row: Monitor) -> str:
    parts = []
    if row.keywords:
        parts.append(f"`{row.keywords}`")
    if row.sizes:
        parts.append("sizes " + ", ".join(row.sizes))
    return " · ".join(parts) or "none"


def _where(location: tuple[float, float]) -> str:
    return f"{location[0]:.4f}, {location[1]:.4f}"


def _ago(when: datetime | None) -> str:
    if when is None:
        return "never"
    seconds = max(0, int((utcnow() - when).total_seconds()))
    if seconds < 90:
        return f"{seconds} s ago"
    if seconds < 5400:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def _health_line(row: Monitor, runner: MonitorRunner | None) -> str:
    status = "paused" if row.paused else (runner.health.status if runner else row.status)
    good = runner.health.last_good_at if runner else row.last_good_at
    error = runner.health.last_error if runner else row.last_error
    parts = [f"{_STATUS_ICONS.get(status, '❔')} {status}", f"last good poll {_ago(good)}"]
    if error and status != "ok":
        parts.append(f"last error: {error}")
    if runner is not None and runner.health.resume_in_s > 0 and not row.paused:
        parts.append(f"resting {runner.health.resume_in_s:.0f} s")
    return " · ".join(parts)


async def list_monitors(ctx: Context) -> Reply:
    entries = await ctx.service(MonitorService).monitors()
    if not entries:
        return Reply(title="👀 Monitors", text="None yet. Add one with `/monitor add URL`.")
    blocks = []
    for row, runner in entries:
        head = f"**#{row.id}** `{row.url}` ({row.kind}) every {row.interval_s} s → `{row.feed or 'bus only'}`"
        if row.keywords or row.sizes:
            head += f"\n    filters: {_filters(row)}"
        if row.location is not None:
            head += f"\n    📍 in store at {_where(row.location)}"
        blocks.append(f"{head}\n    {_health_line(row, runner)}")
    return Reply(title=f"👀 Monitors ({len(entries)})", text=clip("\n".join(blocks), TEXT_LIMIT))


async def remove(ctx: Context, id: int) -> Reply:
    row = await ctx.service(MonitorService).remove(id)
    return Reply(title="🗑️ Monitor removed", text=f"#{row.id} `{row.url}` no longer runs.")


async def pause(ctx: Context, id: int) -> Reply:
    row = await ctx.service(MonitorService).set_paused(id, True)
    return Reply(
        title="⏸️ Monitor paused", text=f"#{row.id} `{row.url}` is paused. `/monitor resume {row.id}` restarts it."
    )


async def resume(ctx: Context, id: int) -> Reply:
    row = await ctx.service(MonitorService).set_paused(id, False)
    return Reply(title="▶️ Monitor resumed", text=f"#{row.id} `{row.url}` polls every {row.interval_s} s again.")


async def test(
    ctx: Context, url: str, json: bool | None = None, render: bool | None = None, css: str | None = None
) -> Reply:
    seen = await ctx.service(MonitorService).inspect(url, render=bool(render), css=css)
    if json:
        text = orjson.dumps(seen).decode().replace("`", "'")
        return Reply(title=f"🔎 {seen['store']}", text=f"`{clip(text, TEXT_LIMIT, '…')}`", ephemeral=True)
    return _test_reply(seen)


def _test_reply(seen: dict[str, Any]) -> Reply:
    if seen["status"] == "password":
        return Reply(title=f"🔒 {seen['store']}", text="Behind its password page: a monitor would wait for it to open.")
    if seen["status"] == "not_live":
        return Reply(title=f"⏳ {seen['store']}", text="That product isn't live yet: a monitor would alert when it is.")
    lines = [
        f"{seen['product_count']} product(s) on {seen['pages']} page(s), {seen['variant_count']} variants, "
        f"{seen['in_stock_count']} in stock."
    ]
    for product in seen["products"][:8]:
        sizes = ", ".join(product["sizes_in_stock"]) or "none in stock"
        lines.append(
            f"**{product['title']}**: {money(product['price'], seen['currency'])}; "
            f"{len(product['sizes_in_stock'])}/{len(product['variants'])} sizes: {sizes}"
        )
    if seen["product_count"] > 8:
        lines.append(f"…and {seen['product_count'] - 8} more. Add `json:yes` for everything.")
    buttons: list[Button] = []
    if seen["products"]:
        first = seen["products"][0]
        buttons = [Button(label=f"🛒 {size}", url=link) for size, link in list(first["cart_links"].items())[:10]]
    return Reply(
        title=f"🔎 {seen['store']} ({seen['kind']})",
        text=clip("\n".join(lines), TEXT_LIMIT),
        buttons=buttons,
        ephemeral=True,
    )


_ID = Param("id", "Monitor number, from /monitor list", type=ParamType.INTEGER, min_value=1)
_URL = Param("url", "Store, collection or product URL", max_length=500)
_RENDER = Param("render", "Render the page in a browser (JS sites)", type=ParamType.BOOLEAN, required=False)
_CSS = Param("css", "CSS selectors: stock=…; sizes=…; price=…", required=False, max_length=500)

COMMANDS = [
    Command(
        name="monitor add",
        description="Watch a store, collection or product page for restocks, drops and price changes.",
        handler=add,
        params=(
            _URL,
            Param("keywords", "Filters: +word -word a|b", required=False, max_length=300),
            Param("sizes", "Only these sizes, e.g. 9, 9.5, 10", required=False, max_length=200),
            Param(
                "feed", "Feed to post to (default: restocks)", required=False, autocomplete=_feed_names, max_length=64
            ),
            Param(
                "interval",
                "Seconds between polls",
                type=ParamType.INTEGER,
                required=False,
                min_value=1,
                max_value=86400,
            ),
            Param("role", "Role to mention on each alert", required=False, max_length=100),
            _RENDER,
            _CSS,
            Param("near", "Shop's latitude,longitude, for in-store restocks", required=False, max_length=60),
        ),
        permission=Permission.MOD,
    ),
    Command(
        name="monitor list",
        description="Every monitor with its health.",
        handler=list_monitors,
        permission=Permission.MOD,
    ),
    Command(
        name="monitor remove",
        description="Stop and delete a monitor.",
        handler=remove,
        params=(_ID,),
        permission=Permission.MOD,
    ),
    Command(
        name="monitor pause",
        description="Pause a monitor without losing its snapshot.",
        handler=pause,
        params=(_ID,),
        permission=Permission.MOD,
    ),
    Command(
        name="monitor resume",
        description="Resume a paused monitor.",
        handler=resume,
        params=(_ID,),
        permission=Permission.MOD,
    ),
    Command(
        name="monitor test",
        description="Fetch a URL once and show what a monitor would see.",
        handler=test,
        params=(_URL, Param("json", "Answer with the raw data", type=ParamType.BOOLEAN, required=False), _RENDER, _CSS),
        permission=Permission.MOD,
    ),
]
