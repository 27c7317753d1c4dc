"""The slice contract: the one shape every feature implements.

A slice declares what it owns (its config section, its tables, its migrations, its CLI sub-commands,
the slices it needs) and builds its services once per engine. The engine starts slices in dependency
order and stops them in reverse, and handlers reach a slice's services one way: ``ctx.service(T)``
(or ``engine.service(T)``), a typed lookup by the services' class. There are no module-global
registries, so two engines in one process never share state.
"""

from __future__ import annotations

import argparse
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Config, Section

if TYPE_CHECKING:
    from core.engine import Engine

ServicesT = TypeVar("ServicesT")


class Slice(ABC, Generic[ServicesT]):
    """A feature. Subclasses set the class attributes and implement ``build``.

    ``build`` declares commands and subscriptions and returns the services object; it must not do I/O
    (it runs for ``snpd commands`` too). I/O that must happen before the bot serves belongs in
    ``start``, which the engine awaits after migrations and after every dependency has started.
    """

    #: short name: the config section, the Alembic branch label and the log field
    name: ClassVar[str]
    #: the ``[name]`` table of bot.toml, validated at load; ``None`` when the slice has no settings
    config_model: ClassVar[type[Section] | None] = None
    #: modules whose import registers this slice's SQLAlchemy tables
    models: ClassVar[tuple[str, ...]] = ()
    #: the folder of this slice's Alembic revisions (branch label = ``name``)
    migrations: ClassVar[Path | None] = None
    #: slices whose services this one uses; they are built and started first
    depends_on: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def build(self, engine: Engine) -> ServicesT:
        """Create the services, add the commands to ``engine.registry``, subscribe to the bus."""

    async def start(self, services: ServicesT) -> None:
        """Begin background work (workers, boot jobs). Dependencies have started already."""

    async def stop(self, services: ServicesT) -> None:
        """Finish in-flight work and release what ``start`` took; frontends are still connected."""

    async def merge_members(
        self, services: ServicesT, session: AsyncSession, survivor_id: int, absorbed_id: int
    ) -> None:
        """Move this slice's per-member rows from ``absorbed_id`` to ``survivor_id`` inside the
        ``/link`` transaction, so nothing a member owns is left on the absorbed member."""

    def frontend_attached(self, services: ServicesT, platform: str) -> None:
        """A chat frontend can now carry messages (``engine.attach``); wake whatever waits on it."""

    def check_config(self, config: Config) -> list[str]:
        """Problems across sections that no single field can see (a feed name that isn't configured),
        each naming the key, e.g. ``[economy] raffle_feed: no feed named 'nosuch' (feeds: …)``."""
        return []

    def add_cli(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """Add ``snpd`` sub-commands; each parser sets ``func(args) -> int``."""


class SliceError(Exception):
    """The slice list is inconsistent (a missing dependency, a cycle, a name used twice)."""


def in_dependency_order(slices: Iterable[Slice[object]]) -> list[Slice[object]]:
    """Order ``slices`` so that each comes after everything it depends on; keep the listed order
    otherwise, so start-up logs read like ``bot/slices.py``."""
    by_name: dict[str, Slice[object]] = {}
    for item in slices:
        if item.name in by_name:
            raise SliceError(f"two slices are named {item.name!r}")
        by_name[item.name] = item
    ordered: list[Slice[object]] = []
    state: dict[str, str] = {}

    def visit(item: Slice[object], path: Sequence[str]) -> None:
        if state.get(item.name) == "done":
            return
        if state.get(item.name) == "visiting":
            raise SliceError("slice dependencies form a cycle: " + " -> ".join([*path, item.name]))
        state[item.name] = "visiting"
        for needed in item.depends_on:
            if needed not in by_name:
                raise SliceError(f"slice {item.name!r} depends on {needed!r}, which is not in the slice list")
            visit(by_name[needed], [*path, item.name])
        state[item.name] = "done"
        ordered.append(item)

    for item in by_name.values():
        visit(item, [])
    return ordered
