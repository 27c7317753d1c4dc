"""``/as``: the shell's operator acts as another member, to see what members see.

The shell is the operator's console and its own caller is an admin. ``/as @sam`` switches to a demo
member called sam (made on first use, an ordinary member), so tips, leaderboards and member-only
replies can be tried from one keyboard; ``/as me`` (or ``/as admin``) returns to the console.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.engine import Engine
from core.errors import UserError
from core.identity import PLATFORM_LABELS, SHELL_GUEST_PREFIX, Caller

#: the operator's own identity at the shell
OPERATOR_ID = "local"
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_BACK = {"me", "admin", "operator"}
USAGE = "`/as @NAME` acts as a demo member (made on first use); `/as me` returns to your admin console."


@dataclass(frozen=True)
class Switch:
    """Who the shell speaks as after ``/as``, and what to tell the operator."""

    caller: Caller
    message: str


def guest_name(caller: Caller) -> str | None:
    """The demo member's name if ``caller`` is one, None for the operator."""
    if caller.external_id.startswith(SHELL_GUEST_PREFIX):
        return caller.display_name
    return None


async def act_as(engine: Engine, operator: Caller, current: Caller, argument: str) -> Switch:
    wanted = argument.strip().removeprefix("@")
    if not wanted:
        name = guest_name(current)
        who = f"@{name}, a demo member" if name else f"@{operator.display_name}, the operator (an admin)"
        return Switch(current, f"You are acting as {who}. {USAGE}")
    if wanted.lower() in _BACK:
        return _back(operator)
    if not _NAME.fullmatch(wanted):
        return Switch(current, "A demo member's name takes 1 to 32 letters, digits, `_`, `.` or `-`, e.g. `/as @sam`.")
    guest = Caller("shell", SHELL_GUEST_PREFIX + wanted.lower(), wanted, origin=operator.origin)
    try:
        existing = await engine.identity.find_by_handle("@" + wanted)
    except UserError as exc:
        return Switch(current, str(exc))
    if existing is not None:
        owned = {(i.platform, i.external_id) for i in await engine.identity.identities(existing.id)}
        if ("shell", OPERATOR_ID) in owned:
            return _back(operator)
        if ("shell", guest.external_id) not in owned:
            where = ", ".join(sorted({PLATFORM_LABELS.get(p, p) for p, _ in owned})) or "another platform"
            taken = f"@{wanted} is a real member ({where}); `/as` makes demo members: pick another name."
            return Switch(current, taken)
    member = await engine.identity.resolve(guest)
    return Switch(
        guest,
        f"Now acting as @{wanted} (member #{member.id}, a demo member without admin rights). "
        f"Their DMs print as [DM to @{wanted}]. `/as me` returns to your admin console.",
    )


def _back(operator: Caller) -> Switch:
    return Switch(operator, f"Back at your admin console as @{operator.display_name}.")
