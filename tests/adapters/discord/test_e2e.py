"""The Discord frontend end to end: real engine, real discord.py, fake Discord on loopback."""

from __future__ import annotations

import asyncio
from typing import Any

import discord
import pytest

from adapters.discord.render import (
    BUTTONS_LIMIT,
    CONTENT_LIMIT,
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    FIELD_VALUE_LIMIT,
    FIELDS_LIMIT,
    TITLE_LIMIT,
    TRIMMED,
    build_embed,
    render,
)
from core.commands import Command, Param, ParamType, Permission
from core.context import Context
from core.frontend import DeliveryRefused
from core.replies import Button, Reply, ReplyField
from core.targets import DiscordChannel
from tests.fakes.discord_api import (
    PERM_MANAGE_MESSAGES,
    FakeDiscord,
    FakeMember,
    RecordedMessage,
    validate_message_payload,
)
from tests.testbot import DiscordTestBot


async def _add(ctx: Context, a: int, b: float | None = None, loud: bool | None = None, who: str | None = None) -> Reply:
    total = a + (b or 0)
    text = f"{total:g}" + ("!" if loud else "") + (f" for {who}" if who else "")
    return Reply(text=text)


async def _slow(ctx: Context) -> Reply:
    await asyncio.sleep(0.4)
    return Reply(title="Finally", text="slow but done")


async def _secret(ctx: Context) -> Reply:
    await asyncio.sleep(0.4)
    return Reply(text="for your eyes only")


async def _buttons(ctx: Context) -> Reply:
    return Reply(
        title="Drop",
        text="Jordan 4 restock",
        buttons=[Button(label="Ping it", action="/ping"), Button(label="Shop", url="https://example.com/j4")],
    )


async def _mods(ctx: Context) -> Reply:
    return Reply(text=f"hello {ctx.role.label}")


async def _size(size: str) -> Reply:
    return Reply(text=f"size {size}")


async def _sizes(ctx: Context, prefix: str) -> list[str]:
    return ["small", "medium", "large"]


#: Commands only these tests declare: typed options, a three-word name, slow and private handlers.
TEST_COMMANDS = [
    Command(
        name="calc add",
        description="Add numbers (test).",
        handler=_add,
        params=(
            Param("a", "First", type=ParamType.INTEGER, min_value=1, max_value=10),
            Param("b", "Second", type=ParamType.NUMBER, required=False),
            Param("loud", "Shout", type=ParamType.BOOLEAN, required=False),
            Param("who", "For whom", type=ParamType.MEMBER, required=False),
        ),
    ),
    Command(
        name="calc deep size",
        description="A three-word command (test).",
        handler=lambda ctx, size: _size(size),
        params=(Param("size", "Size", autocomplete=_sizes),),
    ),
    Command(name="slow", description="Takes a while (test).", handler=_slow),
    Command(name="secret", description="Private and slow (test).", handler=_secret, private=True),
    Command(name="buttons", description="Has buttons (test).", handler=_buttons),
    Command(name="modonly", description="Mods only (test).", handler=_mods, permission=Permission.MOD),
]


@pytest.fixture
async def dc(make_discord_bot: Any) -> DiscordTestBot:
    bot: DiscordTestBot = await make_discord_bot(commands=TEST_COMMANDS, frontend={"defer_after": 0.15})
    return bot


def _command(fake: FakeDiscord, name: str) -> dict[str, Any]:
    found = fake.find_command(name)
    assert found is not None, f"/{name} was not synced"
    return found


# ---------------------------------------------------------------------------- commands


async def test_commands_sync_to_the_guild_with_groups_and_typed_options(dc: DiscordTestBot) -> None:
    fake = dc.fake
    assert not fake.global_commands and fake.guild_commands[fake.guild_id]
    assert {"help", "ping", "feed", "calc", "slow"} <= {c["name"] for c in fake.guild_commands[fake.guild_id]}
    calc = _command(fake, "calc")
    add = next(o for o in calc["options"] if o["name"] == "add")
    assert add["type"] == 1  # subcommand
    options = {o["name"]: o for o in add["options"]}
    assert [o["name"] for o in add["options"]] == ["a", "b", "loud", "who"]
    assert options["a"] == {
        "type": 4, "name": "a", "description": "First", "required": True, "min_value": 1, "max_value": 10,
    }  # fmt: skip
    assert (options["b"]["type"], options["loud"]["type"], options["who"]["type"]) == (10, 5, 6)
    deep = next(o for o in calc["options"] if o["name"] == "deep")
    assert deep["type"] == 2 and deep["options"][0]["name"] == "size"  # subcommand group
    help_param = _command(fake, "help")["options"][0]
    assert help_param["autocomplete"] is True and help_param["required"] is False
    bind = next(o for o in _command(fake, "feed")["options"] if o["name"] == "bind")
    assert bind["options"][0]["max_length"] == 64


