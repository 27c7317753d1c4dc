"""Reminders on SQLite and PostgreSQL: waves planned so the last member has it by the due time,
written once (a second tick or a restart adds nothing), moved with the release, retired on cancel;
delivered through the outbox to the member's channel; the prep checklist and its stale buttons."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.drops.models import DropFanout
from bot.drops.reminders import ReminderPlanner
from core.commands import Permission
from core.delivery.models import EXPIRED, PENDING
from tests.drops.helpers import console, drops, outbox, release_text, soon, stock_catalog
from tests.testbot import TestBot


async def _add(bot: TestBot, mod: Any, minutes: float) -> int:
    when = release_text(soon(minutes))
    await bot.ok(mod, f'/drop add jordan 4 pine green when:"{when}" retailers:"Nike SNKRS:app"')
    [drop] = await drops(bot.engine).upcoming()
    return drop.id


async def test_waves_are_planned_once_to_arrive_before_due(
    make_bot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELEGRAM_TOKEN", "123:fake")  # Telegram serves, but nothing sends in this test
    bot = await make_bot(drops={"plan_ahead_s": 1800})
    engine = bot.engine
    await stock_catalog(engine, tmp_path)
    mod = bot.member("mia", "telegram", Permission.MOD)
    drop_id = await _add(bot, mod, 30)
    members = [bot.member(f"m{i}", "telegram") for i in range(40)]
    first = await bot.ok(members[0], f"/remind {drop_id} 1h,20m")
    assert "Already past: 1h" in first.text
    for member in members[1:]:
        await bot.ok(member, f"/remind {drop_id} 20m")
    service = drops(engine)
    assert await service.planner.plan() == 40
    rows = await outbox(engine)
    drop = await service.get(drop_id)
    due = drop.release_at - timedelta(minutes=20)
    rate = service.planner._rates("telegram") * service.settings.rate_share
    needed = service.settings.guard_s + 40 / rate  # 3 s + 40 messages at 80% of Telegram's 28.5/s
    lead = min(service.settings.arrival_window_s - 1, needed * service.settings.slack)
    assert needed < lead < 60
    assert {row.channel for row in rows} == {"telegram"}
    assert all(abs((due - row.next_attempt_at).total_seconds() - lead) < 0.01 for row in rows)
    assert all(row.expires_at == drop.release_at for row in rows)  # never after the drop starts
    assert len({row.key for row in rows}) == 40

    assert await service.planner.plan() == 0  # the next tick
    restarted = ReminderPlanner(
        engine.db,
        service.settings,
        rates=lambda c: 1.0,
        platforms=lambda: {"telegram"},
        validity_s={},
        wake=lambda: None,
    )
    assert await restarted.plan() == 0  # a restart writes nothing twice
    late = bot.member("late", "telegram")
    await bot.ok(late, f"/remind {drop_id} 20m")  # joins the wave already planned
    assert len(await outbox(engine)) == 41

    later = release_text(drop.release_at + timedelta(days=1))
    await bot.ok(mod, f'/drop edit {drop_id} when:"{later}"')
    moved = await outbox(engine)
    assert {row.status for row in moved} == {EXPIRED} and "moved" in (moved[0].last_error or "")
    async with engine.db.read() as session:
        assert await session.get(DropFanout, 1) is None
    back = release_text(soon(29))
    await bot.ok(mod, f'/drop edit {drop_id} when:"{back}"')  # plans at once, within the minute
    fresh = [row for row in await outbox(engine) if row.status == PENDING]
    assert len(fresh) == 41 and not {row.key for row in fresh} & {row.key for row in moved}

    await bot.ok(mod, f"/drop cancel {drop_id}")
    after = await outbox(engine)
    notices = [row for row in after if row.group_key.startswith(f"drops:cancel-{drop_id}-")]
    assert len(notices) == 41 and all(row.status == PENDING for row in notices)
    assert all(row.status == EXPIRED for row in after if row not in notices)
    await bot.fails(members[0], f"/remind {drop_id}", "was cancelled")


async def test_bad_offsets_change_nothing(bot: TestBot, tmp_path: Path) -> None:
    await stock_catalog(bot.engine, tmp_path)
    mod = bot.member("mia", "discord", Permission.MOD)
    drop_id = await _add(bot, mod, 600)
    ann = bot.member("ann")
    await bot.fails(ann, f"/remind {drop_id} -5m", "drop the minus")
    await bot.fails(ann, f"/remind {drop_id} 99y", "not an offset")
    await bot.fails(ann, f"/remind {drop_id} offsets:garbage", "not an offset")
    await bot.fails(ann, f"/remind {drop_id} 45d", "more than 30 days")
    await bot.fails(ann, "/remind 9999", "No drop #9999")
    await bot.fails(ann, "/remind yeezy foam runner", "No upcoming drop matches")
    assert await drops(bot.engine).reminders_of(await bot.member_id(ann)) == []


async def _printed(out: Any, text: str) -> str:
    for _ in range(400):
        if text in out.getvalue():
            return str(out.getvalue())
        await asyncio.sleep(0.025)
    raise AssertionError(f"{text!r} never printed; got {out.getvalue()[-600:]!r}")


async def test_reminder_reaches_the_member_with_the_checklist(bot: TestBot, tmp_path: Path) -> None:
    engine = bot.engine
    await stock_catalog(engine, tmp_path)
    out = console(engine)
    mod = bot.member("mia", "discord", Permission.MOD)
    drop_id = await _add(bot, mod, 9)  # the 10m reminder is due now
    ann = bot.member("ann")
    await bot.ok(ann, "/settings timezone:Europe/Paris")
    await bot.ok(ann, f"/prep {drop_id} size")
    set_up = await bot.ok(ann, "/remind jordan 4 pine green priority:high")
    assert "Already past: 1d, 1h" in set_up.text and "high priority" in set_up.text
    await drops(engine).planner.plan()
    shown = await _printed(out, "⏰ Jordan 4 Retro SB Pine Green drops in")
    assert "CET" in shown and "Still to do: Account logged in, Payment ready, Raffles entered" in shown
    assert "Size chosen," not in shown.split("Still to do:")[1].split("\n")[0]

    ticked = await bot.ok(ann, f"/prep {drop_id} payment")
    assert "✅ Payment ready" in ticked.text and "✅ Size chosen" in ticked.text
    await bot.ok(mod, f"/drop cancel {drop_id}")
    await _printed(out, "❌ Cancelled: Jordan 4 Retro SB Pine Green")
    stale = await bot.press(ann, ticked, "✅ Account logged in")
    assert "stale" in stale.text and "cancelled" in stale.text
    await bot.fails(ann, "/prep 4242 size", "no longer exists")
