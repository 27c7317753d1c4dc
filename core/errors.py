"""Typed errors. A ``UserError`` is the user's fault and its message is shown verbatim; anything
else is a bug, logged with a reference id that the user is shown instead of a traceback."""

from __future__ import annotations


class SnpdError(Exception):
    """Base of every error SNPD raises on purpose."""


class UserError(SnpdError):
    """Bad input or a refused action. ``str(error)`` is a short message fit to show the user."""


class BadArgument(UserError):
    """A parameter failed validation; the message names the parameter."""

    def __init__(self, param: str, problem: str) -> None:
        super().__init__(f"`{param}`: {problem}")
        self.param = param
        self.problem = problem


class UnknownCommand(UserError):
    def __init__(self, name: str, suggestion: str | None = None) -> None:
        hint = f" Did you mean `/{suggestion}`?" if suggestion else " Try `/help`."
        shown = name if len(name) <= 40 else name[:39] + "…"  # a pasted wall of text is not echoed back
        super().__init__(f"Unknown command `/{shown}`.{hint}")
        self.name = name


class PermissionDenied(UserError):
    def __init__(self, needed: str) -> None:
        super().__init__(f"This command is for {needed}s only.")


class NotFound(UserError):
    """A referenced thing (member, feed, code...) does not exist."""


class ConfigError(SnpdError):
    """The config file or environment is invalid. The message names the key and what was expected."""
