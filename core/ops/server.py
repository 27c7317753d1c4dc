"""The operator's web server: ``/metrics`` for Prometheus and ``/healthz`` for a supervisor or load
balancer. It is off unless ``[ops] enabled`` and listens on loopback unless ``[ops] host`` says
otherwise: counters name hosts and commands, which is nobody else's business.

Slices may serve GET pages on it too (the drops calendar's ``.ics`` feeds): ``add_page`` registers a
handler for one engine in ``build``; a reverse proxy exposes only the paths meant for the public."""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

import orjson
import structlog
from aiohttp import web

from core.config import OpsSection
from core.ops.health import health

if TYPE_CHECKING:
    from core.engine import Engine

log = structlog.get_logger(__name__)


PageHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: GET pages per engine (weakly held, so two engines in one process never share pages)
_PAGES: weakref.WeakKeyDictionary[Engine, dict[str, PageHandler]] = weakref.WeakKeyDictionary()


def add_page(engine: Engine, path: str, handler: PageHandler) -> None:
    """Serve ``handler`` for GET ``path`` (an aiohttp route such as ``/calendar/{token}.ics``) on this
    engine's ops server."""
    if path in ("/metrics", "/healthz"):
        raise ValueError(f"{path} is the ops server's own")
    _PAGES.setdefault(engine, {})[path] = handler


class OpsStartError(Exception):
    """The ops server could not listen (the port is taken, the address is not ours)."""


class OpsServer:
    def __init__(self, engine: Engine, *, expected_frontends: Iterable[str] = ()) -> None:
        """``expected_frontends``: the frontends ``snpd run`` will start; unhealthy until attached."""
        self._engine = engine
        self._settings = engine.config.get(OpsSection)
        self._expected = list(expected_frontends)
        self._runner: web.AppRunner | None = None
        #: the port listened on (useful with ``port = 0``)
        self.port = 0

    @property
    def enabled(self) -> bool:
        return self._settings.enabled

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        for path, handler in _PAGES.get(self._engine, {}).items():
            app.router.add_get(path, handler)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._settings.host, self._settings.port)
        try:
            await site.start()
        except OSError as exc:
            await self.stop()
            raise OpsStartError(
                f"[ops] cannot listen on {self._settings.host}:{self._settings.port}: {exc.strerror or exc}"
            ) from exc
        self.port = int(self._runner.addresses[0][1])
        log.info("ops.listening", host=self._settings.host, port=self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, request: web.Request) -> web.Response:
        body, content_type = self._engine.metrics.render(request.headers.get("Accept", ""))
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def _healthz(self, _request: web.Request) -> web.Response:
        document = await health(self._engine, self._expected)
        return web.Response(
            body=orjson.dumps(document),
            status=200 if document["healthy"] else 503,
            content_type="application/json",
        )
