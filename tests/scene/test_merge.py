"""A /link merge moves the absorbed member's city (unless the survivor has one), follows, sightings
and confirmations to the survivor, without duplicates and without a member following themself."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.scene import Scene
from bot.scene.models import PlugFollow, Sighting, SightingConfirmation
from tests.account.links import confirm_link
from tests.scene.helpers import SECTIONS
from tests.testbot import TestBot


async def test_link_merge_moves_the_scene_to_the_survivor(make_bot: Any) -> None:
    bot: TestBot = await make_bot(**SECTIONS)
    bot.member("alice")
    bot.member("alice_tg", "telegram")
    for name in ("bob", "carl"):
        bot.member(name)
    for name in ("alice_tg", "bob", "carl", "alice"):
        await bot.ok(name, "/location set Leeds, UK" if name != "alice" else "/location set York, UK")
    await bot.ok("alice", "/location clear")  # the survivor has no city: the absorbed one's moves
    await bot.ok("alice", "/plug follow @bob")
    await bot.ok("alice_tg", "/plug follow @bob")  # the same follow twice: one survives
    await bot.ok("alice_tg", "/plug follow @carl")
    await bot.ok("alice_tg", "/plug follow @alice")  # would become following oneself
    await bot.ok("bob", "/plug follow @alice_tg")
    await bot.ok("alice_tg", "/spot Offspring Samba 9")
    await bot.ok("carl", "/spot Footpatrol Gazelle")
    await bot.ok("alice", "/sighting confirm 2")
    await bot.ok("alice_tg", "/sighting confirm 2")

    code = (await bot.ok("alice", "/link")).text.split("**")[1]
    await bot.ok("alice_tg", f"/link {code}")
    await confirm_link(bot.engine, bot["alice"].caller)

    survivor, bob, carl = [await bot.member_id(name) for name in ("alice", "bob", "carl")]
    place = await bot.engine.service(Scene).location(survivor)
    assert place is not None and place.label == "Leeds, United Kingdom"
    async with bot.engine.db.read() as session:
        follows = {(row.follower_id, row.plug_id) for row in await session.scalars(select(PlugFollow))}
        owners = {row.id: row.member_id for row in await session.scalars(select(Sighting))}
        confirmations = [
            (row.sighting_id, row.member_id) for row in await session.scalars(select(SightingConfirmation))
        ]
    assert follows == {(survivor, bob), (survivor, carl), (bob, survivor)}
    assert owners == {1: survivor, 2: carl}
    assert confirmations == [(2, survivor)]
