"""``snpd bench drops``: 10,000 members with a reminder due at the same moment, over Discord DMs,
Telegram and SMS against the local fake servers with the platform limits enforced; and an .ics feed
of 500 drops with edits and cancellations, parsed back by two independent parsers.

Limits are scaled exactly as the alerts benchmark scales them (``bench.alerts.SCALE``, ×5 on the
servers and in the bot's limiters alike; members split across the platforms in proportion to their
limits), and the arrival window is the real one: a reminder is on time if it arrives within the 60
seconds before it is due. At ×5 the whole wave takes about 40 s at the limits, so it fits that
minute; at the real limits the same 10,000 need about 3.3 minutes (Discord DMs 23.75/s, Telegram
28.5/s, SMS 0.95/s per number), and the planner starts the wave that much earlier instead (arrivals
then spread over the 3.3 minutes before the due time, none after it).

The wave is planned the way the bot plans every wave (``ReminderPlanner.plan``): outbox rows written
ahead, with a not-before time per channel so the channel's share finishes ``guard_s`` before due at
``rate_share`` of the limiter's rate. Arrival times are taken where the platform sees them: the fake
servers' clocks when they admitted each message (Discord: the message's own timestamp; Telegram and
Twilio: their admission log), in the servers' process.

``on_time_share``: arrived in [due - 60 s, due]; ``late_p99_s``: the 99th percentile of how late
(0 when on time); ``early_max_s``: the earliest arrival, seconds before due; ``http_429``: rate-limit
refusals across the three servers. ``ics_valid``: the feed parses with icalendar and with vobject,
every drop is in it once with its SEQUENCE and STATUS (``ics_errors`` lists any failure).
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.alerts import SCALE, _free_port

MEMBERS = int(os.environ.get("SNPD_BENCH_MEMBERS", "10000"))
WINDOW_S = 60.0
#: seconds from set-up done to the first message of the wave: planning 10,000 rows takes a few
#: seconds (the bot writes rows ``plan_ahead_s`` ahead, a minute by default; the bench waits less)
PLAN_S = 12.0
ICS_DROPS = 500


# ---------------------------------------------------------------------------- the servers' process


def serve(conn: Any, scale: float, discord_users: int) -> None:
    """Child process: the three limit-enforcing fakes; reports each message's arrival (epoch)."""
    asyncio.run(_serve(conn, scale, discord_users))


async def _serve(conn: Any, scale: float, discord_users: int) -> None:
    from tests.fakes.strict_limits import StrictFakes

    fakes = await StrictFakes.start(scale, discord_users)
    discord, telegram, twilio = fakes.discord, fakes.telegram, fakes.twilio
    conn.send(fakes.connection())
    loop = asyncio.get_running_loop()
    while await loop.run_in_executor(None, conn.recv) == "progress":
        conn.send(len(discord.messages) + len(telegram.sent) + len(twilio.sent))
    to_epoch = time.time() - time.monotonic()
    dms = [m for m in discord.messages if (c := discord.channels.get(m.channel_id)) is not None and c.type == 1]
    conn.send(
        {
            "arrivals": {
                "discord": [datetime.fromisoformat(m.payload["timestamp"]).timestamp() for m in dms],
                "telegram": [t + to_epoch for t in telegram.sends],
                "sms": [t + to_epoch for t in twilio.sends],
            },
            "rejected": {"discord": discord.rejected, "telegram": telegram.rejected, "sms": twilio.rejected},
        }
    )
    await fakes.close()


# ---------------------------------------------------------------------------- the wave


def _split(members: int) -> dict[str, int]:
    """Members in proportion to each platform's rate (a first Discord DM costs two requests)."""
    rates = {"discord": 50 * 0.95 / 2, "telegram": 30 * 0.95, "sms": 1 * 0.95}
    sms = max(1, round(members * rates["sms"] / sum(rates.values())))
    discord = round((members - sms) * rates["discord"] / (rates["discord"] + rates["telegram"]))
    return {"discord": discord, "telegram": members - sms - discord, "sms": sms}


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else 0.0


