"""What the engine needs from a chat frontend. Adapters implement it; core never imports them.

Besides the ``Frontend`` protocol, three optional capabilities serve the delivery worker's
exactly-once and rate-limit guarantees; a frontend implements the ones its platform makes possible:

* ``KeyedSends``: the platform itself drops a repeat of a send with the same idempotency key for a
  while (Discord's ``nonce`` with ``enforce_nonce``), so a send in doubt can simply be repeated.
* ``DeliveryVerifier``: the sender can read back what it sent (Twilio lists messages), so a send in
  doubt can be checked before it is repeated.
* ``RequestCounter``: one send may cost several HTTP requests (Discord opens a DM channel first), so
  the limiter books the right number.

And ``request_slot``: frontends make each HTTP request of a direct send inside it, so the worker's
limiter sees when each request really leaves and when its answer comes back, not just when the send
began.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from datetime import datetime
from typing import Protocol, runtime_checkable

from core.replies import Reply
from core.targets import DiscordChannel, ShellConsole, TelegramChat

#: holds room under the platform's limit for one request: waits for it on entry, gives it back on exit
RequestGate = Callable[[], AbstractAsyncContextManager[None]]

# A context variable rather than a parameter: the gate must reach every request a send makes, deep in
# each adapter's helpers, and it is per send task (asyncio copies the context into each task).
_gate: ContextVar[RequestGate | None] = ContextVar("snpd_request_gate", default=None)


class FrontendRejected(Exception):
    """The platform refused our credentials at start-up (a wrong token): retrying can't help."""


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

    async def send_direct(self, external_id: str, reply: Reply, *, idempotency_key: str | None = None) -> None:
        """Send privately to one user, by their platform id (for SMS: the phone number).

        ``idempotency_key`` is the same on every attempt of one notification; a platform that can
        deduplicate by it should be given it (see ``KeyedSends``)."""
        ...


@runtime_checkable
class KeyedSends(Protocol):
    """A frontend whose platform returns the earlier message instead of sending a second one when a
    send repeats an ``idempotency_key`` within ``idempotency_window_s`` seconds."""

    idempotency_window_s: float


@runtime_checkable
class DeliveryVerifier(Protocol):
    """A frontend that can tell whether a send whose outcome was lost (the sender died mid-request)
    reached the platform after all."""

    async def already_delivered(
        self, external_id: str, reply: Reply, idempotency_key: str, since: datetime
    ) -> bool | None:
        """True if that reply went to ``external_id`` at or after ``since``, False if it did not,
        None if the platform cannot tell now (unreachable, or it keeps no record)."""
        ...


@runtime_checkable
class RequestCounter(Protocol):
    """A frontend whose direct send costs more than one request to some addresses."""

    def requests_for(self, external_id: str) -> int:
        """HTTP requests a direct send to ``external_id`` will make now."""
        ...


@contextlib.asynccontextmanager
async def request_slot() -> AsyncIterator[None]:
    """Frontends make each outbound request of a direct send inside this, awaiting nothing else
    between entering it and the request. Outside a worker's send (a command answer, a test) there is
    no gate and it holds nothing."""
    gate = _gate.get()
    if gate is None:
        yield
        return
    async with gate():
        yield


@contextlib.contextmanager
def gated(gate: RequestGate) -> Iterator[None]:
    """Run a send with ``gate`` around each of its requests (in this task and those it starts)."""
    token = _gate.set(gate)
    try:
        yield
    finally:
        _gate.reset(token)


@runtime_checkable
class RoleManager(Protocol):
    """A frontend that can give and take server roles (Discord). Failures raise ``DeliveryRefused``."""

    async def add_role(self, user_id: str, role_id: int, *, reason: str) -> None: ...

    async def remove_role(self, user_id: str, role_id: int, *, reason: str) -> None: ...
