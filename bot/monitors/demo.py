"""``snpd demo``: a local Shopify store running a scripted drop, the monitor engine, and the shell.

Everything is local and throwaway: the store listens on 127.0.0.1, the database is a temporary
SQLite file, and no token is needed. Within about 15 seconds the shell prints a new product, then a
restock with a cart link per size; sell-outs, a price drop and a password page follow.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO

from adapters.shell.frontend import ShellFrontend
from bot.monitors.service import MonitorService
from bot.slices import load_config
from core.config import Config
from snpd.app import build_engine
from tests.fakes.shopify_store import FakeShopifyStore, demo_script

BANNER = """\
SNPD demo: a simulated Shopify store is running a drop at {store}
A monitor polls it every {interval} s and posts to the `restocks` feed, shown below as [feed:restocks].
Within about 15 seconds: a new pair appears, sizes restock (with cart links), some sell out, the price
drops, the store goes behind its password page and comes back. Try /monitor list or /monitor test {store}
while it runs; /quit leaves.
"""


def demo_config(base: Config, data_dir: Path) -> Config:
    """The user's config with a throwaway database and a 1 s minimum for the local store."""
    overrides: dict[str, dict[str, Any]] = {
        "bot": {"data_dir": str(data_dir), "database_url": ""},
        "monitors": {
            "host_min_interval": {"127.0.0.1": 1.0},
            "flap_window_seconds": 0.0,
            "allow_private_addresses": True,
        },
    }
    return load_config(base.path, overrides=overrides) if base.path else load_config(None, overrides=overrides)


async def run_demo(
    base: Config,
    *,
    seconds: float | None = None,
    speed: float = 1.0,
    interval: int = 1,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> None:
    """Run until ``/quit`` (interactive) or for ``seconds`` (no prompt: for scripts and tests)."""
    store = FakeShopifyStore(name="SNPD Demo Kicks")
    store.seed_catalogue(40)
    await store.start()
    with tempfile.TemporaryDirectory(prefix="snpd-demo-") as tmp:
        engine = build_engine(demo_config(base, Path(tmp)))
        await engine.start()
        shell = ShellFrontend(engine, stdin=stdin, stdout=stdout)
        engine.attach(shell)
        service = engine.service(MonitorService)
        try:
            out = stdout or sys.stdout
            out.write(BANNER.format(store=store.base_url, interval=interval) + "\n")
            out.flush()
            await service.add(store.base_url, interval=interval, feed="restocks")
            steps = [(delay / speed, change) for delay, change in demo_script()]
            store.play(steps, loop=True)
            if seconds is not None:
                await asyncio.sleep(seconds)
            else:
                await shell.start()
                await shell.repl()
        finally:
            await engine.stop()
            await service.close()
            with contextlib.suppress(Exception):
                await store.stop()
