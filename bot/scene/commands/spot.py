"""/spot, /spotted and /sighting confirm: in-store sightings for the spotter's area."""

from __future__ import annotations

from datetime import timedelta

from bot.alerts.sizes import SizeError, parse_sizes
from bot.market.commands import pair_names
from bot.scene import geohash
from bot.scene.models import Sighting
from bot.scene.places import Ambiguous, NotAPlace
from bot.scene.service import Scene
from bot.scene.sightings import request_key
from core.attachments import Attachment
from core.commands import Command, Param, ParamType
from core.context import Context
from core.errors import BadArgument, UserError
from core.markup import escape
from core.replies import Button, Reply, ReplyField
from core.storage.types import utcnow

_LISTED = 10
_BUTTONS = 5
_RECENT_HOURS = 48


def sizes_of(text: str | None) -> list[str]:
    """``9, 10.5`` or ``9 10.5`` → canonical sizes as alert rules have them; ``US 10`` stays one size."""
    if not text or not text.strip():
        return []
    try:
        return parse_sizes(text)
    except SizeError:
        if "," in text:
            raise BadArgument("sizes", _SIZE_HINT) from None
    try:
        return parse_sizes(",".join(text.split()))
    except SizeError:
        raise BadArgument("sizes", _SIZE_HINT) from None


_SIZE_HINT = 'not sizes I know, e.g. `9, 10.5` or `W 8`. Quote a many-word item: /spot Kith "Jordan 4 Bred" 10'


async def spot(
    ctx: Context, store: str, item: str, sizes: str | None = None, photo: list[Attachment] | None = None
) -> Reply:
    scene = ctx.service(Scene)
    place = await scene.location(ctx.member.id)
    if place is None:
        raise UserError("Set your city first (`/location set Brooklyn, NY`): a sighting is posted to your area.")
    wanted = sizes_of(sizes)
    picture: bytes | None = None
    photo_id: str | None = None
    suffix = "jpg"
    if photo:
        stored = await scene.photos.store_all(photo, param="photo")
        photo_id, suffix = stored[0].sha256, stored[0].filename.rsplit(".", 1)[-1]
        picture = await scene.photos.read(photo_id)
    sighting, new = await scene.sightings.spot(
        ctx.member, place, store.strip()[:100], item.strip()[:200], wanted, request_key(ctx.request_id), photo_id
    )
    needed = scene.settings.confirmations_needed
    if new:
        post = sighting_reply(sighting, needed, ctx.member.display_name)
        if picture is not None:
            post.image, post.image_name = picture, f"sighting-{sighting.id}.{suffix}"
        await scene.post_sighting(post)
    return Reply(
        title="👀 Sighting posted",
        text=f"Posted to the spotted feed for the **{escape(sighting.area)}** (sighting #{sighting.id}). When "
        f"{needed} other member{'s' if needed != 1 else ''} confirm it, you earn LACES.",
        ephemeral=True,
    )


def sighting_reply(sighting: Sighting, needed: int, spotter: str) -> Reply:
    sizes = ", ".join(escape(size) for size in sighting.sizes) or "not given"
    state = "✅ confirmed" if sighting.confirmed_at is not None else f"{sighting.confirmations}/{needed} confirmations"
    reply = Reply(
        title=f"👀 Spotted: {escape(sighting.item)}",
        text=f"**{escape(spotter)}** saw **{escape(sighting.item)}** on the shelf at **{escape(sighting.store)}**.",
        fields=[
            ReplyField(name="Sizes", value=sizes),
            ReplyField(name="Area", value=f"{escape(sighting.area)} · {sighting.geohash}"),
            ReplyField(name="Status", value=state),
        ],
        footer=f"sighting #{sighting.id} · seen it too? confirm it",
        color=0x8E44AD,
    )
    if sighting.confirmed_at is None:
        reply.buttons.append(Button(label="✅ I see it too", action=f"sighting confirm {sighting.id}"))
    return reply


async def confirm(ctx: Context, sighting: int) -> Reply:
    scene = ctx.service(Scene)
    result = await scene.sightings.confirm(ctx.member, sighting, request_key(ctx.request_id))
    row, needed = result.sighting, scene.settings.confirmations_needed
    if result.completed:
        text = f"Sighting #{row.id} is confirmed ({row.confirmations}/{needed}): its spotter earns LACES. Thanks!"
    elif row.confirmed_at is not None:
        text = f"Sighting #{row.id} was already confirmed; your confirmation is counted too ({row.confirmations})."
    else:
        text = f"Thanks! Sighting #{row.id} has {row.confirmations}/{needed} confirmations."
    return Reply(title="✅ Confirmed", text=text, ephemeral=True)


async def spotted(ctx: Context, area: str | None = None) -> Reply:
    scene = ctx.service(Scene)
    precision = scene.settings.geohash_precision
    if area:
        try:
            city = await scene.geocode(area)
        except (Ambiguous, NotAPlace):
            if not (geohash.is_geohash(area.strip()) and len(area.strip()) == precision):
                raise
            cell = area.strip().lower()
        else:
            cell = geohash.encode(city.lat, city.lon, precision)
    else:
        place = await scene.location(ctx.member.id)
        if place is None:
            raise UserError("Set your city (`/location set Brooklyn, NY`) or name one: `/spotted Leeds, UK`.")
        cell = geohash.encode(place.lat, place.lon, precision)
    since = utcnow() - timedelta(hours=_RECENT_HOURS)
    found = await scene.sightings.recent(geohash.neighbours(cell), since, limit=_LISTED)
    title = f"👀 Spotted near {cell} · last {_RECENT_HOURS} h"
    if not found:
        return Reply(title=title, text="Nothing spotted around here lately. Saw something? `/spot STORE ITEM [sizes]`")
    needed = scene.settings.confirmations_needed
    lines = []
    for row in found:
        state = "✅" if row.confirmed_at is not None else f"{row.confirmations}/{needed}"
        sizes = f" · {', '.join(escape(s) for s in row.sizes)}" if row.sizes else ""
        lines.append(f"#{row.id} **{escape(row.item)}** at {escape(row.store)}{sizes} · {escape(row.area)} · {state}")
    buttons = [
        Button(label=f"✅ #{row.id}", action=f"sighting confirm {row.id}")
        for row in found
        if row.confirmed_at is None and row.member_id != ctx.member.id
    ][:_BUTTONS]
    return Reply(title=title, text="\n".join(lines), buttons=buttons)


COMMANDS = [
    Command(
        name="spot",
        description="Post an in-store sighting to your area's spotted feed; confirmed ones earn LACES.",
        handler=spot,
        params=(
            Param("store", "Which store (quote many words)", max_length=100),
            Param("item", "What's on the shelf (quote many words)", max_length=200, autocomplete=pair_names),
            Param("sizes", "Sizes you saw, e.g. 9, 10.5", required=False, max_length=120),
            Param("photo", "A photo of it", type=ParamType.ATTACHMENTS, required=False, max_files=1),
        ),
    ),
    Command(
        name="spotted",
        description="Recent in-store sightings around you or a city.",
        handler=spotted,
        params=(Param("area", "A city (default: yours)", required=False, max_length=120, rest=True),),
    ),
    Command(
        name="sighting confirm",
        description="Confirm someone's in-store sighting: you saw it too.",
        handler=confirm,
        params=(Param("sighting", "The sighting's number", type=ParamType.INTEGER, min_value=1),),
    ),
]
