"""``snpd demo``: a local Shopify store running a scripted drop, the monitor engine, and the shell.

Everything is local and throwaway: the store listens on 127.0.0.1, the database is a temporary
SQLite file, and no token is needed. The operator at the shell gets an alert rule of their own, so
the demo shows both the `restocks` feed and a personal alert arriving as a DM. The banner's timings
come from the script itself (``demo_script``) plus one poll interval and a margin for the polls and
the fan-out, and the script repeats until ``/quit``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import sys
import tempfile
from itertools import accumulate
from pathlib import Path
from typing import Any, TextIO

from adapters.shell.frontend import ShellFrontend, render_text
from bot.monitors.service import MonitorService
from bot.slices import load_config
from core.config import Config
from core.replies import Reply
from snpd.app import build_engine
from tests.fakes.shopify_store import FakeShopifyStore, demo_script

#: the operator's own alert: the script restocks size 10 of a Jordan 4
DEMO_ALERT = "/alerts add jordan 4 sizes:10"
#: seconds on top of the script's own time and one poll interval: a poll, its diff and the fan-out
#: took under a second when measured; the rest is room for a busy machine
MARGIN_S = 3.0

BANNER = """\
SNPD demo: a simulated Shopify store is running a drop at {store}
A monitor polls it every {interval} s and posts to the `restocks` feed, shown below as [feed:restocks].
Your own alert is set ({alert}): its matches print as [DM], as a member's DMs would.
A new pair appears within about {new} s; sizes restock, with cart links and your [DM], within about {restock} s;
then some sell out, the price drops, and the store goes behind its password page and comes back.
The drop repeats every {cycle} s until you leave. Logs: {log}
Try /monitor list, /alerts test 1 or /as @sam while it runs; /quit leaves.
"""


def demo_log_file(base: Config) -> Path:
    """Where ``snpd demo`` logs (its database is temporary, the log is not)."""
    return base.bot.data_dir / "demo.log"


def banner(store: str, *, interval: int, speed: float, log_file: Path) -> str:
    """The banner, with the times the script really takes at this speed and poll interval."""
    at = [total / speed for total in accumulate(delay for delay, _change in demo_script())]

    def within(step: int) -> int:
        return math.ceil(at[step] + interval + MARGIN_S)

    return BANNER.format(
        store=store,
        interval=interval,
        alert=DEMO_ALERT,
        new=within(0),
        restock=within(1),
        cycle=round(at[-1]),
        log=log_file,
    )


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
    log_file = demo_log_file(base)
    with tempfile.TemporaryDirectory(prefix="snpd-demo-") as tmp:
        engine = build_engine(demo_config(base, Path(tmp)))
        await engine.start()
        shell = ShellFrontend(engine, stdin=stdin, stdout=stdout, log_file=log_file)
        engine.attach(shell)
        service = engine.service(MonitorService)
        try:
            out = stdout or sys.stdout
            alert = await engine.dispatch_line(shell.operator, DEMO_ALERT)
            if alert == Reply.error(alert.text):  # the personal alert is half the demo: say why it failed
                out.write(render_text(alert) + "\n")
            out.write(banner(store.base_url, interval=interval, speed=speed, log_file=log_file) + "\n")
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
