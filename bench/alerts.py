"""``snpd bench alerts``: matching throughput against 100,000 rules, and a 10,000-member fan-out over
Discord DMs, Telegram and SMS against the local fake servers with the platform limits enforced.

Matching: rules are generated from the 2,000 real products in ``stockx-products-2023.csv`` the way
members write them (a few distinctive words of a model, often sizes, a price ceiling, a brand or a
store, sometimes alternatives or excluded words); events are restocks of those products. Timed on one
core: preparing each event (tokens, sizes) and matching it. The first event about each product
compiles its plan (``first_sight_*``); the 20,000 timed events that follow are restocks of products
already seen, as monitors report the same products again and again (``match_*``).

Fan-out: every member matches one restock. The fake servers (``tests/fakes/strict_limits.py``, run
in their own process so their CPU does not disturb the bot's timing) enforce the platform limits
with a strict one-second sliding window (Discord 50 requests/s overall, Telegram 30 messages/s
overall, SMS 1/s per sending number), all multiplied by the same ``SCALE`` as the bot's own
limiters, and answer 429 past them. ``SCALE`` is 5, not 50: the send path (client libraries, outbox
writes) cost about 3.5 ms of CPU per message here when it was chosen, so ×5 (≈ 220 messages/s) was
what one core sustained; utilization is a ratio, so it means the same at any scale. Members are split
across the platforms in proportion to their limits so all three stay busy for the same time. Once
40% are sent the delivery worker is killed (its tasks cancelled, nothing in flight awaited or
recorded) and a fresh one started after the dead one's leases run out, as after a crash and restart.
Utilization is requests (or messages) per second while the platform had work, divided by its scaled
limit, with the restart gap left out.
``bot_cpu_ms_per_message`` is the bot process's CPU time (every thread, ``time.process_time``) from
the event until the outbox is settled, per message delivered: the number that says how many
platforms one small machine keeps at their limits (target: 3 ms or less). Utilization also depends
on what else runs on the machine; CPU per message hardly does.
``in_doubt_by_platform`` counts the sends that were on the wire at the kill; the restarted worker
settles them per platform: Discord ones are sent again under the same nonce (Discord drops the
repeat), SMS ones are looked up in Twilio's message list first (``verified_after_kill``), Telegram
ones are sent again (the Bot API offers neither). ``duplicates_by_platform`` is what arrived twice.

``SNPD_BENCH_SKIP_MATCH=1`` skips the matching half (about 25 s) while working on delivery; the
matching keys are then missing from the output.
"""

from __future__ import annotations

import asyncio
import csv
import gc
import os
import random
import socket
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bot.alerts.matcher import Criteria, RuleRef, fold, prepare_event, words
from bot.alerts.rule_index import RuleIndex, title_counts
from bot.alerts.sizes import normalise_size

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
RULES = 100_000
MATCH_EVENTS = 20_000
MEMBERS = int(os.environ.get("SNPD_BENCH_MEMBERS", "10000"))
#: multiplies every platform limit, on the servers and in our limiters alike
SCALE = float(os.environ.get("SNPD_BENCH_SCALE", "5"))
STORES = ["kith.com", "undefeated.com", "concepts.com", "bodega.com", "shoepalace.com", "a-ma-maniere.com"]
US_SIZES = [f"{n / 2:g}" for n in range(14, 29)]  # 7 .. 14
#: the fan-out counts as stalled (and the bench stops) after this long without a message sent
STALL_S = 30.0
STOPWORDS = {"retro", "low", "high", "mid", "og", "the", "and", "of", "s", "x", "sp", "qs", "prm", "w", "gs"}


# ---------------------------------------------------------------------------- data


