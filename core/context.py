"""What a handler gets besides its arguments: the engine's services, the caller and their member."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from core.attachments import Attachment, incoming
from core.commands import Permission
from core.identity import Caller
from core.storage.models import Member

if TYPE_CHECKING:
    from core.engine import Engine

T = TypeVar("T")


@dataclass(frozen=True)
class Context:
    engine: Engine
    caller: Caller
    member: Member
    role: Permission
    #: short id shown to the user and logged with every line about this request
    reference: str
    #: the platform's own id for this request, prefixed by the platform ("telegram:812345"); the same on
    #: a redelivery, so it is what idempotency keys are built from. ``None`` where the platform has none
    #: (the shell, autocomplete).
    request_id: str | None = None

    @property
    def platform(self) -> str:
        return self.caller.platform

    @property
    def attachments(self) -> tuple[Attachment, ...]:
        """The files the member sent with this command (see core/attachments.py); a command with an
        attachments parameter gets the same files as that argument."""
        return incoming()

    def service(self, kind: type[T]) -> T:
        """A slice's services by type, e.g. ``ctx.service(AlertsRuntime)``."""
        return self.engine.service(kind)
