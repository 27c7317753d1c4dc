"""Twilio retries a webhook it got no answer to, also after our restart: the MessageSid is claimed in
the database, so a repeat is answered with the first answer and a captured STOP replayed after START
doesn't opt the member out again."""

from __future__ import annotations

from adapters.sms.frontend import SmsFrontend
from tests.adapters.sms.test_frontend import OUR_NUMBER, PHONE, Harness, harness
from tests.fakes.twilio_api import inbound_params

__all__ = ["harness"]


async def restart(h: Harness) -> None:
    """A new frontend object on the same engine and database: what a process restart leaves."""
    await h.sms.stop()
    h.sms = SmsFrontend(h.engine)
    h.engine.attach(h.sms)
    await h.sms.start()


async def test_a_stop_replayed_after_start_and_a_restart_changes_nothing(harness: Harness) -> None:
    stop = inbound_params(PHONE, "STOP", to=OUR_NUMBER)
    first = await harness.post(stop)
    assert await harness.reason() == "STOP"
    await harness.text("START")
    assert await harness.reason() is None
    await restart(harness)
    replayed = await harness.post(stop)
    assert replayed == first
    assert await harness.reason() is None  # still subscribed
