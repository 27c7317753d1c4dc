"""The fake Discord speaks the protocol the real discord.py expects.

These tests use discord.py directly (no SNPD code) so a failure here points at the fake, not the adapter.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
from discord import app_commands

from tests.fakes.discord_api import FakeDiscord, point_discord_py_at


class Bot(discord.Client):
    """A minimal bot: /ping, /echo, /feed bind (a group), and a button whose press is answered."""

    def __init__(self, *, members: bool = False) -> None:
        intents = discord.Intents.default()
        intents.members = members  # privileged: only then does Discord send the member list
        super().__init__(intents=intents, guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)
        self.pressed: list[str] = []
        self.resumed = asyncio.Event()

        @self.tree.command(name="ping", description="Pong?")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("pong")

        @self.tree.command(name="echo", description="Say it back")
        @app_commands.describe(text="What to say", times="How often")
        async def echo(interaction: discord.Interaction, text: str, times: int = 1) -> None:
            view = discord.ui.View(timeout=None)
            view.add_item(discord.ui.Button(label="Again", custom_id="again"))
            await interaction.response.send_message(" ".join([text] * times), view=view)

        async def feeds(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            names = ["restocks", "raffles", "drops"]
            return [app_commands.Choice(name=n, value=n) for n in names if n.startswith(current)]

        feed = app_commands.Group(name="feed", description="Feeds")

        @feed.command(name="bind", description="Bind a feed here")
        @app_commands.autocomplete(name=feeds)
        async def bind(interaction: discord.Interaction, name: str, role: discord.Member | None = None) -> None:
            await interaction.response.defer(ephemeral=True, thinking=True)
            who = role.display_name if role else "nobody"
            await interaction.followup.send(f"bound {name} for {who}", ephemeral=True)

        self.tree.add_command(feed)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type is discord.InteractionType.component:
            data: dict[str, Any] = dict(interaction.data or {})
            custom_id = str(data.get("custom_id"))
            self.pressed.append(custom_id)
            await interaction.response.send_message(f"pressed {custom_id}", ephemeral=True)

    async def on_resumed(self) -> None:
        self.resumed.set()


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        with point_discord_py_at(server):
            yield server


@contextlib.asynccontextmanager
async def running(fake: FakeDiscord, client: discord.Client) -> AsyncIterator[discord.Client]:
    await client.login(fake.token)
    task = asyncio.create_task(client.connect(reconnect=True))
    try:
        await asyncio.wait_for(client.wait_until_ready(), 5)
        yield client
    finally:
        await client.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)


async def test_client_logs_in_connects_and_sees_the_guild(fake: FakeDiscord) -> None:
    mod = fake.add_role("Mod", 1 << 13)
    sam = fake.add_member("sam", roles=[mod])
    async with running(fake, Bot(members=True)) as client:
        assert client.user is not None and client.user.id == fake.bot_user.id
        assert client.application_id == fake.application_id
        guild = client.get_guild(fake.guild_id)
        assert guild is not None and not guild.unavailable
        assert guild.get_channel(fake.general.id) is not None
        member = guild.get_member(sam.user.id)
        assert member is not None and [r.name for r in member.roles] == ["@everyone", "Mod"]
        assert guild.me is not None
    assert fake.identifies == 1
    assert fake.connections[0].compress == "zlib-stream"  # discord.py asks for it; the fake obliges


async def test_command_sync_and_slash_command_answered(fake: FakeDiscord) -> None:
    bot = Bot()
    async with running(fake, bot):
        guild = discord.Object(fake.guild_id)
        bot.tree.copy_global_to(guild=guild)
        synced = await bot.tree.sync(guild=guild)
        assert sorted(c.name for c in synced) == ["echo", "feed", "ping"]
        assert all(c.id for c in synced)

        ping = await fake.send_command("ping")
        reply = await fake.wait_for_reply(ping)
        assert reply.content == "pong" and not reply.ephemeral

        echo = await fake.send_command("echo", {"text": "hi", "times": 3})
        reply = await fake.wait_for_reply(echo)
        assert reply.content == "hi hi hi"
        assert [b["custom_id"] for b in reply.buttons()] == ["again"]
        in_channel = await fake.wait_for_message(fake.general.id)
        assert in_channel.id in (ping.original.id, echo.original.id)  # type: ignore[union-attr]

        press = await fake.press_button(reply, "again")
        answer = await fake.wait_for_reply(press)
        assert answer.content == "pressed again" and answer.ephemeral
        assert bot.pressed == ["again"]


async def test_subcommand_with_user_option_defer_and_followup(fake: FakeDiscord) -> None:
    sam = fake.add_member("sam")
    bot = Bot()
    async with running(fake, bot):
        await bot.tree.sync()  # global this time
        assert {c["name"] for c in fake.global_commands} == {"echo", "feed", "ping"}
        interaction = await fake.send_command("feed bind", {"name": "restocks", "role": sam})
        assert (await fake.wait_for_response(interaction))["type"] == 5  # deferred, thinking
        reply = await fake.wait_for_reply(interaction)
        assert reply.content == "bound restocks for sam" and reply.ephemeral


async def test_autocomplete(fake: FakeDiscord) -> None:
    bot = Bot()
    async with running(fake, bot):
        await bot.tree.sync()
        interaction = await fake.send_autocomplete("feed bind", {"name": "r"}, focused="name")
        response = await fake.wait_for_response(interaction)
        assert response["type"] == 8
        assert [c["value"] for c in response["data"]["choices"]] == ["restocks", "raffles"]


async def test_gateway_drop_resumes_and_replays_missed_events(fake: FakeDiscord) -> None:
    bot = Bot()
    async with running(fake, bot):
        await bot.tree.sync()
        await fake.drop_gateway()
        # Sent while the bot is offline: Discord queues it and replays it on RESUME.
        missed = await fake.send_command("ping")
        await asyncio.wait_for(bot.resumed.wait(), 5)
        reply = await fake.wait_for_reply(missed)
        assert reply.content == "pong"
        assert fake.identifies == 1 and fake.resumes == 1
        assert fake.connections[-1].path == "/resume-gateway"  # used READY's resume_gateway_url
        after = await fake.send_command("ping")
        assert (await fake.wait_for_reply(after)).content == "pong"


async def test_unknown_session_is_invalidated_and_client_identifies_again(fake: FakeDiscord) -> None:
    bot = Bot()
    async with running(fake, bot):
        fake._sessions.clear()  # the server forgot the session, as after a long outage
        await fake.drop_gateway()
        await fake.wait_connected(timeout=10)
        assert fake.identifies == 2 and fake.resumes == 0


async def test_429_retry_after_is_honoured(fake: FakeDiscord) -> None:
    async with running(fake, Bot()) as client:
        channel = client.get_channel(fake.general.id)
        assert isinstance(channel, discord.TextChannel)
        fake.rate_limit_next("POST /channels/{channel_id}/messages", retry_after=0.4)
        await channel.send("after the limit")
        attempts = fake.requests_to("POST /channels/*/messages")
        assert [a.status for a in attempts] == [429, 200]
        assert attempts[1].at - attempts[0].at >= 0.39  # waited retry_after (clock slack aside)
        assert (await fake.wait_for_message(fake.general.id)).content == "after the limit"


async def test_global_429_and_5xx_are_retried(fake: FakeDiscord) -> None:
    async with running(fake, Bot()) as client:
        channel = client.get_channel(fake.general.id)
        assert isinstance(channel, discord.TextChannel)
        fake.rate_limit_next("POST /channels/*/messages", retry_after=0.2, is_global=True)
        fake.fail_next("POST /channels/*/messages", status=502)
        await channel.send("eventually")
        statuses = [a.status for a in fake.requests_to("POST /channels/*/messages")]
        assert statuses == [429, 502, 200]


async def test_closed_dms_answer_50007(fake: FakeDiscord) -> None:
    sam = fake.add_member("sam")
    fake.refuse_dms(sam.user.id)
    async with running(fake, Bot()) as client:
        user = await client.fetch_user(sam.user.id)
        with pytest.raises(discord.Forbidden) as refused:
            await user.send("hello")
        assert refused.value.code == 50007


async def test_limits_are_enforced_like_discord(fake: FakeDiscord) -> None:
    async with running(fake, Bot()) as client:
        channel = client.get_channel(fake.general.id)
        assert isinstance(channel, discord.TextChannel)
        with pytest.raises(discord.HTTPException) as too_long:
            await channel.send("x" * 2001)
        assert too_long.value.code == 50035
        with pytest.raises(discord.HTTPException) as big_embed:
            await channel.send(embed=discord.Embed(title="t", description="d" * 4097))
        assert big_embed.value.code == 50035


async def test_member_roles_change_and_gateway_reports_it(fake: FakeDiscord) -> None:
    drops = fake.add_role("Drops")
    sam = fake.add_member("sam")
    async with running(fake, Bot(members=True)) as client:
        guild = client.get_guild(fake.guild_id)
        assert guild is not None
        member = guild.get_member(sam.user.id)
        role = guild.get_role(drops.id)
        assert member is not None and role is not None
        await member.add_roles(role)
        assert fake.members[sam.user.id].roles == [drops.id]
        await asyncio.sleep(0.05)
        assert role in member.roles  # GUILD_MEMBER_UPDATE reached the cache
        await member.remove_roles(role)
        assert fake.members[sam.user.id].roles == []


async def test_bad_token_is_a_login_failure(fake: FakeDiscord) -> None:
    client = Bot()
    with pytest.raises(discord.LoginFailure):
        await client.login("wrong")
    await client.close()
