"""Every economy command, bound to one engine's economy runtime."""

from __future__ import annotations

from bot.economy.commands import admin, laces, raffle, shop
from bot.economy.runtime import EconomyRuntime
from core.commands import Command


def all_commands(runtime: EconomyRuntime) -> list[Command]:
    return [
        *laces.commands(runtime),
        *shop.commands(runtime),
        *raffle.commands(runtime),
        *admin.commands(runtime),
    ]
