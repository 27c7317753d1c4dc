"""/location set, clear and show: a member's coarse location, a city from the offline place list."""

from __future__ import annotations

from bot.scene.places import Ambiguous, NotAPlace
from bot.scene.service import Scene
from core.commands import Command, Param
from core.context import Context
from core.errors import UserError
from core.markup import escape
from core.replies import MAX_ACTION_BYTES, Button, Reply


async def location_set(ctx: Context, place: str) -> Reply:
    scene = ctx.service(Scene)
    try:
        found = await scene.set_location(ctx.member.id, place)
    except Ambiguous as error:
        buttons = [_set_button(city.label) for city in error.candidates]
        return Reply(
            title="📍 Which one?",
            text=escape(str(error)),
            buttons=[button for button in buttons if button is not None],
            ephemeral=True,
        )
    except NotAPlace as error:
        buttons = [_set_button(name.title()) for name in error.suggestions]
        reply = Reply.error(escape(str(error)))
        reply.buttons = [button for button in buttons if button is not None]
        return reply
    return Reply(
        title="📍 Location set",
        text=f"You're in **{escape(found.label)}** (the city, never more exact). Others only ever see how far "
        "you are as a band such as “10–25 km”. `/location clear` removes it.",
        ephemeral=True,
    )


def _set_button(label: str) -> Button | None:
    action = f"location set {label}"
    if len(action.encode()) > MAX_ACTION_BYTES:
        return None
    return Button(label=label[:80], action=action)


async def location_clear(ctx: Context) -> Reply:
    if not await ctx.service(Scene).clear_location(ctx.member.id):
        raise UserError("You have no location set.")
    return Reply(
        title="📍 Location cleared",
        text="Plug searches, sightings and distance bands no longer use a place for you.",
        ephemeral=True,
    )


async def location_show(ctx: Context) -> Reply:
    place = await ctx.service(Scene).location(ctx.member.id)
    if place is None:
        return Reply(title="📍 No location", text="Set one with `/location set CITY`, e.g. `Brooklyn, NY`.",
                     ephemeral=True)  # fmt: skip
    return Reply(title="📍 Your location", text=f"**{escape(place.label)}** (only you see this).", ephemeral=True)


COMMANDS = [
    Command(
        name="location set",
        description="Set your city (coarse, never GPS) for plugs, sightings and distance bands.",
        handler=location_set,
        params=(Param("place", "City, optionally with state or country: Brooklyn, NY", max_length=120, rest=True),),
        private=True,
    ),
    Command(name="location clear", description="Forget your city.", handler=location_clear, private=True),
    Command(name="location show", description="The city the bot has for you.", handler=location_show, private=True),
]
