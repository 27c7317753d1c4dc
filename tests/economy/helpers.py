"""Steps the economy tests share: a starting balance granted by the admin, and a balance read back."""

from __future__ import annotations

from bot.economy import EconomyRuntime
from tests.testbot import TestBot


async def grant(bot: TestBot, who: str, amount: int) -> None:
    """``who`` starts with ``amount`` LACES, granted by the ``boss`` admin the test declared."""
    await bot.join(who)
    await bot.ok("boss", f"/admin grant @{who} {amount} starting balance")


async def balance_of(bot: TestBot, who: str) -> int:
    return await bot.engine.service(EconomyRuntime).economy.balance(await bot.member_id(who))
