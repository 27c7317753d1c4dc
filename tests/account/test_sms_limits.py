"""/sms verify can't be used to text a stranger over and over, and /sms confirm can't be used to try
every code: texts are limited per member and per number, and wrong codes are counted atomically, so
even forty confirms at once are checked at most five times. Through the real twilio client against
the fake Twilio API, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from adapters.sms.frontend import SmsFrontend
from core.engine import Engine
from core.identity import Caller
from core.replies import Reply
from core.storage.database import Database
from snpd.app import build_engine
from tests.fakes.harness import free_port, serving
from tests.fakes.twilio_api import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, FakeTwilioAPI

OUR_NUMBER = "+14155550100"
PHONE = "+14155550177"
DANA = Caller("discord", "8801", "dana")
ERROR = Reply.error("").title


@dataclass
class World:
    engine: Engine
    twilio: FakeTwilioAPI

    def codes_to(self, phone: str) -> list[str]:
        return [sms.body.split("your code is ")[1][:6] for sms in self.twilio.sent if sms.to == phone]

    async def say(self, caller: Caller, line: str) -> Reply:
        return await self.engine.dispatch_line(caller, line)


@pytest.fixture
async def world(make_config: Any, database: Database, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    port = free_port()
    async with FakeTwilioAPI() as twilio:
        monkeypatch.setenv("TWILIO_ACCOUNT_SID", DEFAULT_ACCOUNT_SID)
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", DEFAULT_AUTH_TOKEN)
        config = make_config(
            sms={"from_number": OUR_NUMBER, "webhook_port": port, "api_base": twilio.base_url,
                 "public_url": f"http://127.0.0.1:{port}/twilio/sms"},
            account={"sms_codes_per_member": 3, "sms_codes_per_number": 4},
        )  # fmt: skip
        engine = build_engine(config, db=database)
        await engine.start(migrate=False)
        async with serving(engine, [SmsFrontend(engine)]):
            yield World(engine, twilio)


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


async def test_a_member_gets_a_few_codes_then_waits(world: World) -> None:
    for _ in range(3):
        sent = await world.say(DANA, f"/sms verify {PHONE}")
        assert sent.title == "📱 Code sent", sent.text
    refused = await world.say(DANA, f"/sms verify {PHONE}")
    assert refused.title == ERROR and "Too many codes" in refused.text
    assert len(world.codes_to(PHONE)) == 3


async def test_one_number_gets_a_few_codes_whoever_asks(world: World) -> None:
    for n in range(4):
        sent = await world.say(Caller("telegram", str(7000 + n), f"m{n}"), f"/sms verify {PHONE}")
        assert sent.title == "📱 Code sent", sent.text
    refused = await world.say(Caller("telegram", "7100", "late"), f"/sms verify {PHONE}")
    assert refused.title == ERROR and "this number" in refused.text
    assert len(world.codes_to(PHONE)) == 4


async def test_asking_for_a_new_code_keeps_the_wrong_tries(world: World) -> None:
    await world.say(DANA, f"/sms verify {PHONE}")
    [first] = world.codes_to(PHONE)
    for left in (4, 3, 2, 1):
        reply = await world.say(DANA, f"/sms confirm {wrong(first)}")
        assert f"{left} tries left" in reply.text, reply.text
    await world.say(DANA, f"/sms verify {PHONE}")
    second = world.codes_to(PHONE)[-1]
    last = await world.say(DANA, f"/sms confirm {wrong(second)}")
    assert "0 tries left" in last.text, last.text
    blocked = await world.say(DANA, f"/sms confirm {second}")
    assert blocked.title == ERROR and "Too many wrong codes" in blocked.text
    member = await world.engine.identity.resolve(DANA)
    assert await world.engine.identity.address_for(member.id, "sms") is None


async def test_forty_wrong_codes_at_once_are_checked_five_times(world: World) -> None:
    await world.say(DANA, f"/sms verify {PHONE}")
    [code] = world.codes_to(PHONE)
    replies = await asyncio.gather(*(world.say(DANA, f"/sms confirm {wrong(code)}") for _ in range(40)))
    checked = [r for r in replies if "tries left" in r.text]
    assert len(checked) == 5, [r.text for r in replies]
    assert sorted(r.text for r in checked) == sorted(f"`code`: that is not the code we sent; {n} tries left"
                                                     for n in range(5))  # fmt: skip
    assert all("Too many wrong codes" in r.text for r in replies if r not in checked)
    blocked = await world.say(DANA, f"/sms confirm {code}")
    assert "Too many wrong codes" in blocked.text