async def bench_wave() -> dict[str, Any]:
    import multiprocessing

    from sqlalchemy import insert, select

    from adapters.discord.frontend import DiscordFrontend
    from adapters.sms.frontend import SmsFrontend
    from adapters.telegram.frontend import TelegramFrontend
    from bot.delivery import Delivery
    from bot.drops.models import DropReminder
    from bot.drops.service import Drops, NewDrop
    from bot.slices import load_config, load_models
    from core.crypto import new_key
    from core.delivery.models import CLAIMED, PENDING, SENDING
    from core.delivery.outbox import counts
    from core.frontend import Frontend
    from core.replies import Reply
    from core.storage.models import Identity, Member
    from core.storage.types import utcnow
    from snpd.app import build_engine
    from tests.fakes.twilio_api import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN

    split = _split(MEMBERS)
    loop = asyncio.get_running_loop()
    context = multiprocessing.get_context("spawn")
    conn, child_conn = context.Pipe()
    servers = context.Process(target=serve, args=(child_conn, SCALE, split["discord"] + 1), daemon=True)
    servers.start()
    info = await loop.run_in_executor(None, conn.recv)
    os.environ.update(
        DISCORD_TOKEN=info["discord_token"],
        TELEGRAM_TOKEN=info["telegram_token"],
        TWILIO_ACCOUNT_SID=DEFAULT_ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=DEFAULT_AUTH_TOKEN,
        SNPD_ENCRYPTION_KEY=os.environ.get("SNPD_ENCRYPTION_KEY") or new_key(),
    )
    workdir = tempfile.mkdtemp(prefix="snpd-bench-drops-")
    (Path(workdir) / "bot.toml").write_text("", encoding="utf-8")
    load_models()
    config = load_config(
        Path(workdir) / "bot.toml",
        overrides={
            "bot": {"data_dir": workdir, "log_level": "WARNING"},
            "discord": {"api_base": info["discord_api_base"], "guild_ids": [info["guild_id"]]},
            "telegram": {"api_base": f"http://127.0.0.1:{info['telegram_port']}", "poll_timeout": 1},
            "sms": {
                "from_number": "+14155550100",
                "webhook_port": _free_port(),
                "public_url": "http://127.0.0.1/sms",
                "api_base": info["twilio_base"],
            },
            "delivery": {"rate_scale": SCALE, "discord_requests_per_dm": 2, "send_concurrency": 8},
            "drops": {"planner_s": 60, "plan_ahead_s": 600},
        },
    )
    engine = build_engine(config)
    await engine.start()
    vault = engine.vault
    assert vault is not None
    *discord_users, warmup_user = info["users"]
    plan: list[tuple[str, str]] = [("discord", user) for user in discord_users]
    plan += [("telegram", str(500_000 + i)) for i in range(split["telegram"])]
    plan += [("sms", f"+1415{7_000_000 + i}") for i in range(split["sms"])]
    now = utcnow()
    async with engine.db.transaction() as session:
        await session.execute(
            insert(Member),
            [
                {
                    "display_name": f"m{i}",
                    "timezone": random.Random(i).choice(["UTC", "America/New_York", "Asia/Tokyo"]),
                    "dm_enabled": True,
                    "sms_enabled": platform == "sms",
                    "channel_order": [platform],
                    "is_bot": False,
                    "created_at": now,
                }
                for i, (platform, _) in enumerate(plan)
            ],
        )
    async with engine.db.read() as session:
        member_ids = list((await session.execute(select(Member.id).order_by(Member.id))).scalars())
    async with engine.db.transaction() as session:
        await session.execute(
            insert(Identity),
            [
                {
                    "member_id": mid,
                    "platform": platform,
                    "external_id": vault.lookup_key(address) if platform == "sms" else address,
                    "handle": "",
                    "secret_address": vault.encrypt(address) if platform == "sms" else None,
                    "linked_at": now,
                }
                for mid, (platform, address) in zip(member_ids, plan, strict=True)
            ],
        )
    frontends: list[Frontend] = [DiscordFrontend(engine), TelegramFrontend(engine), SmsFrontend(engine)]
    for frontend in frontends:
        engine.attach(frontend)
        await frontend.start()
    warm = Reply(title="warm-up")
    await frontends[0].send_direct(warmup_user, warm)
    await frontends[1].send_direct("499999", warm)
    await frontends[2].send_direct("+14150000000", warm)

    drops = engine.service(Drops)
    offset = 600
    guard, share = drops.settings.guard_s, drops.settings.rate_share
    delivery = engine.service(Delivery)
    lead = max(guard + split[c] / (delivery.limiter.rate(c) * share) for c in split)
    release = utcnow() + timedelta(seconds=offset + lead + PLAN_S)
    drop = await drops.add(
        NewDrop(
            name="Jordan 4 Retro SB Pine Green",
            release_at=release,
            timezone="America/New_York",
            retailers=[{"name": "Nike SNKRS", "method": "app", "url": None, "deadline": None}],
            retail_price=225.0,
        ),
        by=None,
    )
    async with engine.db.transaction() as session:
        await session.execute(
            insert(DropReminder),
            [
                {
                    "drop_id": drop.id,
                    "member_id": mid,
                    "offsets": [3600, offset],
                    "high_priority": platform == "sms",
                    "ticked": ["size"],
                    "created_at": now,
                }
                for mid, (platform, _) in zip(member_ids, plan, strict=True)
            ],
        )
    due = drop.release_at - timedelta(seconds=offset)
    gc.collect()
    gc.freeze()
    cpu_started = time.process_time()
    planning = time.perf_counter()
    written = await drops.planner.plan()
    plan_s = time.perf_counter() - planning
    deadline = time.monotonic() + lead + PLAN_S + 120
    while time.monotonic() < deadline:
        status = await counts(engine.db)
        if not any(status.get(s) for s in (PENDING, CLAIMED, SENDING)):  # the wave's rows are all written
            break
        await asyncio.sleep(0.25)
    cpu_s = time.process_time() - cpu_started
    outbox = await counts(engine.db)
    await delivery.stop()
    for frontend in reversed(frontends):
        await frontend.stop()
    conn.send("report")
    report = await loop.run_in_executor(None, conn.recv)
    servers.join(timeout=10)
    ics = await bench_ics(engine)
    await engine.stop()

    due_s = due.timestamp()
    arrivals = [t for times in report["arrivals"].values() for t in times]
    arrivals = sorted(arrivals)[-len(plan) :] if len(arrivals) > len(plan) else arrivals  # minus the warm-ups
    offsets = [t - due_s for t in arrivals]
    on_time = sum(1 for d in offsets if -WINDOW_S <= d <= 0)
    return {
        "scale": SCALE,
        "members": len(plan),
        "split": split,
        "planned_rows": written,
        "plan_s": round(plan_s, 2),
        "needed_lead_s": round(lead, 1),
        "arrived": len(arrivals),
        "on_time_share": round(on_time / len(plan), 4),
        "late_p99_s": round(max(0.0, _percentile(offsets, 0.99)), 3),
        "late_max_s": round(max(0.0, max(offsets, default=0.0)), 3),
        "early_max_s": round(max(0.0, -min(offsets, default=0.0)), 3),
        "last_before_due_s": round(-max(offsets, default=0.0), 3),
        "http_429": sum(report["rejected"].values()),
        "http_429_by_platform": report["rejected"],
        "bot_cpu_s": round(cpu_s, 1),
        "outbox": outbox,
        **ics,
    }


