"""/plug: trusted sellers and traders near you, best reputation first, and following them.

``/plug [radius] [item]`` lists; ``/plug follow @member``, ``/plug unfollow @member`` and
``/plug following`` manage follows (one command: the registry can't hold ``/plug`` and a ``/plug
follow`` group at once). Listings and reputation come from the trades slice when it runs.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.scene.bands import band_rank
from bot.scene.config import SceneSection
from bot.scene.service import HAVE_KINDS, RULE_KIND, Scene
from core.commands import Command, Param
from core.context import Context
from core.errors import BadArgument, UserError
from core.geo import distance_km
from core.markup import escape
from core.replies import Button, Reply, ReplyField
from core.storage.models import Member

if TYPE_CHECKING:
    from bot.trades.listings import Listing
    from bot.trades.service import Trades

_RADIUS = re.compile(r"^(\d+(?:\.\d+)?)\s*(km|mi)?$", re.IGNORECASE)
_MILE_KM = 1.609344
_FOLLOW, _UNFOLLOW = "follow", "unfollow"
_FOLLOWING = ("following", "follows", "list")
_SHOWN_LISTINGS = 3
_BUTTONS = 5


def parse_radius(text: str, settings: SceneSection) -> float | None:
    """``25``, ``25km`` or ``15mi`` → km; ``None`` if the word is no distance (it starts the item);
    a distance that is not positive or beyond ``max_radius_km`` is refused."""
    match = _RADIUS.match(text.strip())
    if match is None:
        return None
    value = float(match.group(1)) * (_MILE_KM if (match.group(2) or "").lower() == "mi" else 1.0)
    if not math.isfinite(value) or value <= 0 or value > settings.max_radius_km:
        raise BadArgument("radius", f"give 1 to {settings.max_radius_km:g} km: plugs are people you can meet")
    return value


async def plug(ctx: Context, radius: str | None = None, item: str | None = None) -> Reply:
    scene = ctx.service(Scene)
    word = (radius or "").strip().lower()
    if word in (_FOLLOW, _UNFOLLOW):
        if not item:
            raise BadArgument("member", f"say who: /plug {word} @member")
        return await _follow(ctx, scene, item, on=word == _FOLLOW)
    if word in _FOLLOWING:
        return await _following(ctx, scene)
    km = parse_radius(radius, scene.settings) if radius else None
    if radius and km is None:  # "/plug jordan 4": no radius, the words are the item
        item = f"{radius} {item or ''}".strip()
    return await _plugs(ctx, scene, km or scene.settings.plug_radius_km, item)


def _trades(ctx: Context) -> Trades:
    from bot.trades.service import Trades

    if not ctx.engine.has_service(Trades):
        raise UserError("Trading isn't running on this bot, so there are no listings to find plugs by.")
    return ctx.engine.service(Trades)


async def _plugs(ctx: Context, scene: Scene, radius_km: float, item: str | None) -> Reply:
    me = await scene.location(ctx.member.id)
    if me is None:
        raise UserError("Set your city first: `/location set Brooklyn, NY`. Plugs are found by distance from it.")
    trades = _trades(ctx)
    blocked = set(await trades.blocked(ctx.member.id))  # members you blocked for trading aren't your plugs
    listings = [
        listing
        for listing in await trades.listings(item=item)
        if listing.kind in HAVE_KINDS and listing.member_id != ctx.member.id and listing.member_id not in blocked
    ]
    by_member: dict[int, list[Listing]] = defaultdict(list)
    for listing in listings:
        by_member[listing.member_id].append(listing)
    places = await scene.locations(by_member)
    near = {
        member_id: distance_km(me.lat, me.lon, place.lat, place.lon)
        for member_id, place in places.items()
        if distance_km(me.lat, me.lon, place.lat, place.lon) <= radius_km
    }
    members = await _members(ctx, near)
    reputations = await trades.reputations(list(members)) if members else {}
    settings = scene.settings
    ranked = sorted(
        (mid for mid in members if mid in reputations and reputations[mid].score >= settings.min_plug_score),
        key=lambda mid: (-reputations[mid].score, band_rank(near[mid], settings.distance_bands_km), mid),
    )[: settings.plug_results]
    named = listings[0].item if item and listings else item  # the catalog's name for what was typed
    what = f" with {escape(_short(named, 60))}" if named else ""
    title = f"🔌 Plugs within {radius_km:g} km{what}"
    if not ranked:
        hint = " Try a wider radius, or `/plug` without an item." if item else " Try a wider radius."
        return Reply(title=title, text=f"No trusted sellers or traders with listings near you yet.{hint}")
    fields = []
    for number, mid in enumerate(ranked, start=1):
        rep = reputations[mid]
        review = f"{rep.average_review:.1f}/5 ({rep.reviews})" if rep.average_review is not None else "no reviews yet"
        lines = [
            f"score {rep.score:.1f} · {rep.completed_trades} trades · {review} · member {rep.account_age_days:.0f} d"
        ]
        lines += [_listing_line(listing) for listing in by_member[mid][:_SHOWN_LISTINGS]]
        more = len(by_member[mid]) - _SHOWN_LISTINGS
        if more > 0:
            lines.append(f"…and {more} more")
        fields.append(
            ReplyField(
                name=f"{number}. {escape(members[mid].display_name)} · {scene.band(near[mid])}",
                value="\n".join(lines),
                inline=False,
            )
        )
    buttons = [
        Button(label=f"Follow {_short(members[mid].display_name, 40)}", action=f"plug follow #{mid}")
        for mid in ranked[:_BUTTONS]
    ]
    return Reply(title=title, fields=fields, buttons=buttons, footer="best reputation first · distances are bands")


def _listing_line(listing: Listing) -> str:
    size = f" · size {escape(listing.size)}" if listing.size else ""
    price = f" · ${listing.price:,.0f}" if listing.price is not None else " · for trade"
    return f"• {escape(_short(listing.item, 70))}{size}{price}"


async def _members(ctx: Context, ids: dict[int, float]) -> dict[int, Member]:
    """The listed members who still exist on their own (not merged away, not bots)."""
    if not ids:
        return {}
    async with ctx.engine.db.read() as session:
        rows = await session.execute(
            select(Member).where(Member.id.in_(list(ids)), Member.merged_into.is_(None), Member.is_bot.is_(False))
        )
        return {member.id: member for member in rows.scalars()}


async def _follow(ctx: Context, scene: Scene, who: str, *, on: bool) -> Reply:
    target = await scene.find_member(who)
    name = escape(target.display_name)
    if on:
        if not await scene.follow(ctx.member, target):
            return Reply(title="🔌 Already following", text=f"You already follow **{name}**.", ephemeral=True)
        return Reply(
            title="🔌 Following",
            text=f"You follow **{name}**: their new listings reach you as alerts ({RULE_KIND}), on your "
            "channels and after your quiet hours.",
            buttons=[Button(label="Unfollow", action=f"plug unfollow #{target.id}")],
            ephemeral=True,
        )
    if not await scene.unfollow(ctx.member, target):
        raise UserError(f"You don't follow {name}.")
    return Reply(title="🔌 Unfollowed", text=f"You no longer follow **{name}**.", ephemeral=True)


async def _following(ctx: Context, scene: Scene) -> Reply:
    plugs = await scene.following(ctx.member.id)
    if not plugs:
        return Reply(title="🔌 Following nobody", text="Find plugs with `/plug`, then follow them.", ephemeral=True)
    me = await scene.location(ctx.member.id)
    places = await scene.locations(member.id for member in plugs)
    lines = []
    for member in plugs:
        place = places.get(member.id)
        where = (
            f" · {scene.band(distance_km(me.lat, me.lon, place.lat, place.lon))}"
            if me is not None and place is not None
            else ""
        )
        lines.append(f"• **{escape(member.display_name)}**{where}")
    buttons = [
        Button(label=f"Unfollow {_short(member.display_name, 40)}", action=f"plug unfollow #{member.id}")
        for member in plugs[:_BUTTONS]
    ]
    return Reply(title=f"🔌 You follow {len(plugs)}", text="\n".join(lines), buttons=buttons, ephemeral=True)


COMMANDS = [
    Command(
        name="plug",
        description="Trusted sellers and traders near you; /plug follow @member gets their new listings.",
        handler=plug,
        params=(
            Param("radius", "How far, in km (e.g. 25); or follow, unfollow, following", required=False, max_length=40),
            Param("item", "A pair to look for; or the member to follow", required=False, max_length=200, rest=True),
        ),
    ),
]


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