def load_products() -> list[dict[str, Any]]:
    with (DATA / "stockx-products-2023.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    products = []
    for row in rows:
        try:
            retail = float(row["retail"] or 0) or float(row["lastSale"] or 150)
        except ValueError:
            retail = 150.0
        products.append({"title": row["item"], "brand": row["brand"], "retail": retail})
    return products


def restock_payload(product: dict[str, Any], event_id: str, rng: random.Random) -> dict[str, Any]:
    in_stock = sorted(rng.sample(US_SIZES, rng.randint(2, 8)), key=float)
    labels = [rng.choice([s, f"US {s}", f"M {s} / W {float(s) + 1.5:g}"]) for s in in_stock]
    return {
        "event_id": event_id,
        "kind": "restock",
        "monitor_id": 1,
        "store": rng.choice(STORES),
        "product": {"id": event_id, "title": product["title"], "handle": event_id, "brand": product["brand"],
                    "url": f"https://{STORES[0]}/products/{event_id}", "image": None, "tags": []},
        "sizes": labels,
        "sizes_in_stock": labels,
        "price": product["retail"],
        "old_price": None,
        "currency": "USD",
        "cart_links": {},
        "occurred_at": "2026-11-21T12:00:00+00:00",
    }


def word_frequency(products: list[dict[str, Any]]) -> Counter[str]:
    return Counter(w for p in products for w in set(words(p["title"])))


def make_criteria(product: dict[str, Any], rng: random.Random, frequency: Counter[str]) -> Criteria:
    """A rule a member would write for ``product``: the model and the words that name its colourway
    (the title's rarer words), sometimes one word fewer or one more."""
    title_words = list(dict.fromkeys(w for w in words(product["title"]) if w not in STOPWORDS))
    by_rarity = sorted(title_words, key=lambda w: (frequency[w], w))
    take = min(len(by_rarity), rng.choice([1, 2, 2, 2, 3, 3, 3, 3, 3, 3]))
    if take == 1 and (frequency[by_rarity[0]] > 20 or by_rarity[0].isdigit()):
        take = min(len(by_rarity), 2)  # nobody asks for every "1" or every "dunk" ever
    keywords = frozenset(by_rarity[:take] + ([title_words[0]] if rng.random() < 0.5 else []))
    any_groups: tuple[frozenset[str], ...] = ()
    if rng.random() < 0.05 and len(by_rarity) > 2:
        keywords = frozenset(by_rarity[2:3])
        any_groups = (frozenset(by_rarity[:2]),)
    return Criteria(
        keywords=keywords,
        any_groups=any_groups,
        exclude=frozenset({"gs", "td"}) if rng.random() < 0.05 else frozenset(),
        brands=frozenset({fold(product["brand"])}) if rng.random() < 0.2 else frozenset(),
        stores=frozenset(rng.sample(STORES, 2)) if rng.random() < 0.1 else frozenset(),
        sizes=frozenset(normalise_size(s) for s in rng.sample(US_SIZES, rng.randint(1, 3)))
        if rng.random() < 0.6 else frozenset(),
        price_max=round(product["retail"] * rng.uniform(1.0, 2.0)) if rng.random() < 0.4 else None,
        min_deal=20.0 if rng.random() < 0.05 else None,
    )


# ---------------------------------------------------------------------------- matching


def bench_matching(products: list[dict[str, Any]]) -> dict[str, Any]:
    rng = random.Random(4)
    frequency = word_frequency(products)
    index = RuleIndex(title_counts(p["title"] for p in products))
    started = time.perf_counter()
    for rule_id in range(1, RULES + 1):
        product = rng.choice(products)
        index.add(RuleRef(rule_id, rule_id, make_criteria(product, rng, frequency), high_priority=rng.random() < 0.05))
    build_s = time.perf_counter() - started
    clock = time.perf_counter
    # First sight of each product: its candidates' text is checked and its plan compiled.
    cold: list[float] = []
    for i, product in enumerate(products):
        event = prepare_event(restock_payload(product, f"c{i}", rng))
        t0 = clock()
        index.match(event)
        cold.append(clock() - t0)
    cold.sort()
    gc.collect()
    gc.freeze()  # the rules and plans are long-lived, as in a bot that has been running a while
    # Steady state: restocks of products the index has seen, as monitors report them again and again.
    payloads = [restock_payload(rng.choice(products), f"m{i}", rng) for i in range(MATCH_EVENTS)]
    latencies: list[float] = []
    matched = 0
    plans_before = index.plans_built
    started = clock()
    for payload in payloads:
        t0 = clock()
        matched += len(index.match(prepare_event(payload)))
        latencies.append(clock() - t0)
    total = clock() - started
    latencies.sort()
    return {
        "rules": len(index),
        "index_build_s": round(build_s, 2),
        "match_events": MATCH_EVENTS,
        "match_events_per_s": round(MATCH_EVENTS / total),
        "match_p50_ms": round(latencies[len(latencies) // 2] * 1000, 4),
        "match_p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 4),
        "matches_per_event": round(matched / MATCH_EVENTS, 1),
        "plans_compiled_while_timed": index.plans_built - plans_before,
        "first_sight_events_per_s": round(len(cold) / sum(cold)),
        "first_sight_p50_ms": round(cold[len(cold) // 2] * 1000, 3),
        "first_sight_p99_ms": round(cold[int(len(cold) * 0.99)] * 1000, 3),
    }


# ---------------------------------------------------------------------------- the servers' process


def serve_fakes(conn: Any, scale: float, discord_users: int) -> None:
    """Child process: run the three limit-enforcing fakes on their own core, so their CPU does not
    jitter the bot's sends; report what they saw when the parent asks."""
    asyncio.run(_serve_fakes(conn, scale, discord_users))


async def _serve_fakes(conn: Any, scale: float, discord_users: int) -> None:
    from tests.fakes.strict_limits import StrictFakes

    fakes = await StrictFakes.start(scale, discord_users)
    discord, telegram, twilio = fakes.discord, fakes.telegram, fakes.twilio
    conn.send(fakes.connection())
    loop = asyncio.get_running_loop()
    while True:
        command = await loop.run_in_executor(None, conn.recv)
        if command == "progress":
            conn.send(len(discord.sends) // 2 + len(telegram.sends) + len(twilio.sends))
            continue
        break
    recipients: list[tuple[str, str]] = []
    for message in discord.messages:
        channel = discord.channels.get(message.channel_id)
        if channel is not None and channel.recipient is not None:
            recipients.append(("discord", str(channel.recipient.id)))
    recipients.extend(("telegram", str(sent.chat_id)) for sent in telegram.sent)
    recipients.extend(("sms", sms.to) for sms in twilio.sent)
    conn.send(
        {
            "sends": {"discord": discord.sends, "telegram": telegram.sends, "sms": twilio.sends},
            "rejected": {"discord": discord.rejected, "telegram": telegram.rejected, "sms": twilio.rejected},
            "recipients": recipients,
        }
    )
    await fakes.close()


# ---------------------------------------------------------------------------- fan-out


def _utilization(times: list[float], limit: float, gap: tuple[float, float] | None) -> float:
    """Sends per second while busy, over the scaled limit; the restart gap is left out."""
    if len(times) < 2:
        return 0.0
    spans = [(times[0], times[-1])]
    if gap is not None and times[0] < gap[0] < times[-1]:
        before = [t for t in times if t <= gap[0]]
        after = [t for t in times if t >= gap[1]]
        spans = [(before[0], before[-1])] if len(before) > 1 else []
        if len(after) > 1:
            spans.append((after[0], after[-1]))
    busy = sum(end - start for start, end in spans)
    counted = sum(sum(1 for t in times if start <= t <= end) - 1 for start, end in spans)
    return round(counted / busy / limit, 3) if busy > 0 else 0.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def bench_fanout(products: list[dict[str, Any]]) -> dict[str, Any]:
    import multiprocessing

    from sqlalchemy import insert, select

    from adapters.discord.frontend import DiscordFrontend
    from adapters.sms.frontend import SmsFrontend
    from adapters.telegram.frontend import TelegramFrontend
    from bot.alerts import AlertsRuntime
    from bot.alerts.models import AlertRule
    from bot.delivery import Delivery
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

    # Members in proportion to each platform's rate (per message: a first DM costs Discord 2 requests)
    rates = {"discord": 50 * 0.95 / 2, "telegram": 30 * 0.95, "sms": 1 * 0.95}
    sms_count = max(1, round(MEMBERS * rates["sms"] / sum(rates.values())))
    discord_count = round((MEMBERS - sms_count) * rates["discord"] / (rates["discord"] + rates["telegram"]))
    telegram_count = MEMBERS - sms_count - discord_count

    loop = asyncio.get_running_loop()
    context = multiprocessing.get_context("spawn")
    conn, child_conn = context.Pipe()
    servers = context.Process(target=serve_fakes, args=(child_conn, SCALE, discord_count + 1), daemon=True)
    servers.start()
    info = await loop.run_in_executor(None, conn.recv)
    os.environ.update(
        DISCORD_TOKEN=info["discord_token"],
        TELEGRAM_TOKEN=info["telegram_token"],
        TWILIO_ACCOUNT_SID=DEFAULT_ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=DEFAULT_AUTH_TOKEN,
        SNPD_ENCRYPTION_KEY=os.environ.get("SNPD_ENCRYPTION_KEY") or new_key(),
    )
    workdir = tempfile.mkdtemp(prefix="snpd-bench-alerts-")
    (Path(workdir) / "bot.toml").write_text("", encoding="utf-8")
    lease_s = 4.0
    send_timeout_s = 2.0  # a row on the wire is leased for lease_s + send_timeout_s
    load_models()  # every slice's tables, for the schema
    # Telegram's long poll keeps its production length (``poll_timeout``, 30 s): with 1 s, a poll
    # answered every second, and the bench's one-second settle made it answer just as the event
    # came, which put a poll's work on the first alert's path in every run.
    config = load_config(
        Path(workdir) / "bot.toml",
        overrides={
            "bot": {"data_dir": workdir, "log_level": "WARNING"},
            "discord": {"api_base": info["discord_api_base"], "guild_ids": [info["guild_id"]]},
            "telegram": {"api_base": f"http://127.0.0.1:{info['telegram_port']}"},
            "sms": {"from_number": "+14155550100", "webhook_port": _free_port(), "public_url": "http://127.0.0.1/sms",
                    "api_base": info["twilio_base"]},
            "delivery": {"rate_scale": SCALE, "discord_requests_per_dm": 2, "lease_s": lease_s,
                         "send_timeout_s": send_timeout_s, "send_concurrency": 8},
        },
    )
    engine = build_engine(config)
    await engine.start()
    vault = engine.vault
    assert vault is not None
    product = next(p for p in products if "Pine Green" in p["title"])
    *discord_users, warmup_user = info["users"]
    plan: list[tuple[str, str]] = [("discord", user) for user in discord_users]
    plan.extend(("telegram", str(500_000 + i)) for i in range(telegram_count))
    plan.extend(("sms", f"+1415{7_000_000 + i}") for i in range(sms_count))
    now = utcnow()
    async with engine.db.transaction() as session:
        await session.execute(
            insert(Member),
            [{"display_name": f"m{i}", "timezone": "UTC", "dm_enabled": True, "sms_enabled": platform == "sms",
              "channel_order": [platform], "is_bot": False, "created_at": now} for i, (platform, _) in enumerate(plan)],
        )
    async with engine.db.read() as session:
        member_ids = list((await session.execute(select(Member.id).order_by(Member.id))).scalars())
    async with engine.db.transaction() as session:
        await session.execute(
            insert(Identity),
            [{"member_id": mid, "platform": platform,
              "external_id": vault.lookup_key(address) if platform == "sms" else address,
              "handle": "", "secret_address": vault.encrypt(address) if platform == "sms" else None,
              "linked_at": now} for mid, (platform, address) in zip(member_ids, plan, strict=True)],
        )
        await session.execute(
            insert(AlertRule),
            [{"member_id": mid, "name": "pine green", "keywords": ["pine", "green"], "any_groups": [],
              "exclude": [], "brands": [], "stores": [], "sizes": [], "kinds": ["restock"], "channels": [],
              "high_priority": platform == "sms", "paused": False, "created_at": now, "updated_at": now}
             for mid, (platform, _) in zip(member_ids, plan, strict=True)],
        )
    frontends: list[Frontend] = [DiscordFrontend(engine), TelegramFrontend(engine), SmsFrontend(engine)]
    for frontend in frontends:
        engine.attach(frontend)
        await frontend.start()

    runtime = engine.service(AlertsRuntime)
    await runtime.reload()  # the rules were written in bulk above, not through /alerts add
    # A running bot's HTTP clients are warm: send one message per platform before the measured event
    # (to recipients outside the fan-out; not counted below).
    warm = Reply(title="warm-up")
    await frontends[0].send_direct(warmup_user, warm)
    await frontends[1].send_direct("499999", warm)
    await frontends[2].send_direct("+14150000000", warm)
    await asyncio.sleep(1.0)
    gc.collect()
    gc.freeze()  # the set-up's objects are long-lived, as in a bot that has been running a while

    cpu_started = time.process_time()
    event_at = time.monotonic()
    await engine.bus.publish("monitor.event", restock_payload(product, "fanout-1", random.Random(1)))

    async def sent_so_far() -> int:
        conn.send("progress")
        answer: int = await loop.run_in_executor(None, conn.recv)
        return answer

    last, last_at = -1, time.monotonic()
    while (sent := await sent_so_far()) < len(plan) * 0.4:
        if sent != last:
            last, last_at = sent, time.monotonic()
        elif time.monotonic() - last_at > STALL_S:
            raise RuntimeError(f"the fan-out stalled: {sent} of {len(plan)} messages sent, none in {STALL_S:.0f} s")
        await asyncio.sleep(0.1)
    runtime.worker.kill()
    killed_at = time.monotonic()
    await asyncio.sleep(lease_s + send_timeout_s + 0.2)
    restarted_at = time.monotonic()
    await runtime.restart_worker()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        status = await counts(engine.db)
        if not any(status.get(s) for s in (PENDING, CLAIMED, SENDING)):
            break
        await asyncio.sleep(0.2)
    finished = time.monotonic()
    cpu_s = time.process_time() - cpu_started
    await engine.service(Delivery).stop()
    for frontend in reversed(frontends):
        await frontend.stop()
    conn.send("report")
    report = await loop.run_in_executor(None, conn.recv)
    servers.join(timeout=10)

    sends = {name: [t for t in times if t >= event_at] for name, times in report["sends"].items()}
    received: Counter[tuple[str, str]] = Counter(tuple(r) for r in report["recipients"])
    expected = set(plan)
    duplicates = Counter({"discord": 0, "telegram": 0, "sms": 0})
    for (platform, address), n in received.items():
        if n > 1 and (platform, address) in expected:
            duplicates[platform] += n - 1
    stats = runtime.worker.stats
    first = min(times[0] for times in sends.values() if times)
    gap = (killed_at, restarted_at)
    result = {
        "scale": SCALE,
        "fanout_members": len(plan),
        "fanout_split": {"discord": discord_count, "telegram": telegram_count, "sms": sms_count},
        "discord_utilization": _utilization(sends["discord"], 50 * SCALE, gap),
        "telegram_utilization": _utilization(sends["telegram"], 30 * SCALE, gap),
        "sms_utilization": _utilization(sends["sms"], 1 * SCALE, gap),
        "http_429": sum(report["rejected"].values()),
        "http_429_by_platform": report["rejected"],
        "first_send_ms": round((first - event_at) * 1000, 1),
        "duplicates": sum(duplicates.values()),
        "duplicates_by_platform": dict(duplicates),
        "lost": len(expected - set(received)),
        "in_doubt_after_kill": stats.in_doubt,
        "in_doubt_by_platform": stats.in_doubt_by_channel,
        "verified_after_kill": stats.verified_delivered,
        "resent_keyed_after_kill": stats.resent_keyed,
        "fanout_s": round(finished - event_at, 1),
        "kill_gap_s": round(restarted_at - killed_at, 1),
        "bot_cpu_s": round(cpu_s, 1),
        "bot_cpu_ms_per_message": round(cpu_s * 1000 / max(1, len(expected & set(received))), 2),
        "outbox": await counts(engine.db),
    }
    await engine.stop()
    return result


def run() -> dict[str, Any]:
    products = load_products()
    result = {} if os.environ.get("SNPD_BENCH_SKIP_MATCH") == "1" else bench_matching(products)
    result.update(asyncio.run(bench_fanout(products)))
    return result