async def test_ping_and_help_are_answered(dc: DiscordTestBot) -> None:
    reply = await dc.ok(dc.owner, "/ping")
    assert reply.title == "🏓 Pong" and not reply.ephemeral
    assert "Database answered" in reply.text

    listing = await dc.ok(dc.owner, "/help")
    assert "`/ping`" in listing.text
    explained = await dc.ok(dc.owner, '/help "calc add"')
    assert explained.title == "/calc add"
    assert [f.name for f in explained.fields][:2] == ["a", "b (optional)"]


async def test_typed_options_subcommands_and_member_option(dc: DiscordTestBot) -> None:
    sam = dc.member("sam")
    reply = await dc.say(dc.owner, "/calc add 2 0.5 yes @sam")
    assert reply.text == f"2.5! for <@{sam.native.user.id}>"
    deep = await dc.say(dc.owner, "/calc deep size medium")
    assert deep.text == "size medium"


async def test_wrong_arguments_get_an_ephemeral_error(dc: DiscordTestBot) -> None:
    # Discord's client would stop these; the server must not trust it.
    out_of_range = await dc.say(dc.owner, "/calc add 11")
    assert out_of_range.ephemeral
    assert out_of_range.title == "⚠️ Not done"
    assert "`a`: must be at most 10" in out_of_range.text
    unknown = await dc.fails(dc.owner, "/help pnig")
    assert unknown.ephemeral and "Did you mean `/ping`?" in unknown.text


async def test_autocomplete_uses_the_declared_completer(dc: DiscordTestBot) -> None:
    fake = dc.fake
    response = await fake.wait_for_response(await fake.send_autocomplete("help", {"topic": "calc"}, "topic"))
    assert response["type"] == 8
    assert [c["value"] for c in response["data"]["choices"]] == ["calc add", "calc deep size"]
    sizes = await fake.wait_for_response(await fake.send_autocomplete("calc deep size", {"size": ""}, "size"))
    assert [c["name"] for c in sizes["data"]["choices"]] == ["small", "medium", "large"]


async def test_roles_and_permissions_map_to_command_permissions(dc: DiscordTestBot) -> None:
    fake = dc.fake
    plain = dc.member("plain")
    by_name = fake.add_member("named", roles=[fake.add_role("Moderator")])
    by_perm = fake.add_member("perm", roles=[fake.add_role("Helpers", PERM_MANAGE_MESSAGES)])
    denied = await dc.say(plain, "/modonly")
    assert denied.ephemeral and "for mods only" in denied.text
    named = await fake.wait_for_reply(await fake.send_command("modonly", user=by_name))
    assert "for mods only" in named.text()  # role names give nothing (#10): ids do, see test_roles.py
    ok = await fake.wait_for_reply(await fake.send_command("modonly", user=by_perm))
    assert ok.content == "hello mod"
    owner = await dc.say(dc.owner, "/modonly")  # the guild owner
    assert owner.text == "hello admin"
    admin = await dc.say(dc.member("boss", role=Permission.ADMIN), "/modonly")  # a role with Administrator
    assert admin.text == "hello admin"


async def test_slow_commands_are_deferred_then_edited(dc: DiscordTestBot) -> None:
    fake = dc.fake
    slow = await fake.send_command("slow")
    assert (await fake.wait_for_response(slow))["type"] == 5
    reply = await fake.wait_for_reply(slow)
    assert reply.embeds[0]["title"] == "Finally" and not reply.ephemeral

    secret = await fake.send_command("secret")
    deferred = await fake.wait_for_response(secret)
    assert deferred["type"] == 5 and deferred["data"]["flags"] & 64  # "thinking" shown only to the caller
    private = await fake.wait_for_reply(secret)
    assert private.content == "for your eyes only" and private.ephemeral


async def test_action_button_runs_its_command_for_the_presser(dc: DiscordTestBot) -> None:
    fake = dc.fake
    message = await fake.wait_for_reply(await fake.send_command("buttons"))
    buttons = message.buttons()
    assert [(b["label"], b.get("custom_id"), b.get("url")) for b in buttons] == [
        ("Ping it", "snpd:/ping", None),
        ("Shop", None, "https://example.com/j4"),
    ]
    sam = dc.member("sam")
    answer = await dc.press(sam, await dc.say(dc.owner, "/buttons"), "Ping it")
    assert answer.ephemeral and answer.title == "🏓 Pong"
    assert answer.raw.payload["interaction_metadata"]["user"]["id"] == str(sam.native.user.id)


