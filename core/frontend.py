"""What the engine needs from a chat frontend. Adapters implement it; core never imports them."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from core.replies import Reply
from core.targets import DiscordChannel, ShellConsole, TelegramChat


class DeliveryRefused(Exception):
    """The platform will not deliver to this address (DMs closed, bot blocked, number opted out).

    ``permanent`` means retrying later is pointless; callers move to the member's next channel.
    """

    def __init__(self, platform: str, reason: str, *, permanent: bool = True) -> None:
        super().__init__(f"{platform}: {reason}")
        self.platform = platform
        self.reason = reason
        self.permanent = permanent


class Frontend(Protocol):
    #: ``discord``, ``telegram``, ``sms`` or ``shell``
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def post(self, target: DiscordChannel | TelegramChat | ShellConsole, item: Reply) -> None:
        """Post a feed item to a channel-like target."""
        ...

    async def send_direct(self, external_id: str, reply: Reply) -> None:
        """Send privately to one user, by their platform id (for SMS: the phone number)."""
        ...


@runtime_checkable
class RoleManager(Protocol):
    """A frontend that can give and take server roles (Discord). Failures raise ``DeliveryRefused``."""

    async def add_role(self, user_id: str, role_id: int, *, reason: str) -> None: ...

    async def remove_role(self, user_id: str, role_id: int, *, reason: str) -> None: ...
