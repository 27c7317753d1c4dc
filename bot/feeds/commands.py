"""/feed bind, /feed unbind, /feed list: admins decide which channels each feed posts to."""

from __future__ import annotations

from core.commands import Command, Param, Permission
from core.context import Context
from core.errors import BadArgument
from core.replies import Reply
from core.targets import DiscordChannel, ShellConsole, TelegramChat, parse_target

Target = DiscordChannel | TelegramChat | ShellConsole


#: Discord snowflakes: a creation time after 2015 in the high bits makes them at least 17 digits
DISCORD_ID_MIN, DISCORD_ID_MAX = 10**16, 2**63 - 1
#: Telegram chat ids fit in 52 bits; supergroups and channels are negative (-100…)
TELEGRAM_ID_MAX = 2**52


def _resolve_target(ctx: Context, where: str | None, role: str | None) -> Target:
    """``here`` (the channel the command came from) or an explicit ``discord:CHANNEL[:THREAD]`` /
    ``telegram:CHAT[:TOPIC]``."""
    target: Target
    if where is None or where.lower() == "here":
        if ctx.caller.origin is None:
            raise BadArgument("target", "run this in the channel to bind, or give discord:ID / telegram:ID")
        target = parse_target(ctx.caller.origin)
        if isinstance(target, ShellConsole):
            raise BadArgument("target", "the shell already shows every feed; bind a Discord or Telegram target")
    else:
        platform, _, rest = where.partition(":")
        parts = rest.split(":")
        try:
            ids = [int(part) for part in parts if part]
        except ValueError:
            raise BadArgument("target", "ids must be numbers, e.g. discord:123456789 or telegram:-100123") from None
        if platform == "discord" and ids:
            if not all(DISCORD_ID_MIN <= part <= DISCORD_ID_MAX for part in ids):
                raise BadArgument("target", "Discord channel and thread ids are 17-20 digit numbers (Copy Channel ID)")
            target = DiscordChannel(channel_id=ids[0], thread_id=ids[1] if len(ids) > 1 else None)
        elif platform == "telegram" and ids:
            chat_ok = ids[0] != 0 and abs(ids[0]) <= TELEGRAM_ID_MAX
            if not (chat_ok and all(0 < part <= TELEGRAM_ID_MAX for part in ids[1:])):
                raise BadArgument("target", "a Telegram chat id is like -1001234567890 (a channel or supergroup)")
            target = TelegramChat(chat_id=ids[0], topic_id=ids[1] if len(ids) > 1 else None)
        else:
            raise BadArgument("target", "expected here, discord:CHANNEL[:THREAD] or telegram:CHAT[:TOPIC]")
    if role:
        if not isinstance(target, DiscordChannel):
            raise BadArgument("role", "role mentions only exist on Discord")
        digits = role.strip().removeprefix("<@&").removesuffix(">")
        if not digits.isdigit():
            raise BadArgument("role", "expected a role mention or role id")
        target = target.model_copy(update={"role_id": int(digits)})
    return target


async def _feed_names(ctx: Context, prefix: str) -> list[str]:
    return [name for name in ctx.engine.feeds.names if name.startswith(prefix.lower())]


async def bind(ctx: Context, feed: str, target: str | None = None, role: str | None = None) -> Reply:
    ctx.engine.feeds.check_name(feed)  # an unknown feed is the first thing to hear about
    resolved = _resolve_target(ctx, target, role)
    await ctx.engine.feeds.bind(feed, resolved, by=ctx.member.id)
    return Reply(title="📡 Feed bound", text=f"`{feed.lower()}` now posts to {resolved.describe()}.")


async def unbind(ctx: Context, feed: str, target: str | None = None) -> Reply:
    ctx.engine.feeds.check_name(feed)
    resolved = _resolve_target(ctx, target, None)
    await ctx.engine.feeds.unbind(feed, resolved)
    return Reply(title="📡 Feed unbound", text=f"`{feed.lower()}` no longer posts to {resolved.describe()}.")


async def list_feeds(ctx: Context) -> Reply:
    bindings = await ctx.engine.feeds.bindings()
    lines = []
    for name in ctx.engine.feeds.names:
        targets = [target.describe() for feed, target in bindings if feed == name]
        lines.append(f"**{name}** → {', '.join(targets) if targets else 'not bound'}")
    return Reply(title="📡 Feeds", text="\n".join(lines))


_FEED = Param("feed", "Feed name, e.g. restocks", autocomplete=_feed_names, max_length=64)
_TARGET = Param("target", "here, discord:CHANNEL[:THREAD] or telegram:CHAT[:TOPIC]", required=False)

COMMANDS = [
    Command(
        name="feed bind",
        description="Post a feed to this channel (or another target), optionally mentioning a role.",
        handler=bind,
        params=(_FEED, _TARGET, Param("role", "Discord role to mention on each post", required=False)),
        permission=Permission.ADMIN,
    ),
    Command(
        name="feed unbind",
        description="Stop posting a feed to this channel (or another target).",
        handler=unbind,
        params=(_FEED, _TARGET),
        permission=Permission.ADMIN,
    ),
    Command(
        name="feed list",
        description="Show where each feed posts.",
        handler=list_feeds,
        permission=Permission.MOD,
    ),
]
