"""The fake Twilio speaks the protocol the real ``twilio`` library expects.

Only the adapter's URL-rebasing HTTP client is SNPD code here (the library has no base-URL option);
everything else is the library itself, so a failure points at the fake.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from adapters.sms.frontend import TwilioHttpClient
from tests.fakes.twilio_api import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    FakeTwilioAPI,
    inbound_params,
    post_webhook,
)

TO = "+14155550123"
FROM = "+14155550100"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilioAPI]:
    async with FakeTwilioAPI() as server:
        yield server


@pytest.fixture
async def client(fake: FakeTwilioAPI) -> AsyncIterator[Client]:
    http = TwilioHttpClient(fake.base_url)
    yield Client(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, http_client=http)
    await http.close()


async def test_create_message_returns_a_message_resource(fake: FakeTwilioAPI, client: Client) -> None:
    message = await client.messages.create_async(to=TO, from_=FROM, body="Restock: Jordan 4", validity_period=600)
    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert message.status == "queued"
    assert message.num_segments == "1"
    assert message.to == TO and message.from_ == FROM and message.body == "Restock: Jordan 4"
    (sent,) = fake.sent
    assert sent.validity_period == 600 and sent.encoding == "GSM-7"


async def test_segments_are_counted_like_a_handset(fake: FakeTwilioAPI, client: Client) -> None:
    long_gsm = await client.messages.create_async(to=TO, from_=FROM, body="x" * 161)
    emoji = await client.messages.create_async(to=TO, from_=FROM, body="🔥 drop")
    assert long_gsm.num_segments == "2"
    assert fake.sent[1].encoding == "UCS-2" and emoji.num_segments == "1"


@pytest.mark.parametrize(("code", "status"), [(21610, 400), (30006, 400), (21614, 400), (21211, 400)])
async def test_injected_recipient_errors_surface_as_rest_exceptions(
    fake: FakeTwilioAPI, client: Client, code: int, status: int
) -> None:
    fake.fail_recipient(TO, code)
    with pytest.raises(TwilioRestException) as caught:
        await client.messages.create_async(to=TO, from_=FROM, body="hi")
    assert (caught.value.code, caught.value.status) == (code, status)
    assert fake.sent == []
    await client.messages.create_async(to="+14155550199", from_=FROM, body="others still work")


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_transient_failures_then_success(fake: FakeTwilioAPI, client: Client, status: int) -> None:
    fake.fail_next(status)
    with pytest.raises(TwilioRestException) as caught:
        await client.messages.create_async(to=TO, from_=FROM, body="hi")
    assert caught.value.status == status
    assert (await client.messages.create_async(to=TO, from_=FROM, body="hi")).status == "queued"


async def test_bad_credentials_and_bad_requests(fake: FakeTwilioAPI) -> None:
    http = TwilioHttpClient(fake.base_url)
    wrong = Client(DEFAULT_ACCOUNT_SID, "not-the-token", http_client=http)
    with pytest.raises(TwilioRestException) as caught:
        await wrong.messages.create_async(to=TO, from_=FROM, body="hi")
    assert (caught.value.code, caught.value.status) == (20003, 401)
    right = Client(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, http_client=http)
    cases: list[tuple[dict[str, Any], int]] = [
        ({"body": "x" * 1601}, 21617),
        ({"body": "hi", "validity_period": 36_001}, 21624),
        ({"body": "hi", "validity_period": 0}, 21624),
    ]
    for kwargs, code in cases:
        with pytest.raises(TwilioRestException) as caught:
            await right.messages.create_async(to=TO, from_=FROM, **kwargs)
        assert caught.value.code == code
    await http.close()


async def test_webhook_helper_signs_like_twilio() -> None:
    received: list[tuple[bool, dict[str, str]]] = []

    async def handler(request: web.Request) -> web.Response:
        params = {k: str(v) for k, v in (await request.post()).items()}
        valid = RequestValidator(DEFAULT_AUTH_TOKEN).validate(
            str(request.url), params, request.headers.get("X-Twilio-Signature", "")
        )
        received.append((valid, params))
        return web.Response(text="<Response/>", content_type="application/xml")

    app = web.Application()
    app.router.add_post("/sms", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/sms"
    params = inbound_params(TO, "PING", to=FROM)
    try:
        assert await post_webhook(url, DEFAULT_AUTH_TOKEN, params) == (200, "<Response/>")
        await post_webhook(url, "wrong-token", params)
        await post_webhook(url, DEFAULT_AUTH_TOKEN, params, signed=False)
    finally:
        await runner.cleanup()
    assert [valid for valid, _ in received] == [True, False, False]
    assert received[0][1]["Body"] == "PING" and received[0][1]["From"] == TO
