"""Command declarations: written once, rendered by every frontend.

A ``Command`` holds its name (a path such as ``feed bind`` for sub-commands), typed parameters, a
permission and a handler. Handlers receive a ``Context`` and validated keyword arguments and return a
``Reply``. Frontends never validate on their own: they hand raw values to ``Command.bind`` so every
platform gets the same checks and the same error messages.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.attachments import MAX_ATTACHMENTS, Attachment, check_count, incoming
from core.errors import BadArgument
from core.replies import Reply

if TYPE_CHECKING:
    from core.context import Context

FRONTENDS: tuple[str, ...] = ("discord", "telegram", "sms", "shell")


class Permission(enum.IntEnum):
    """Ordered so that a higher role passes every lower check."""

    MEMBER = 0
    MOD = 1
    ADMIN = 2

    @property
    def label(self) -> str:
        return self.name.lower()


class ParamType(enum.StrEnum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    #: a member reference: a platform mention, ``@name`` or a member id; resolved by the handler.
    MEMBER = "member"
    #: files sent with the command (photos): never typed, so never a positional word; the handler gets
    #: ``list[Attachment]`` (see core/attachments.py)
    ATTACHMENTS = "attachments"


Handler = Callable[..., Awaitable[Reply]]
Autocomplete = Callable[["Context", str], Awaitable[list[str]]]

_TRUE = {"true", "yes", "on", "1", "y"}
_FALSE = {"false", "no", "off", "0", "n"}
#: what an INTEGER column holds on SQLite and PostgreSQL alike: ids and counts never go past it
STORAGE_INT_MIN, STORAGE_INT_MAX = -(2**31), 2**31 - 1
#: far beyond any price or distance, yet exact in a double and storable everywhere
STORAGE_NUMBER_LIMIT = 1e12


@dataclass(frozen=True)
class Param:
    name: str
    description: str
    type: ParamType = ParamType.STRING
    required: bool = True
    default: Any = None
    choices: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    max_length: int | None = 200
    autocomplete: Autocomplete | None = None
    #: on text frontends the last parameter may swallow the rest of the line (notes, item names)
    rest: bool = False
    #: for ``ATTACHMENTS``: how many files the command takes at most
    max_files: int = MAX_ATTACHMENTS

    def __post_init__(self) -> None:
        if self.type is ParamType.ATTACHMENTS and not 1 <= self.max_files <= MAX_ATTACHMENTS:
            raise ValueError(f"`{self.name}`: max_files must be 1 to {MAX_ATTACHMENTS}")

    @property
    def typed(self) -> bool:
        """Whether a member types this parameter (every kind but attachments)."""
        return self.type is not ParamType.ATTACHMENTS

    def convert(self, raw: Any) -> Any:
        """Turn a raw value (text from a chat, or a typed value from Discord) into the declared type."""
        value: Any
        if self.type is ParamType.ATTACHMENTS:
            if not isinstance(raw, list | tuple) or not all(isinstance(item, Attachment) for item in raw):
                raise BadArgument(self.name, "send the files as attachments with the command, not as text")
            return check_count(self.name, raw, self.max_files)
        if self.type is ParamType.INTEGER:
            value = self._to_int(raw)
        elif self.type is ParamType.NUMBER:
            value = self._to_float(raw)
        elif self.type is ParamType.BOOLEAN:
            value = self._to_bool(raw)
        else:
            value = str(raw).strip()
            if not value:
                raise BadArgument(self.name, "must not be empty")
            if "\x00" in value:
                raise BadArgument(self.name, "must not contain a NUL character")
            if self.max_length is not None and len(value) > self.max_length:
                raise BadArgument(self.name, f"at most {self.max_length} characters")
        if self.choices:
            folded = str(value).lower()
            matches = [choice for choice in self.choices if choice.lower() == folded]
            if not matches:
                raise BadArgument(self.name, f"must be one of: {', '.join(self.choices)}")
            value = matches[0]
        if isinstance(value, int | float) and not isinstance(value, bool):
            low, high = self.bounds()
            if value < low:
                raise BadArgument(self.name, f"must be at least {_num(low)}")
            if value > high:
                raise BadArgument(self.name, f"must be at most {_num(high)}")
        return value

    def bounds(self) -> tuple[float, float]:
        """The declared range, narrowed to what storage can hold, so an oversized id is a clear
        refusal instead of a database error."""
        if self.type is ParamType.INTEGER:
            floor, ceiling = float(STORAGE_INT_MIN), float(STORAGE_INT_MAX)
        else:
            floor, ceiling = -STORAGE_NUMBER_LIMIT, STORAGE_NUMBER_LIMIT
        low = floor if self.min_value is None else max(floor, self.min_value)
        high = ceiling if self.max_value is None else min(ceiling, self.max_value)
        return low, high

    def _to_int(self, raw: Any) -> int:
        if isinstance(raw, bool):
            raise BadArgument(self.name, "expected a whole number")
        if isinstance(raw, int):
            return raw
        text = str(raw).strip().replace(",", "").replace("_", "")
        try:
            return int(text)
        except ValueError:
            raise BadArgument(self.name, f"expected a whole number, got `{_clip(str(raw))}`") from None

    def _to_float(self, raw: Any) -> float:
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return float(raw)
        text = str(raw).strip().lstrip("$").replace(",", "")
        try:
            number = float(text)
        except ValueError:
            raise BadArgument(self.name, f"expected a number, got `{_clip(str(raw))}`") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise BadArgument(self.name, "expected a finite number")
        return number

    def _to_bool(self, raw: Any) -> bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise BadArgument(self.name, "expected on/off (yes/no)")


#: Discord caps a modal's title and each field's label at 45 characters
GUIDE_TITLE_LIMIT = 45


@dataclass(frozen=True)
class Guide:
    """A guided way to fill in a command, for members who don't know its syntax by heart.

    ``steps`` names the parameters to ask for, most useful first. Each is asked with its ``Param``
    description, so prompts and slash-command help never drift apart. Frontends that show only a few
    fields at once (a Discord modal holds five) take the leading steps; a conversation asks them all.
    """

    title: str
    steps: tuple[str, ...]


@dataclass(frozen=True)
class Command:
    name: str
    description: str
    handler: Handler
    params: tuple[Param, ...] = ()
    permission: Permission = Permission.MEMBER
    frontends: frozenset[str] = field(default_factory=lambda: frozenset(FRONTENDS))
    #: a one-word SMS keyword (``BALANCE``) that maps to this command
    sms_keyword: str | None = None
    #: replies carry private data; frontends that can, show them only to the caller
    private: bool = False
    #: sent with no arguments on Discord (a modal) or Telegram (a conversation), the command asks for
    #: these parameters instead of failing on the missing ones
    guide: Guide | None = None

    def __post_init__(self) -> None:
        if len(self.description) > 100:
            raise ValueError(f"/{self.name}: Discord caps descriptions at 100 characters")
        if self.guide is not None:
            self._check_guide(self.guide)
        if sum(not param.typed for param in self.params) > 1:
            raise ValueError(f"/{self.name}: at most one attachments parameter")
        seen_optional = False
        for param in self.params:
            if not param.typed:
                continue
            if not param.required:
                seen_optional = True
            elif seen_optional:
                raise ValueError(f"/{self.name}: required `{param.name}` follows an optional parameter")

    def _check_guide(self, guide: Guide) -> None:
        names = {param.name for param in self.typed_params}
        unknown = [step for step in guide.steps if step not in names]
        if unknown:
            raise ValueError(f"/{self.name}: guide step `{unknown[0]}` is not a parameter")
        if len(set(guide.steps)) != len(guide.steps) or not guide.steps:
            raise ValueError(f"/{self.name}: guide steps must be distinct and not empty")
        missing = [p.name for p in self.typed_params if p.required and p.name not in guide.steps]
        if missing:
            raise ValueError(f"/{self.name}: the guide never asks for required `{missing[0]}`")
        if not guide.title or len(guide.title) > GUIDE_TITLE_LIMIT:
            raise ValueError(f"/{self.name}: a guide title takes 1 to {GUIDE_TITLE_LIMIT} characters")

    @property
    def guided(self) -> tuple[Param, ...]:
        """The parameters the guide asks for, in its order (empty when the command has no guide)."""
        if self.guide is None:
            return ()
        by_name = {param.name: param for param in self.params}
        return tuple(by_name[step] for step in self.guide.steps)

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.name.split())

    @property
    def attachments(self) -> Param | None:
        """The parameter that takes files sent with the command, if it takes any."""
        return next((param for param in self.params if not param.typed), None)

    @property
    def typed_params(self) -> tuple[Param, ...]:
        """The parameters a member types, in order (everything but the attachments)."""
        return tuple(param for param in self.params if param.typed)

    @property
    def usage(self) -> str:
        parts = [f"/{self.name}"]
        for param in self.typed_params:
            parts.append(f"<{param.name}>" if param.required else f"[{param.name}]")
        files = self.attachments
        if files is not None:
            count = f"up to {files.max_files}" if files.max_files > 1 else "one"
            parts.append(f"+ {count} attached {'file' if files.max_files == 1 else 'files'}")
        return " ".join(parts)

    def bind(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Validate raw values against the declaration; raises ``BadArgument`` naming the parameter."""
        known = {param.name for param in self.params}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise BadArgument(unknown[0], f"not a parameter of /{self.name}. Usage: {self.usage}")
        values: dict[str, Any] = {}
        for param in self.params:
            given = raw.get(param.name)
            if not param.typed:
                values[param.name] = self._bind_files(param, incoming() if given is None else given)
                continue
            if given is None or (isinstance(given, str) and not given.strip()):
                if param.required:
                    raise BadArgument(param.name, f"is required. Usage: {self.usage}")
                values[param.name] = param.default
                continue
            values[param.name] = param.convert(given)
        return values

    def _bind_files(self, param: Param, given: Any) -> list[Attachment]:
        """The files sent with the command (``raw`` may name them; otherwise those ``carrying`` holds)."""
        files: list[Attachment] = param.convert(given)
        if not files and param.required:
            raise BadArgument(param.name, f"attach the files to the command. Usage: {self.usage}")
        return files

    def bind_words(self, words: Sequence[str], named: Mapping[str, str]) -> dict[str, Any]:
        """Map positional words (from a text frontend) onto parameters in order, then bind."""
        return self.bind(self.raw_from_words(words, named))

    def raw_from_words(self, words: Sequence[str], named: Mapping[str, str]) -> dict[str, Any]:
        """Positional words mapped onto parameter names, unconverted: what a platform with typed
        options (a Discord slash command) would send for the same line."""
        raw: dict[str, Any] = dict(named)
        positional = [param for param in self.typed_params if param.name not in named]
        remaining = list(words)
        for index, param in enumerate(positional):
            if not remaining:
                break
            is_last = index == len(positional) - 1
            if param.rest or (is_last and param.type is ParamType.STRING and len(remaining) > 1):
                raw[param.name] = " ".join(remaining)
                remaining = []
                break
            raw[param.name] = remaining.pop(0)
        if remaining:
            raise BadArgument(remaining[0], f"unexpected extra argument. Usage: {self.usage}")
        return raw


def _num(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,}"


def _clip(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
