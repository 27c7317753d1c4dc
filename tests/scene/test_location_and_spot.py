"""/location, /spot, /spotted and /sighting confirm through the engine, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from bot.economy import EconomyRuntime
from bot.scene import Scene
from bot.scene.models import Sighting, SightingConfirmation
from bot.scene.sightings import request_key
from tests.scene.helpers import SECTIONS, capture_feed
from tests.testbot import TestBot


async def test_location_is_a_city_shown_to_others_only_as_a_band(make_bot: Any) -> None:
    bot: TestBot = await make_bot(**SECTIONS)
    ann, bob = bot.member("ann"), bot.member("bob")
    await bot.fails(ann, "/location clear", "no location set")
    done = await bot.ok(ann, "/location set brooklyn, ny")
    assert "Brooklyn, NY, US" in done.text and done.ephemeral
    await bot.ok(bob, "/location set Newark, NJ")
    scene = bot.engine.service(Scene)
    ann_id, bob_id = await bot.member_id(ann), await bot.member_id(bob)
    place = await scene.location(ann_id)
    assert place is not None and place.label == "Brooklyn, NY, US" and place.geohash.startswith("dr5")
    assert (place.lat, place.lon) == (40.65, -73.95)  # the city centre, rounded: nothing finer is kept
    apart = await scene.distance_km(ann_id, bob_id)
    assert apart is not None and scene.band(apart) == "10–25 km"
    shown = await bot.ok(ann, "/location show")
    assert "Brooklyn" in shown.text and shown.ephemeral

    cleared = await bot.ok(ann, "/location clear")
    assert cleared.title == "📍 Location cleared" and await scene.location(ann_id) is None
    assert await scene.distance_km(ann_id, bob_id) is None


async def test_places_that_do_not_geocode_change_nothing(make_bot: Any) -> None:
    bot: TestBot = await make_bot(**SECTIONS)
    ann = bot.member("ann")
    await bot.ok(ann, "/location set Leeds, UK")
    await bot.fails(ann, "/location set 10001", "Postal codes aren't in the offline place list")
    await bot.fails(ann, "/location set 40.7,-74.0", "Coordinates aren't taken")
    await bot.fails(ann, "/location set Qwzxv", "No city called “Qwzxv”")
    scene = bot.engine.service(Scene)
    kept = await scene.location(await bot.member_id(ann))
    assert kept is not None and kept.label == "Leeds, United Kingdom"
    which = await bot.ok(ann, "/location set Springfield")
    assert which.title == "📍 Which one?" and "Springfield, MO, US" in which.text
    picked = await bot.press(ann, which, "Springfield, IL, US")
    assert "Springfield, IL, US" in picked.text
    place = await scene.location(await bot.member_id(ann))
    assert place is not None and place.label == "Springfield, IL, US"


async def test_a_sighting_confirmed_by_two_others_pays_its_spotter_once(make_bot: Any) -> None:
    bot: TestBot = await make_bot(**SECTIONS)
    posts = capture_feed(bot, "spotted")
    ann, bob, cat, dan = (bot.member(name) for name in ("ann", "bob", "cat", "dan"))
    await bot.fails(ann, '/spot Kith "Jordan 4 Bred" 10', "Set your city first")
    for who in (ann, bob, cat, dan):
        await bot.ok(who, "/location set Brooklyn, NY")

    await bot.fails(ann, '/spot Kith "Jordan 4 Bred" 10 banana', "not sizes I know")
    posted = await bot.ok(ann, '/spot Kith "Jordan 4 <b>Bred**" 10, W 12')
    assert "New York City area" in posted.text and posted.ephemeral
    await bot.engine.bus.drain()
    (post,) = posts
    assert post.title == "👀 Spotted: Jordan 4 \\<b>Bred\\*\\*"  # the member's text is escaped
    fields = {field.name: field.value for field in post.fields}
    assert fields["Sizes"] == "10, 10.5" and fields["Area"].startswith("New York City area · dr5")
    sighting_id = int(post.footer.split("#")[1].split()[0])  # type: ignore[union-attr]

    await bot.fails(ann, f"/sighting confirm {sighting_id}", "can't confirm your own sighting")
    first = await bot.press(bob, post, "✅ I see it too")
    assert "1/2 confirmations" in first.text
    await bot.fails(bob, f"/sighting confirm {sighting_id}", "already confirmed")
    await bot.fails(bob, "/sighting confirm 999", "No sighting #999")
    second = await bot.press(cat, post, "✅ I see it too")
    assert "is confirmed (2/2)" in second.text
    third = await bot.ok(dan, f"/sighting confirm {sighting_id}")
    assert "already confirmed" in third.text
    await bot.engine.bus.drain()

    economy = bot.engine.service(EconomyRuntime).economy
    assert await economy.balance(await bot.member_id(ann)) == 10  # the default sighting_confirmed rule
    await bot.engine.service(Scene).sightings.pay(await bot.engine.service(Scene).sightings.get(sighting_id))
    await bot.engine.bus.drain()
    assert await economy.balance(await bot.member_id(ann)) == 10  # announced again, paid once

    listed = await bot.ok(bob, "/spotted")
    assert f"#{sighting_id}" in listed.text and "✅" in listed.text and not listed.buttons
    elsewhere = await bot.ok(bob, "/spotted Leeds, UK")
    assert "Nothing spotted" in elsewhere.text
    await bot.fails(bob, "/spotted Qwzxv", "No city called")


async def test_a_redelivered_spot_or_confirmation_does_nothing_twice(make_bot: Any) -> None:
    bot: TestBot = await make_bot(**SECTIONS)
    posts = capture_feed(bot, "spotted")
    ann, bob = bot.member("ann"), bot.member("bob")
    for who in (ann, bob):
        await bot.ok(who, "/location set Leeds, UK")
    engine = bot.engine
    first = await engine.dispatch_line(ann.caller, "/spot Offspring Samba 9", request_id="77")
    again = await engine.dispatch_line(ann.caller, "/spot Offspring Samba 9", request_id="77")
    assert first.text == again.text
    scene = engine.service(Scene)
    member = await bot.resolve(ann)
    place = await scene.location(member.id)
    assert place is not None
    # the slice's own key (the platform request id) holds even past the engine's request log
    row, new = await scene.sightings.spot(member, place, "Offspring", "Samba", ["9"], request_key("shell:77"))
    assert not new and row.item == "Samba"
    async with engine.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Sighting)) == 1

    bob_member = await bot.resolve(bob)
    once = await scene.sightings.confirm(bob_member, row.id, "shell:88")
    replay = await scene.sightings.confirm(bob_member, row.id, "shell:88")
    assert not once.replayed and replay.replayed and replay.sighting.confirmations == 1
    async with engine.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(SightingConfirmation)) == 1
    await engine.bus.drain()
    assert len(posts) == 1  # only the /spot posts; the direct calls are not commands
