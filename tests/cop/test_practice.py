"""/cop practice through the engine (``dispatch_line``), on SQLite and PostgreSQL: the random opening,
the checkout steps, the server-side time and the personal best, and every way a press is refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Connection

from core.replies import Reply
from tests.cop.helpers import clocked, drop_messages, drop_row, entries, latest_drop, open_now, sections
from tests.testbot import TestBot, is_error


async def _bot(make_bot: Any, **cop: Any) -> TestBot:
    bot: TestBot = await make_bot(**sections(**cop))
    bot.member("alice", "shell", external_id="as:alice")
    bot.member("bob", "shell", external_id="as:bob")
    return bot


async def _drop_message(bot: TestBot) -> Reply:
    """The drop message the opening queued for the member (what the delivery worker sends)."""
    rows = await drop_messages(bot.engine)
    assert rows, "no drop message was queued"
    return Reply.model_validate(rows[-1].payload)


async def _to_confirm(bot: TestBot, who: str, live: Reply, size: str = "US 10") -> str:
    """Size, cart, checkout: returns the code shown."""
    sized = await bot.press(who, live, size)
    carted = await bot.press(who, sized, "Add to cart")
    shown = await bot.press(who, carted, "Checkout")
    code = shown.text.rsplit("/cop confirm ", 1)[1].strip("`")
    assert len(code) == 4, shown.text
    return code


async def test_the_tables_match_the_models(make_bot: Any) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from core.storage.metadata import all_metadata

    bot = await _bot(make_bot)

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return [d for d in compare_metadata(context, all_metadata()) if "cop_" in repr(d)]

    async with bot.engine.db.engine.connect() as connection:
        assert await connection.run_sync(diff) == []


async def test_a_practice_run_opens_at_random_and_is_timed_from_the_drop_message(make_bot: Any) -> None:
    bot = await _bot(make_bot)
    _cop, clock = clocked(bot.engine)
    started = clock()
    armed = await bot.ok("alice", "/cop practice")
    assert "random moment between 5 s and 25 s" in armed.text and armed.ephemeral
    drop = await latest_drop(bot.engine)
    assert started + timedelta(seconds=5) <= drop.opens_at <= started + timedelta(seconds=26)
    assert drop.status == "scheduled" and await drop_messages(bot.engine) == []

    early = await bot.fails("alice", f"/cop size {drop.id} 10", "hasn't opened yet")
    assert "doesn't count" in early.text and await entries(bot.engine, drop.id) == []

    await open_now(bot.engine, clock, drop.id)
    live = await _drop_message(bot)
    assert live.title is not None and live.title.startswith("🔥 LIVE")
    assert [b.label for b in live.buttons][:3] == ["US 7", "US 8", "US 8.5"]
    code = await _to_confirm(bot, "alice", live)
    clock.advance(8)  # alice takes 8 s over the steps, besides the real time the test takes
    result = await bot.ok("alice", f"/cop confirm {code.lower()}")  # the code is not case-sensitive
    (entry,) = await entries(bot.engine, drop.id)
    assert entry.outcome == "practice" and 8000 <= (entry.elapsed_ms or 0) < 13000
    assert result.title == f"✅ Checked out in {(entry.elapsed_ms or 0) / 1000:.2f} s"
    assert "first timed run" in result.text
    assert (await drop_row(bot.engine, drop.id)).status == "closed"

    await bot.ok("alice", "/cop practice")
    second = await latest_drop(bot.engine)
    await open_now(bot.engine, clock, second.id)
    code = await _to_confirm(bot, "alice", await _drop_message(bot), "US 9")
    clock.advance(2.0)
    faster = await bot.ok("alice", f"/cop confirm {code}")
    assert f"New personal best! Your previous best was {(entry.elapsed_ms or 0) / 1000:.2f} s" in faster.text
    (fast,) = await entries(bot.engine, second.id)
    await bot.ok("alice", "/cop practice")
    third = await latest_drop(bot.engine)
    await open_now(bot.engine, clock, third.id)
    code = await _to_confirm(bot, "alice", await _drop_message(bot))
    clock.advance(14.0)
    slower = await bot.ok("alice", f"/cop confirm {code}")
    assert f"Your best is {(fast.elapsed_ms or 0) / 1000:.2f} s (+" in slower.text


async def test_openings_are_drawn_on_the_server_and_differ(make_bot: Any) -> None:
    bot = await _bot(make_bot)
    for n in range(6):
        bot.member(f"m{n}", "shell", external_id=f"as:m{n}")
        await bot.ok(f"m{n}", "/cop practice")
    drops = [await drop_row(bot.engine, drop_id) for drop_id in range(1, 7)]
    delays = {round((d.opens_at - d.created_at).total_seconds(), 3) for d in drops}
    assert len(delays) == 6 and all(5 <= delay <= 25 for delay in delays)


async def test_double_taps_and_stale_buttons_change_nothing(make_bot: Any) -> None:
    bot = await _bot(make_bot)
    _cop, clock = clocked(bot.engine)
    await bot.ok("alice", "/cop practice")
    drop = await latest_drop(bot.engine)
    await open_now(bot.engine, clock, drop.id)
    live = await _drop_message(bot)

    sized = await bot.press("alice", live, "US 10")
    again = await bot.press("alice", live, "US 10")
    assert not is_error(again) and "already done" in again.text
    other = await bot.press("alice", live, "US 11")
    assert "One entry per member: you already picked US 10" in other.text
    (entry,) = await entries(bot.engine, drop.id)
    assert (entry.size, entry.step) == ("10", "sized")

    await bot.fails("alice", f"/cop checkout {drop.id}", "Do the steps in order")
    carted = await bot.press("alice", sized, "Add to cart")
    twice = await bot.press("alice", sized, "Add to cart")
    assert "already done" in twice.text and [b.label for b in twice.buttons] == ["Checkout"]
    shown = await bot.press("alice", carted, "Checkout")
    shown_again = await bot.press("alice", carted, "Checkout")
    code = shown.text.rsplit("/cop confirm ", 1)[1].strip("`")
    assert code in shown_again.text  # the same code, not a new one

    await bot.fails("alice", "/cop confirm ZZZZ", "2 tries left")
    await bot.ok("alice", f"/cop confirm {code}")
    await bot.fails("alice", f"/cop confirm {code}", f"already checked out of drop #{drop.id}")
    stale = await bot.press("alice", sized, "Add to cart")
    assert "You already checked out of this drop" in stale.text
    (entry,) = await entries(bot.engine, drop.id)
    assert (entry.step, entry.wrong_codes, entry.outcome) == ("done", 1, "practice")


async def test_wrong_codes_void_the_entry(make_bot: Any) -> None:
    bot = await _bot(make_bot, max_wrong_codes=2)
    _cop, clock = clocked(bot.engine)
    await bot.ok("alice", "/cop practice")
    drop = await latest_drop(bot.engine)
    await open_now(bot.engine, clock, drop.id)
    code = await _to_confirm(bot, "alice", await _drop_message(bot))
    wrong = "AAAA" if code != "AAAA" else "BBBB"
    await bot.fails("alice", f"/cop confirm {wrong}", "1 try left")
    await bot.fails("alice", f"/cop confirm {wrong}", "last try")
    await bot.fails("alice", f"/cop confirm {code}", "void after too many wrong codes")
    (entry,) = await entries(bot.engine, drop.id)
    assert (entry.step, entry.outcome, entry.elapsed_ms) == ("void", "void", None)


async def test_someone_elses_drop_a_second_run_and_a_closed_drop_are_refused(make_bot: Any) -> None:
    bot = await _bot(make_bot, practice_window_s=30)
    _cop, clock = clocked(bot.engine)
    await bot.ok("alice", "/cop practice")
    drop = await latest_drop(bot.engine)
    await bot.fails("alice", "/cop practice", f"Practice drop #{drop.id} is still running")
    await open_now(bot.engine, clock, drop.id)
    await bot.fails("bob", f"/cop size {drop.id} 10", "someone else's practice run")
    await bot.fails("alice", f"/cop size {drop.id} 14", "isn't in drop")
    await bot.fails("alice", f"/cop cart {drop.id}", "Pick a size")
    await bot.fails("alice", "/cop confirm ABCD", "Nothing to confirm")
    await bot.fails("alice", "/cop size 999 10", "No cop drop #999")

    clock.advance(31)
    await bot.engine.service(type(_cop)).sweep()
    assert (await drop_row(bot.engine, drop.id)).status == "closed"
    late = await bot.press("alice", await _drop_message(bot), "US 10")
    assert is_error(late) and f"Drop #{drop.id} closed at" in late.plain_text()
    assert await entries(bot.engine, drop.id) == []
    await bot.ok("alice", "/cop practice")  # the closed run no longer blocks a new one


async def test_a_checkout_after_the_window_closed_is_recorded_late(make_bot: Any) -> None:
    bot = await _bot(make_bot, practice_window_s=30)
    _cop, clock = clocked(bot.engine)
    await bot.ok("alice", "/cop practice")
    drop = await latest_drop(bot.engine)
    await open_now(bot.engine, clock, drop.id)
    code = await _to_confirm(bot, "alice", await _drop_message(bot))
    clock.advance(31)
    await bot.fails("alice", f"/cop confirm {code}", "before your checkout. It doesn't count")
    (entry,) = await entries(bot.engine, drop.id)
    assert entry.outcome == "late"


async def test_practice_needs_a_channel_with_buttons_and_dms(make_bot: Any) -> None:
    bot = await _bot(make_bot)
    await bot.ok("alice", "/settings dm:off")
    await bot.fails("alice", "/cop practice", "DMs are off")
    bot.member("pat", "sms")
    reply = await bot.say("pat", "/cop practice")
    assert is_error(reply) and "not available on sms" in reply.plain_text()


async def test_a_named_pair_comes_from_the_catalog(make_bot: Any, tmp_path: Any) -> None:
    from bot.market import Market
    from tests.market.data import PRODUCTS, write

    bot = await _bot(make_bot)
    market = bot.engine.service(Market)
    await market.import_file(str(write(tmp_path, "products.csv", PRODUCTS)))
    await market.refresh(force=True)
    armed = await bot.ok("alice", "/cop practice jordan 4 military black gs")
    assert "Military Black (GS)" in (armed.title or "")
    drop = await latest_drop(bot.engine)
    assert drop.catalog_id is not None and drop.sizes[0] == "3.5Y"
    await bot.fails("bob", "/cop practice qqqqzzzz", "Nothing in the catalog matches")