# ---------------------------------------------------------------------------- posting


async def test_feed_bind_then_publish_reaches_the_channel_with_a_role_mention(dc: DiscordTestBot) -> None:
    fake = dc.fake
    drops = fake.add_role("Drops")
    bound = await fake.wait_for_reply(
        await fake.send_command("feed bind", {"feed": "restocks", "role": f"<@&{drops.id}>"})
    )
    assert not bound.ephemeral, bound.text()
    await dc.engine.feeds.publish("restocks", Reply(title="Jordan 4 Bred", text="Live now", url="https://x.test/j4"))
    await dc.engine.bus.drain()
    post = await fake.wait_for_message(fake.general.id, predicate=lambda m: m.source == "channel")
    assert post.content == f"<@&{drops.id}>"
    assert post.payload["mention_roles"] == [str(drops.id)]
    allowed = post.allowed_mentions or {}
    assert allowed.get("parse") == [] and [int(r) for r in allowed.get("roles", [])] == [drops.id]  # only the role
    assert post.embeds[0]["title"] == "Jordan 4 Bred" and post.embeds[0]["url"] == "https://x.test/j4"


async def test_post_to_a_thread_survives_a_rate_limit(dc: DiscordTestBot) -> None:
    fake = dc.fake
    thread = fake.add_thread(fake.general, "restocks-chat")
    fake.rate_limit_next("POST /channels/{channel_id}/messages", retry_after=0.3)
    await dc.frontend.post(DiscordChannel(channel_id=fake.general.id, thread_id=thread.id), Reply(text="@everyone hi"))
    post = await fake.wait_for_message(thread.id)
    assert post.content == "@everyone hi"
    assert post.allowed_mentions is not None and post.allowed_mentions.get("parse") == []  # nobody pinged
    assert [r.status for r in fake.requests_to("POST /channels/*/messages")] == [429, 200]


async def test_post_to_a_missing_channel_is_refused(dc: DiscordTestBot) -> None:
    with pytest.raises(DeliveryRefused):
        await dc.frontend.post(DiscordChannel(channel_id=123), Reply(text="nobody home"))


async def test_direct_messages_and_refused_dms(dc: DiscordTestBot) -> None:
    fake = dc.fake
    sam = fake.add_member("sam")
    await dc.frontend.send_direct(str(sam.user.id), Reply(title="Your raffle", text="You won!"))
    dm = await fake.wait_for_dm(sam.user.id)
    assert dm.embeds[0]["title"] == "Your raffle"
    await dc.frontend.send_direct(str(sam.user.id), Reply(text="and again"))
    assert (await fake.wait_for_dm(sam.user.id)).content == "and again"
    assert len(fake.requests_to("POST /users/@me/channels")) == 1  # the DM channel id is remembered

    closed: FakeMember = fake.add_member("closed")
    fake.refuse_dms(closed.user.id)
    with pytest.raises(DeliveryRefused) as refused:
        await dc.frontend.send_direct(str(closed.user.id), Reply(text="hello?"))
    assert refused.value.permanent and refused.value.platform == "discord"


# ---------------------------------------------------------------------------- resilience


async def test_gateway_drop_resumes_and_still_answers(dc: DiscordTestBot) -> None:
    fake = dc.fake
    await fake.drop_gateway()
    missed = await fake.send_command("ping")  # sent while the bot is offline: replayed on RESUME
    await fake.wait_connected(resumes=1)
    assert (await fake.wait_for_reply(missed)).embeds[0]["title"] == "🏓 Pong"
    after = await fake.wait_for_reply(await fake.send_command("ping"))
    assert after.embeds[0]["title"] == "🏓 Pong"
    assert fake.identifies == 1 and fake.resumes == 1


async def test_rate_limited_interaction_callback_is_retried(dc: DiscordTestBot) -> None:
    fake = dc.fake
    fake.rate_limit_next("POST /interactions/*", retry_after=0.2)
    reply = await fake.wait_for_reply(await fake.send_command("help", {"topic": "ping"}))
    assert reply.embeds[0]["title"] == "/ping"


# ---------------------------------------------------------------------------- rendering limits