# ---------------------------------------------------------------------------- the calendar


async def bench_ics(engine: Any) -> dict[str, Any]:
    """500 drops (written in bulk), 200 edits that move them to another time and zone and 60
    cancellations through the service, the feed built as a subscription serves it, parsed back by
    icalendar and vobject."""
    import icalendar
    import vobject
    from sqlalchemy import insert, select

    from bot.drops.models import Drop
    from bot.drops.service import DropChanges, Drops
    from core.storage.types import utcnow

    drops = engine.service(Drops)
    rng = random.Random(13)
    zones = ["America/New_York", "America/Los_Angeles", "Europe/London", "Europe/Paris", "Asia/Tokyo", "UTC"]
    started = time.perf_counter()
    now = utcnow()
    rows = [
        {
            "name": f"Pair {i} “Special, Edition”; \\ <b>",
            "brand": "Nike",
            "timezone": rng.choice(zones),
            "release_at": now + timedelta(days=rng.uniform(1, 90)),
            "status": "confirmed",
            "sequence": 0,
            "retailers": [
                {"name": "Kith", "method": rng.choice(["fcfs", "raffle", "app"]), "url": None, "deadline": None}
            ],
            "retail_price": rng.choice([None, 110.0, 225.0]),
            "notes": "Line one\nLine two, with: colons; and commas",
            "catalog_id": None,
            "created_by": None,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(ICS_DROPS)
    ]
    async with engine.db.transaction() as session:
        await session.execute(insert(Drop), rows)
    async with engine.db.read() as session:
        made = list(await session.scalars(select(Drop).where(Drop.name.like("Pair %")).order_by(Drop.id)))
    expected = {drop.id: (0, "CONFIRMED") for drop in made}
    for drop in rng.sample(made, 200):
        moved, _ = await drops.edit(
            drop.id,
            DropChanges(release_at=drop.release_at + timedelta(hours=rng.randint(1, 48)), timezone=rng.choice(zones)),
            by=None,
        )
        expected[drop.id] = (moved.sequence, "CONFIRMED")
    for drop in rng.sample(made, 60):
        cancelled, _ = await drops.cancel(drop.id, by=None)
        expected[drop.id] = (cancelled.sequence, "CANCELLED")
    document = await drops.calendar_for_member(None)
    build_s = time.perf_counter() - started
    errors: list[str] = []
    try:
        parsed = icalendar.Calendar.from_ical(document)
        events = {int(str(e["UID"]).split("@")[0].removeprefix("drop-")): e for e in parsed.walk("VEVENT")}
        for drop_id, (sequence, status) in expected.items():
            event = events.get(drop_id)
            if event is None or int(str(event["SEQUENCE"])) != sequence or str(event["STATUS"]) != status:
                errors.append(f"icalendar: drop {drop_id} wrong or missing")
        if len(events) < len(expected):
            errors.append(f"icalendar: {len(events)} events for {len(expected)} drops")
    except Exception as exc:
        errors.append(f"icalendar: {type(exc).__name__}: {exc}"[:200])
    try:
        second = vobject.readOne(document.decode())
        found: dict[int, tuple[int, str]] = {}
        for event in second.vevent_list:
            event.dtstart.value.utcoffset()  # the TZID resolved to a real zone
            drop_id = int(event.uid.value.split("@")[0].removeprefix("drop-"))
            found[drop_id] = (int(event.sequence.value), event.status.value)
        wrong = [drop_id for drop_id, want in expected.items() if found.get(drop_id) != want]
        if wrong:
            errors.append(f"vobject: {len(wrong)} drops wrong or missing, e.g. {wrong[:3]}")
    except Exception as exc:
        errors.append(f"vobject: {type(exc).__name__}: {exc}"[:200])
    return {
        "ics_drops": len(expected),
        "ics_bytes": len(document),
        "ics_build_s": round(build_s, 1),
        "ics_valid": not errors,
        "ics_errors": errors[:5],
    }


def run() -> dict[str, Any]:
    started = time.perf_counter()
    result = asyncio.run(bench_wave())
    result["bench_s"] = round(time.perf_counter() - started, 1)
    return result
