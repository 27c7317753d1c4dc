"""Build an engine with every slice registered, and start the frontends whose tokens are set."""

from __future__ import annotations

import asyncio
import signal
from contextlib import suppress

import structlog

from bot.slices import SLICES, load_models
from core.config import Config
from core.engine import Engine
from core.events import EventBus
from core.frontend import Frontend
from core.ops.server import OpsServer, OpsStartError
from core.storage.database import Database

log = structlog.get_logger(__name__)


def build_engine(config: Config, *, db: Database | None = None, bus: EventBus | None = None) -> Engine:
    load_models()
    return Engine(config, db=db, bus=bus, slices=SLICES)


def chat_frontends(engine: Engine) -> list[Frontend]:
    """The chat frontends whose credentials are configured. Imports stay lazy: a server that only
    runs Telegram never loads discord.py."""
    enabled = engine.config.frontends_enabled()
    frontends: list[Frontend] = []
    if enabled["discord"] == "on":
        from adapters.discord.frontend import DiscordFrontend

        frontends.append(DiscordFrontend(engine))
    if enabled["telegram"] == "on":
        from adapters.telegram.frontend import TelegramFrontend

        frontends.append(TelegramFrontend(engine))
    if enabled["sms"] == "on":
        from adapters.sms.frontend import SmsFrontend

        frontends.append(SmsFrontend(engine))
    return frontends


async def run(config: Config) -> None:
    """Start everything, then wait for SIGINT/SIGTERM (or the shell's /quit) and stop cleanly."""
    engine = build_engine(config)
    await engine.start()
    frontends = chat_frontends(engine)
    ops = OpsServer(engine, expected_frontends=[f.name for f in frontends] or ["shell"])
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
    try:
        if frontends:
            for frontend in frontends:
                engine.attach(frontend)
                await frontend.start()
                log.info("frontend.started", frontend=frontend.name)
            await stop.wait()
        else:
            await run_shell(engine, stop)
    finally:
        await ops.stop()
        await engine.stop_work()  # workers finish their in-flight sends while frontends are connected
        for frontend in reversed(frontends):
            with suppress(Exception):
                await frontend.stop()
        await engine.stop()


async def run_shell(engine: Engine, stop: asyncio.Event) -> None:
    from adapters.shell.frontend import ShellFrontend

    shell = ShellFrontend(engine)
    engine.attach(shell)
    await shell.start()
    repl = asyncio.create_task(shell.repl())
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({repl, stopper}, return_when=asyncio.FIRST_COMPLETED)
    for task in (repl, stopper):
        task.cancel()
    await shell.stop()
