"""/help and /ping."""

from __future__ import annotations

import time

from sqlalchemy import text

from core.commands import Command, Param
from core.context import Context
from core.replies import Reply, ReplyField


async def _command_names(ctx: Context, prefix: str) -> list[str]:
    names = [c.name for c in ctx.engine.registry.all(frontend=ctx.platform, role=ctx.role)]
    return [name for name in names if name.startswith(prefix.lower().lstrip("/"))]


async def help_command(ctx: Context, command: str | None = None) -> Reply:
    registry = ctx.engine.registry
    if command:
        group = _group(ctx, command)
        if group is not None:
            return group
        found = registry.get(command)
        fields = [
            ReplyField(
                name=param.name + ("" if param.required else " (optional)"),
                value=param.description + (f" — one of: {', '.join(param.choices)}" if param.choices else ""),
                inline=False,
            )
            for param in found.params
        ]
        return Reply(
            title=f"/{found.name}",
            text=f"{found.description}\nUsage: `{found.usage}`\nFor: {found.permission.label}s",
            fields=fields,
        )
    visible = registry.all(frontend=ctx.platform, role=ctx.role)
    lines = [f"`/{c.name}` — {c.description}" for c in visible]
    return Reply(
        title=f"{ctx.engine.config.bot.name} commands",
        text="\n".join(lines),
        footer="`/help COMMAND` shows a command's parameters.",
    )


def _group(ctx: Context, name: str) -> Reply | None:
    """``/help alerts``: the sub-commands of a command group the caller may use, or None if ``name``
    is a command itself or no group."""
    key = " ".join(name.lower().lstrip("/").split())
    subs = [c for c in ctx.engine.registry.all(frontend=ctx.platform, role=ctx.role) if c.name.startswith(key + " ")]
    if not subs or any(c.name == key for c in ctx.engine.registry.all()):
        return None
    return Reply(
        title=f"/{key} commands",
        text="\n".join(f"`/{c.name}` — {c.description}" for c in subs),
        footer=f"`/help {subs[0].name}` shows a command's parameters.",
    )


async def ping(ctx: Context) -> Reply:
    started = time.perf_counter()
    async with ctx.engine.db.read() as session:
        await session.execute(text("SELECT 1"))
    db_ms = (time.perf_counter() - started) * 1000
    return Reply(title="🏓 Pong", text=f"Engine up. Database answered in {db_ms:.1f} ms.")


COMMANDS = [
    Command(
        name="help",
        description="List the commands you can use, or explain one.",
        handler=help_command,
        params=(Param("command", "A command to explain", required=False, autocomplete=_command_names),),
        sms_keyword="HELP",
    ),
    Command(name="ping", description="Check that the bot is alive.", handler=ping, sms_keyword="PING"),
]