def _fits(rendered: Any) -> None:
    """The fake applies Discord's limits; a rendered reply must pass them."""
    payload: dict[str, Any] = {"content": rendered.content, "embeds": [e.to_dict() for e in rendered.embeds]}
    if rendered.view is not None:
        payload["components"] = rendered.view.to_components()
    validate_message_payload(payload)


def test_plain_text_is_content_and_rich_replies_are_embeds() -> None:
    assert render(Reply(text="hi")).content == "hi" and not render(Reply(text="hi")).embeds
    rich = render(Reply(title="T", text="body", fields=[("a", "1")], footer="f", color=0x00FF00))
    assert rich.content is None and rich.embeds[0].title == "T" and rich.embeds[0].fields[0].value == "1"
    assert render(Reply()).content == "Done."


def test_oversized_replies_are_trimmed_within_discord_limits() -> None:
    huge = Reply(
        title="T" * 400,
        text="x" * 9000,
        fields=[ReplyField(name=f"f{i}", value="v" * 2000) for i in range(40)],
        footer="z" * 3000,
    )
    embed = build_embed(huge)
    assert len(embed.title or "") <= TITLE_LIMIT and (embed.title or "").endswith(TRIMMED)
    assert len(embed.description or "") <= DESCRIPTION_LIMIT and (embed.description or "").endswith(TRIMMED)
    assert len(embed.fields) <= FIELDS_LIMIT and all(len(f.value or "") <= FIELD_VALUE_LIMIT for f in embed.fields)
    assert len(embed) <= EMBED_TOTAL_LIMIT
    assert "trimmed" in (embed.fields[-1].value or "")
    _fits(render(huge))

    many_fields = build_embed(Reply(title="t", fields=[ReplyField(name=str(i), value="v") for i in range(30)]))
    assert len(many_fields.fields) == FIELDS_LIMIT and many_fields.fields[-1].value == "6 more fields (trimmed)"

    long_text = render(Reply(text="y" * (CONTENT_LIMIT + 1)))
    assert long_text.embeds and len(long_text.embeds[0].description or "") == CONTENT_LIMIT + 1
    mention = render(Reply(text="w" * 5000), mention="<@&1>")
    assert mention.content == "<@&1>"
    _fits(mention)

    blank = build_embed(Reply(title="t", fields=[ReplyField(name="", value="")]))
    _fits(render(Reply(title="t", fields=[ReplyField(name="", value="")])))
    assert blank.fields[0].name and blank.fields[0].value


def test_buttons_are_capped_and_labels_clipped() -> None:
    buttons = [Button(label="L" * 100, action=f"/ping {i}") for i in range(30)]
    rendered = render(Reply(text="pick", buttons=buttons))
    assert rendered.view is not None
    items = rendered.view.children
    assert len(items) == BUTTONS_LIMIT
    _fits(rendered)


async def test_rendered_long_reply_is_accepted_by_discord(dc: DiscordTestBot) -> None:
    fake = dc.fake
    await dc.frontend.post(
        DiscordChannel(channel_id=fake.general.id),
        Reply(title="Report", text="line\n" * 3000, fields=[(f"k{i}", "v" * 1500) for i in range(30)]),
    )
    post: RecordedMessage = await fake.wait_for_message(fake.general.id)
    assert TRIMMED in post.text()


async def test_links_discord_would_reject_are_dropped_not_fatal(dc: DiscordTestBot) -> None:
    fake = dc.fake
    item = Reply(
        title="Restock",
        text="Dunk Low at /products/dunk",
        url="/products/dunk",  # a scraped relative link
        image_url="javascript:alert(1)",
        buttons=[Button(label="Shop", url="/products/dunk"), Button(label="Real", url="https://shop.test/dunk")],
    )
    await dc.frontend.post(DiscordChannel(channel_id=fake.general.id), item)
    post = await fake.wait_for_message(fake.general.id)
    assert "url" not in post.embeds[0] and "image" not in post.embeds[0]
    assert [b["url"] for b in post.buttons()] == ["https://shop.test/dunk"]


async def test_a_long_rate_limit_surfaces_with_its_retry_after(dc: DiscordTestBot) -> None:
    """Short limits are waited out inside discord.py; a long one reaches the delivery worker, which
    reads ``retry_after`` to pause the channel instead of blocking a send for minutes."""
    fake = dc.fake
    sam = fake.add_member("sam")
    fake.rate_limit_next("POST /channels/*/messages", retry_after=120.0)
    with pytest.raises(discord.RateLimited) as limited:
        await dc.frontend.send_direct(str(sam.user.id), Reply(text="drop alert"))
    assert limited.value.retry_after == 120.0
