"""/help with every slice registered fits each platform in one message, for every role."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.discord.render import TRIMMED
from adapters.discord.render import render as render_discord
from adapters.sms.render import TRIM_NOTE as SMS_TRIM_NOTE
from adapters.sms.render import render_reply as render_sms
from adapters.telegram.render import TEXT_LIMIT, visible_length
from adapters.telegram.render import TRIM_NOTE as TELEGRAM_TRIM_NOTE
from adapters.telegram.render import render as render_telegram
from bot.general.topics import feature_of
from bot.slices import SLICES
from core.commands import Command, Permission
from core.context import Context
from core.replies import Reply
from tests.fakes.discord_api import validate_message_payload
from tests.fakes.twilio_api import count_segments
from tests.testbot import TestBot

ROLES = (Permission.MEMBER, Permission.MOD, Permission.ADMIN)


def fits_discord(reply: Reply) -> None:
    rendered = render_discord(reply, attach=False)
    validate_message_payload({"content": rendered.content, "embeds": [e.to_dict() for e in rendered.embeds]})
    (embed,) = rendered.embeds
    assert TRIMMED not in (embed.description or "") and not any(field.name == "…" for field in embed.fields)


def fits_telegram(reply: Reply) -> None:
    (message,) = render_telegram(reply)
    assert visible_length(message.html) <= TEXT_LIMIT and TELEGRAM_TRIM_NOTE not in message.html


def fits_sms(reply: Reply) -> None:
    text = render_sms(reply)
    assert count_segments(text)[1] <= 2 and not text.endswith(SMS_TRIM_NOTE)


FITS = {"discord": fits_discord, "telegram": fits_telegram, "sms": fits_sms}


@pytest.mark.parametrize("platform", sorted(FITS))
@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.label)
async def test_overview_with_every_slice_fits_and_names_each_feature(
    bot: TestBot, platform: str, role: Permission
) -> None:
    assert {item.name for item in SLICES} <= {feature_of(c) for c in bot.engine.registry.all()}
    caller = bot.member(f"{role.label}-{platform}", platform, role)
    reply = await bot.ok(caller, "/help")
    FITS[platform](reply)
    visible = bot.engine.registry.all(frontend=platform, role=role)
    for feature in {feature_of(c) for c in visible}:
        assert feature in reply.plain_text(), feature
    if platform != "sms":  # with every slice today, each command the caller may use is named
        for command in visible:
            assert f"`/{command.name}`" in reply.text, command.name


@pytest.mark.parametrize("platform", sorted(FITS))
async def test_every_feature_page_fits_for_an_admin(bot: TestBot, platform: str) -> None:
    admin = bot.member(f"boss-{platform}", platform, Permission.ADMIN)
    for feature in sorted({feature_of(c) for c in bot.engine.registry.all(frontend=platform)}):
        reply = await bot.ok(admin, f"/help {feature}")
        FITS[platform](reply)


def _handler_in(module: str) -> Any:
    async def handler(ctx: Context) -> Reply:
        return Reply(text="ok")

    handler.__module__ = module
    return handler


async def test_a_much_larger_bot_still_fits_and_says_what_is_left_out(bot: TestBot) -> None:
    bot.engine.registry.add(
        *(
            Command(f"feature{f}x subcommand{c}", "A command of a made-up feature.", _handler_in(f"bot.fake{f:03d}.c"))
            for f in range(150)
            for c in range(12)
        )
    )
    for platform in FITS:
        reply = await bot.ok(bot.member(f"many-{platform}", platform, Permission.ADMIN), "/help")
        FITS[platform](reply)
    rich = await bot.ok(bot.member("many-rich", "discord", Permission.ADMIN), "/help")
    assert "**fake000** — `/feature0x …`" in rich.text and "more features: `/help TOPIC`" in rich.text
    page = await bot.ok(bot.member("many-page", "telegram"), "/help fake007")
    assert "`/feature7x subcommand11`" in page.text
