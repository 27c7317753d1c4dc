"""Which of a member's channels can carry a direct message on this server now, and why the others
can't.

A notification that no channel can carry goes nowhere, so members are told when they ask for alerts
(``/alerts add``, ``/profile``) and admins see such notices in ``/admin deadletters``. The local
shell counts as a channel for the members who use it (it prints their DMs), but only while it runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.engine import Engine
from core.identity import PLATFORM_LABELS
from core.storage.models import DEFAULT_CHANNEL_ORDER, Member

#: the local shell: the console the operator (and the members ``/as`` makes) read DMs on
CONSOLE = "shell"
DIRECT = ("discord", "telegram", CONSOLE)
LABELS = {**PLATFORM_LABELS, "sms": "SMS"}


@dataclass(frozen=True)
class Reach:
    """``channels``: linked channels that can carry a DM now, in the member's order (the shell last).
    ``problems``: why the member's other channels can't, each with what to do about it."""

    channels: tuple[str, ...]
    problems: tuple[str, ...]

    def describe(self) -> str:
        """``Discord → SMS``, or ``nobody — DMs are off (…)``."""
        if self.channels:
            return " → ".join(LABELS.get(channel, channel) for channel in self.channels)
        return "nobody — " + "; ".join(self.problems or ("no channel in your alert order is linked",))


def serving(engine: Engine) -> set[str]:
    """Platforms this server delivers on: frontends attached now, and chat frontends configured to
    start (one that is reconnecting still gets its messages once it is back)."""
    enabled = engine.config.frontends_enabled()
    configured = {platform for platform in ("discord", "telegram", "sms") if enabled.get(platform) == "on"}
    return configured | set(engine.frontends)


async def direct_reach(engine: Engine, member: Member) -> Reach:
    linked = {identity.platform for identity in await engine.identity.identities(member.id)}
    running = serving(engine)
    order = [*(member.channel_order or DEFAULT_CHANNEL_ORDER), CONSOLE]
    channels: list[str] = []
    problems: list[str] = []
    for channel in dict.fromkeys(order):
        if channel not in linked:
            continue
        label = LABELS.get(channel, channel)
        if channel not in running:
            problems.append(f"{label} isn't {'set up' if channel == 'sms' else 'running'} on this server")
        elif channel == "sms" and not member.sms_enabled:
            problems.append("SMS alerts are off (`/settings sms:on`)")
        elif channel in DIRECT and not member.dm_enabled:
            if "DMs are off (`/settings dm:on`)" not in problems:
                problems.append("DMs are off (`/settings dm:on`)")
        else:
            channels.append(channel)
    if not linked & set(DIRECT):
        problems.append("no Discord or Telegram account is linked (`/link` one)")
    return Reach(tuple(channels), tuple(problems))
