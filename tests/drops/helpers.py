"""Shared set-up for the drops tests: a catalog with a future release, a shell console for DMs, and
reading the outbox."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from adapters.shell.frontend import ShellFrontend
from bot.drops.service import Drops
from bot.market import Market
from core.delivery.models import OutboxMessage
from core.engine import Engine
from core.storage.types import utcnow
from tests.market.data import PRODUCTS, write

PINE = "Jordan 4 Retro SB Pine Green"


def release_text(moment: datetime, zone: str = "UTC") -> str:
    return moment.strftime("%Y-%m-%d %H:%M ") + zone


def soon(minutes: float) -> datetime:
    """A whole minute ``minutes`` from now (release times are typed to the minute)."""
    moment = utcnow() + timedelta(minutes=minutes)
    return moment.replace(second=0, microsecond=0) + timedelta(minutes=1)


async def stock_catalog(engine: Engine, tmp_path: Path, *, future_release: str | None = None) -> None:
    text = PRODUCTS
    if future_release is not None:
        text += f"13,Nike Dunk Low Future Panda,Nike,115,{future_release},150\n"
    await engine.service(Market).import_file(str(write(tmp_path, "products.csv", text)))


def console(engine: Engine) -> io.StringIO:
    """Attach the local shell: members on the shell platform get their DMs printed here."""
    out = io.StringIO()
    engine.attach(ShellFrontend(engine, stdin=io.StringIO(), stdout=out))
    return out


async def outbox(engine: Engine, source: str = "drops") -> list[OutboxMessage]:
    async with engine.db.read() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.source == source).order_by(OutboxMessage.id)
        )
        return list(rows)


def drops(engine: Engine) -> Drops:
    return engine.service(Drops)
