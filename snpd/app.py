"""Build an engine with every slice registered, and start the frontends whose tokens are set."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import structlog

from bot.slices import SLICES, load_models
from core.config import Config
from core.engine import Engine
from core.events import EventBus
from core.frontend import Frontend
from core.ops.server import OpsServer, OpsStartError
from core.storage.database import Database
from snpd.startup import connect

log = structlog.get_logger(__name__)


def build_engine(config: Config, *, db: Database | None = None, bus: EventBus | None = None) -> Engine:
    load_models()
    return Engine(config, db=db, bus=bus, slices=SLICES)


def chat_frontends(engine: Engine) -> list[Frontend]:
    """The chat frontends whose credentials are configured."""
    return [make() for make in frontend_factories(engine).values()]


def frontend_factories(engine: Engine) -> dict[str, Callable[[], Frontend]]:
    """How to make each configured chat frontend. Imports stay lazy: a server that only runs
    Telegram never loads discord.py."""
    enabled = engine.config.frontends_enabled()
    factories: dict[str, Callable[[], Frontend]] = {}
    if enabled["discord"] == "on":
        from adapters.discord.frontend import DiscordFrontend

        factories["discord"] = lambda: DiscordFrontend(engine)
    if enabled["telegram"] == "on":
        from adapters.telegram.frontend import TelegramFrontend

        factories["telegram"] = lambda: TelegramFrontend(engine)
    if enabled["sms"] == "on":
        from adapters.sms.frontend import SmsFrontend

        factories["sms"] = lambda: SmsFrontend(engine)
    return factories


async def run(config: Config) -> None:
    """Start everything, then wait for SIGINT/SIGTERM (or the shell's /quit) and stop cleanly."""
    engine = build_engine(config)
    await engine.start()
    factories = frontend_factories(engine)
    ops = OpsServer(engine, expected_frontends=list(factories) or ["shell"])
    if ops.enabled:
        try:
            await ops.start()
        except OpsStartError:
            await engine.stop()
            raise
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    connecting = [
        asyncio.create_task(connect(engine, make, stop), name=f"connect-{name}") for name, make in factories.items()
    ]
    waiting = asyncio.create_task(stop.wait())
    try:
        if connecting:
            pending: set[asyncio.Task[Any]] = {waiting, *connecting}
            while waiting in pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done - {waiting}:
                    task.result()  # a refused token ends the run with its one-line message
        else:
            await run_shell(engine, stop)
    finally:
        stop.set()
        for task in (waiting, *connecting):
            task.cancel()
        await asyncio.gather(waiting, *connecting, return_exceptions=True)
        await ops.stop()
        await engine.stop_work()  # workers finish their in-flight sends while frontends are connected
        for frontend in reversed(list(engine.frontends.values())):
            with suppress(Exception):
                await frontend.stop()
        await engine.stop()


async def run_shell(engine: Engine, stop: asyncio.Event) -> None:
    """The operator's console until /quit or ``stop``; its logs go to ``snpd.log`` (``snpd.cli``)."""
    from adapters.shell.frontend import ShellFrontend

    shell = ShellFrontend(engine, log_file=engine.config.bot.data_dir / "snpd.log")
    engine.attach(shell)
    await shell.start()
    repl = asyncio.create_task(shell.repl())
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({repl, stopper}, return_when=asyncio.FIRST_COMPLETED)
    for task in (repl, stopper):
        task.cancel()
    await shell.stop()
