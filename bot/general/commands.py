"""/help and /ping.

``/help`` is an overview by feature: one line per slice naming the commands the caller may use here,
short enough for one Discord embed, one Telegram message or an SMS. ``/help TOPIC`` takes a feature
(``drops``), a command group (``lc``) or a command (``cop practice``) and answers with its commands'
usage and descriptions, or one command's options; an unknown word gets the closest topics.
"""

from __future__ import annotations

import time

from sqlalchemy import text

from bot.general import layout
from bot.general.topics import Feature, feature_of, features, group_members, normalise, suggestions
from core.commands import Command, Param, Permission
from core.context import Context
from core.errors import UserError
from core.markup import escape
from core.replies import Reply, ReplyField

#: Discord shows at most 25 autocomplete choices
CHOICES_LIMIT = 25
#: how much of an unknown topic is echoed back
ECHO_LIMIT = 40
MORE_FEATURES = "… and {count} more features: `/help TOPIC` lists one."
MORE_COMMANDS = "… and {count} more: `/help COMMAND` explains each."


def _visible(ctx: Context) -> list[Command]:
    return ctx.engine.registry.all(frontend=ctx.platform, role=ctx.role)


async def _topics(ctx: Context, prefix: str) -> list[str]:
    """Autocomplete: the features, then the commands, the caller may ask about."""
    key = normalise(prefix)
    visible = _visible(ctx)
    names = [feature.name for feature in features(visible)] + [c.name for c in visible]
    return [name for name in dict.fromkeys(names) if name.startswith(key)][:CHOICES_LIMIT]


async def help_command(ctx: Context, topic: str | None = None) -> Reply:
    visible = _visible(ctx)
    key = normalise(topic or "")
    if not key:
        return _overview(ctx, visible)
    listed = {feature.name: feature for feature in features(visible)}
    if key in listed and not (topic or "").strip().startswith("/"):
        return _feature_page(ctx, listed[key].name, list(listed[key].commands))
    registry = ctx.engine.registry
    if key in {command.name for command in registry.all()}:
        return _command_page(ctx, registry.get(key))
    subs = group_members(visible, key)
    if subs:
        return _feature_page(ctx, f"/{key}", subs)
    raise UserError(_not_found(ctx, key, visible))


def _overview(ctx: Context, visible: list[Command]) -> Reply:
    listed = features(visible)
    title = f"{ctx.engine.config.bot.name} commands"
    example = next((f"`/help {feature.name}`" for feature in listed if feature.name != "general"), "`/help ping`")
    if ctx.platform == "sms":
        topics = layout.fit([feature.name for feature in listed], layout.SMS_BUDGET, "…")
        return Reply(title=title, text="Topics: " + ", ".join(topics), footer="Text /help TOPIC for its commands.")
    if ctx.platform == "shell":  # the operator's console has room for every command and what it does
        lines = [
            line
            for feature in listed
            for line in (f"**{feature.name}**", *(layout.short_line(c) for c in feature.commands))
        ]
        return Reply(title=title, text="\n".join(lines), footer=f"{example} shows a feature's commands.")
    full = [f"**{feature.name}** — {layout.names(feature.commands)}" for feature in listed]
    folded = [f"**{feature.name}** — {layout.roots(feature.commands)}" for feature in listed]
    lines = layout.first_fitting([full, folded], layout.TEXT_BUDGET) or layout.fit(
        folded, layout.TEXT_BUDGET, MORE_FEATURES
    )
    return Reply(
        title=title,
        text="\n".join(lines),
        footer=f"{example} shows a feature's commands, `/help COMMAND` explains one.",
    )


def _feature_page(ctx: Context, name: str, commands: list[Command]) -> Reply:
    """A feature's (or a command group's) commands with their usage and what each does."""
    title = f"{name} commands"
    if ctx.platform == "sms":
        shown = layout.fit([f"/{c.name}" for c in commands], layout.SMS_BUDGET, "…")
        return Reply(title=title, text=", ".join(shown), footer="Text /help COMMAND for one.")
    full = [layout.command_line(c) for c in commands]
    short = [layout.short_line(c) for c in commands]
    lines = layout.first_fitting([full, short], layout.TEXT_BUDGET) or layout.fit(
        short, layout.TEXT_BUDGET, MORE_COMMANDS
    )
    return Reply(title=title, text="\n".join(lines), footer="`/help COMMAND` explains one command and its options.")


def _command_page(ctx: Context, found: Command) -> Reply:
    fields = [
        ReplyField(
            name=param.name + ("" if param.required else " (optional)"),
            value=param.description + (f" — one of: {', '.join(param.choices)}" if param.choices else ""),
            inline=False,
        )
        for param in found.params
    ]
    feature = feature_of(found)
    lines = [found.description, f"Usage: `{found.usage}`", f"For: {found.permission.label}s"]
    if ctx.platform not in found.frontends:
        lines.append(f"Not available on {ctx.platform}.")
    lines.append(f"Part of {feature}: `/help {feature}` lists its commands.")
    return Reply(title=f"/{found.name}", text="\n".join(lines), fields=fields)


def _not_found(ctx: Context, key: str, visible: list[Command]) -> str:
    """A short answer for a topic that is not there: the feature's role if it exists but is above
    the caller, else the closest topics."""
    shown = escape(key if len(key) <= ECHO_LIMIT else key[: ECHO_LIMIT - 1] + "…")
    hidden = {feature.name: feature for feature in features(ctx.engine.registry.all())}
    owned = hidden.get(key) or _group_of(key, ctx.engine.registry.all())
    if owned is not None:
        here = [c for c in owned.commands if ctx.platform in c.frontends]
        if not here:
            return f"The `{shown}` commands are not available on {ctx.platform}."
        needed = min((c.permission for c in here), default=Permission.ADMIN)
        return f"The `{shown}` commands are for {needed.label}s."
    listed = [feature.name for feature in features(visible)]
    heads = sorted({c.path[0] for c in visible if len(c.path) > 1} - set(listed))
    commands = [c.name for c in visible]
    near = suggestions(key, [*listed, *(f"/{h}" for h in heads), *(f"/{c}" for c in commands)])
    if not near:
        return f"No help topic `{shown}`. `/help` lists every feature."
    quoted = [f"`{name}`" for name in near]
    joined = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f"No help topic `{shown}`. Did you mean {joined}?"


def _group_of(key: str, commands: list[Command]) -> Feature | None:
    subs = group_members(commands, key)
    return Feature(key, tuple(subs)) if subs else None


async def ping(ctx: Context) -> Reply:
    started = time.perf_counter()
    async with ctx.engine.db.read() as session:
        await session.execute(text("SELECT 1"))
    db_ms = (time.perf_counter() - started) * 1000
    return Reply(title="🏓 Pong", text=f"Engine up. Database answered in {db_ms:.1f} ms.")


COMMANDS = [
    Command(
        name="help",
        description="The commands you can use, by feature; or one feature's or command's details.",
        handler=help_command,
        params=(Param("topic", "A feature (drops) or a command (cop practice)", required=False, autocomplete=_topics),),
        sms_keyword="HELP",
    ),
    Command(name="ping", description="Check that the bot is alive.", handler=ping, sms_keyword="PING"),
]
