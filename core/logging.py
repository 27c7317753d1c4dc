"""Structured logging with structlog. Secrets and phone numbers never reach a log line."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from pathlib import Path
from typing import Any, TextIO

import structlog

_PHONE = re.compile(r"\+\d{6,15}")


class Redactor:
    """A structlog processor that blanks known secret values and masks phone numbers everywhere."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = [s for s in secrets if len(s) >= 6]

    def _clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return _PHONE.sub(lambda m: m.group(0)[:3] + "•••" + m.group(0)[-2:], text)

    def __call__(self, _logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key, value in list(event.items()):
            if isinstance(value, str):
                event[key] = self._clean(value)
        return event


def configure(
    level: str = "INFO", *, secrets: Iterable[str] = (), json: bool | None = None, log_file: Path | None = None
) -> None:
    """Log to stderr: readable on a terminal, JSON lines otherwise (for log shippers).

    With ``log_file`` (the shell frontend) logs go to that file so they don't interleave with the prompt.
    """
    stream: TextIO = sys.stderr
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        stream = log_file.open("a", encoding="utf-8", buffering=1)
    as_json = (log_file is not None or not sys.stderr.isatty()) if json is None else json
    renderer: Any = structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    redactor = Redactor(secrets)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redactor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level)),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(
        level=getattr(logging, level), stream=stream, format="%(levelname)s %(name)s: %(message)s", force=True
    )
    for record_filter_target in ("discord", "telegram", "httpx", "aiohttp.access", "apscheduler", "alembic"):
        logging.getLogger(record_filter_target).setLevel(max(logging.WARNING, getattr(logging, level)))
    root = logging.getLogger()
    for handler in root.handlers:
        handler.addFilter(_StdlibRedactFilter(redactor))


class _StdlibRedactFilter(logging.Filter):
    """Library loggers (httpx logs request URLs, which carry the Telegram token) go through this."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._redactor._clean(record.getMessage())
        record.args = ()
        return True
