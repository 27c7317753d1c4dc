"""The local shell as an operator uses it: personal alerts shown as DMs, acting as another member,
the guided `/alerts add`, and a prompt that comes back after anything printed on its own."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from adapters.shell.frontend import PROMPT
from core.engine import Engine
from core.replies import Reply
from tests.adapters.shell.console import Console, Piped, notice_statuses, publish_event, restock_event
from tests.testbot import TestBot


@pytest.fixture
def console(sqlite_engine: Engine) -> Console:
    return Console(sqlite_engine)


# ---------------------------------------------------------------------------- item 2: alerts as DMs


async def test_the_shell_members_alert_is_printed_as_a_dm(console: Console) -> None:
    added = await console.say("/alerts add jordan 4 sizes:10")
    assert "Alert #1 added" in added
    assert "can't reach you" not in added

    await publish_event(console.engine, restock_event("e1", ("10",)))
    printed = await console.wait_for("[DM]")
    dm = printed[printed.index("[DM]") :]
    assert "Restock" in dm and "Air Jordan 4 Retro Bred" in dm
    assert await notice_statuses(console.engine) == ["queued"]


async def test_dms_off_is_told_at_add_and_in_profile(console: Console) -> None:
    await console.say("/settings dm:off")
    added = await console.say("/alerts add jordan 4")
    assert "Alert #1 added" in added
    assert "can't reach you" in added and "DMs are off" in added and "/settings dm:on" in added

    profile = await console.say("/profile")
    assert "Alerts reach: nobody" in profile and "DMs are off" in profile

    await console.say("/settings dm:on")
    assert "can't reach you" not in await console.say("/alerts add dunk low")
    assert "Alerts reach: Shell" in await console.say("/profile")


async def test_channels_sms_is_refused_where_sms_is_not_set_up(console: Console) -> None:
    refused = await console.say("/alerts add jordan 4 channels:sms priority:high")
    assert "channels" in refused and "SMS isn't set up on this server" in refused
    assert "None yet" in await console.say("/alerts list")

    await console.say("/alerts add jordan 4")
    edited = await console.say("/alerts edit 1 channels:discord,sms")
    assert "SMS isn't set up on this server" in edited
    assert "discord" not in (await console.say("/alerts list")).lower()


# ---------------------------------------------------------------------------- item 8: /as


async def test_as_acts_as_a_demo_member_and_returns(console: Console) -> None:
    assert "/admin deadletters" in await console.say("/help")

    switched = await console.say("/as @sam")
    assert "acting as @sam" in switched.lower()
    assert "/admin deadletters" not in await console.say("/help")
    assert "sam" in await console.say("/profile")
    assert "admins" in (await console.say("/admin deadletters")).lower()  # refused: admins only

    back = await console.say("/as me")
    assert "admin console" in back.lower()
    assert "Dead letters" in await console.say("/admin deadletters")


async def test_tips_and_leaderboards_between_shell_members(console: Console) -> None:
    await console.say("/as @sam")  # sam exists from here on, so @sam resolves
    await console.say("/as admin")
    granted = await console.say("/admin grant @sam 20 demo")
    assert "20" in granted
    await console.say("/as sam")
    tipped = await console.say("/laces tip @jo 5 thanks")
    assert "jo" in tipped.lower()  # jo is not a member yet: the tip names who it could not find
    await console.say("/as @jo")
    await console.say("/as @sam")
    assert "5" in await console.say("/laces tip @jo 5 thanks")
    board = await console.say("/laces leaderboard all")
    assert "sam" in board and "jo" in board


async def test_a_demo_members_alert_prints_as_a_dm_to_them(console: Console) -> None:
    await console.say("/as @sam")
    assert "can't reach you" not in await console.say("/alerts add jordan 4")
    await publish_event(console.engine, restock_event("e3"))
    printed = await console.wait_for("[DM to @sam]")
    assert "Air Jordan 4 Retro Bred" in printed[printed.index("[DM to @sam]") :]


async def test_as_will_not_pose_as_a_real_member(console: Console) -> None:
    others = TestBot(console.engine)
    await others.join(others.member("dana", "discord"))
    refused = await console.say("/as @dana")
    assert "real member (Discord)" in refused
    assert "Dead letters" in await console.say("/admin deadletters")  # still the operator


async def test_as_refuses_bad_names(console: Console) -> None:
    assert "name" in (await console.say("/as @no way")).lower()
    assert "acting as" in (await console.say("/as")).lower()  # says who you are


# ---------------------------------------------------------------------------- item 9: guided add


async def test_bare_alerts_add_is_guided_one_question_per_line(console: Console) -> None:
    first = await console.say("/alerts add")
    assert "New alert · 1/8" in first and "Keywords:" in first
    assert "Sizes:" in await console.say("jordan 4 bred")
    assert "Max price:" in await console.say("10, 10.5")
    again = await console.say("abc")
    assert "3/8" in again and "max_price" in again and "expected a number" in again
    assert "4/8" in await console.say("250")
    assert "Priority:" in await console.say("")  # an empty line skips an optional question
    for answer in ("high", "", "", ""):
        last = await console.say(answer)
    assert "check and save" in last and "jordan 4 bred" in last
    saved = await console.say("save")
    assert "Alert #1 added" in saved
    listed = await console.say("/alerts list")
    assert "jordan" in listed and "250" in listed


async def test_guided_add_can_be_cancelled(console: Console) -> None:
    await console.say("/alerts add")
    await console.say("jordan")
    assert "Cancelled" in await console.say("/cancel")
    assert "None yet" in await console.say("/alerts list")


async def test_help_alerts_lists_the_sub_commands(console: Console) -> None:
    answer = await console.say("/help alerts")
    for sub in ("add", "list", "edit", "pause", "resume", "delete", "test"):
        assert f"/alerts {sub}" in answer


# ---------------------------------------------------------------------------- item 11: prompt


@contextlib.asynccontextmanager
async def running_repl(engine: Engine) -> AsyncIterator[tuple[Console, Piped]]:
    piped = Piped()
    console = Console(engine, stdin=piped.reader)
    repl = asyncio.create_task(console.shell.repl())
    try:
        await console.wait_for(PROMPT)
        yield console, piped
    finally:
        piped.type("/quit")
        await asyncio.wait_for(repl, 5)
        piped.close()


async def test_prompt_is_printed_again_after_a_feed_post(sqlite_engine: Engine) -> None:
    async with running_repl(sqlite_engine) as (console, _piped):
        item = Reply(title="Restock: Dunk Low", text="Back in stock: 10")
        await sqlite_engine.bus.publish("feed.post", {"feed": "restocks", "item": item.model_dump(mode="json")})
        await sqlite_engine.bus.drain()
        printed = await console.wait_for("Restock: Dunk Low")
        assert printed.rstrip(" ").endswith(PROMPT.rstrip(" ")), printed[-200:]


async def test_prompt_is_printed_again_after_a_dm(sqlite_engine: Engine) -> None:
    async with running_repl(sqlite_engine) as (console, piped):
        piped.type("/alerts add jordan 4")
        await console.wait_for("Alert #1 added")
        await publish_event(sqlite_engine, restock_event("e2"))
        printed = await console.wait_for("[DM]")
        await asyncio.sleep(0.2)
        printed = console.printed
        assert printed.rstrip(" ").endswith(PROMPT.rstrip(" ")), printed[-200:]
