"""A local fake of Twilio's Messages API, and a signing Twilio for our inbound webhook.

Why a fake server and not mocks: the SMS adapter must go through the real ``twilio`` library's
async HTTP client (form encoding, Basic auth, how error JSON becomes ``TwilioRestException.code``),
so tests point the adapter's ``api_base`` at this server on 127.0.0.1.

Outbound, as twilio 9.x sends it: ``POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json``,
Basic auth ``AccountSid:AuthToken``, ``application/x-www-form-urlencoded`` parameters ``To``,
``From``, ``Body``, ``ValidityPeriod``, ``StatusCallback``. Success is ``201`` with a Message
resource; failure is Twilio's legacy error JSON ``{"code", "message", "more_info", "status"}``.

Read-back, as the 2010 API serves it: ``GET .../Messages.json`` filtered by ``To``, ``From`` and
``DateSent`` (``DateSent<``, ``DateSent>``: by send date, so a message still queued, which has no
send date, never matches one), newest first, in pages of ``PageSize`` (default 50, at most 1000).
Each page carries ``page``, ``page_size``, ``start``, ``end``, ``uri``, ``first_page_uri``,
``previous_page_uri`` and ``next_page_uri`` (with an opaque ``PageToken``) around the ``messages``
list, which is how the library finds the records and the next page.

Inbound, as Twilio sends it: a form POST to the webhook URL with ``X-Twilio-Signature`` (HMAC-SHA1
of the URL plus the sorted parameters, keyed by the auth token). ``post_webhook`` signs the same
way with the library's own ``RequestValidator.compute_signature``, or signs badly on request.

Segments are counted here independently of the adapter's renderer, so tests can use
``count_segments`` as an oracle for "fits two segments".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

JSON = dict[str, Any]

DEFAULT_ACCOUNT_SID = "AC" + "0" * 31 + "1"
DEFAULT_AUTH_TOKEN = "fake_auth_token_0123456789abcdef"
API_VERSION = "2010-04-01"
MAX_BODY = 1600
MAX_VALIDITY_PERIOD = 36_000

#: GSM 03.38, written out again (not imported from the adapter) so the fake is a second opinion
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("\f^{}\\[~]|€")

#: Twilio's error codes and messages for the failures the fake can inject
ERRORS: dict[int, tuple[int, str]] = {
    20003: (401, "Authenticate"),
    20429: (429, "Too Many Requests"),
    20500: (500, "An internal server error has occurred"),
    21211: (400, "Invalid 'To' Phone Number"),
    21602: (400, "Message body is required."),
    21603: (400, "A 'From' phone number is required."),
    21604: (400, "A 'To' phone number is required."),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21614: (400, "'To' number is not a valid mobile number"),
    21617: (400, "The concatenated message body exceeds the 1600 character limit."),
    21624: (400, "Invalid validity period value"),
    30006: (400, "Landline or unreachable carrier"),
}


def count_segments(body: str) -> tuple[str, int]:
    """``("GSM-7" | "UCS-2", parts)`` as a handset would count them."""
    if all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in body):
        septets = sum(2 if c in _GSM_EXTENDED else 1 for c in body)
        return "GSM-7", 1 if septets <= 160 else -(-septets // 153)
    units = len(body.encode("utf-16-le")) // 2
    return "UCS-2", 1 if units <= 70 else -(-units // 67)


def error_body(code: int, status: int | None = None) -> JSON:
    http_status, message = ERRORS[code]
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status or http_status,
    }


@dataclass
class SentSms:
    sid: str
    to: str
    from_: str
    body: str
    validity_period: int | None
    status_callback: str | None
    encoding: str
    num_segments: int
    form: dict[str, str] = field(default_factory=dict)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: ``queued`` until a status callback says otherwise
    status: str = "queued"
    sent_at: datetime | None = None


class FakeTwilioAPI:
    """The fake Messages API. Use as ``async with FakeTwilioAPI() as fake:``; pass ``fake.base_url``
    as ``[sms] api_base``."""

    def __init__(self, *, account_sid: str = DEFAULT_ACCOUNT_SID, auth_token: str = DEFAULT_AUTH_TOKEN) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.port = 0
        self.sent: list[SentSms] = []
        #: every request, accepted or not: (status, form)
        self.requests: list[tuple[int, dict[str, str]]] = []
        #: the query of every message listing
        self.reads: list[dict[str, str]] = []
        self._recipient_errors: dict[str, int] = {}
        self._queued_failures: list[int] = []
        self._queued_read_failures: list[int] = []
        self._lost_answers = 0
        self._sids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    # ----------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._create_message)
        app.router.add_get("/2010-04-01/Accounts/{sid}/Messages.json", self._list_messages)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTwilioAPI:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    # ----------------------------------------------------------------- fault injection

    def fail_recipient(self, number: str, code: int) -> None:
        """Every send to ``number`` fails with Twilio error ``code`` (21610, 30006, 21614, 21211)."""
        self._recipient_errors[number] = code

    def fail_next(self, *statuses: int) -> None:
        """The next sends fail with these HTTP statuses, in order: 429 or 5xx."""
        self._queued_failures.extend(statuses)

    def lose_next_answers(self, count: int = 1) -> None:
        """The next ``count`` sends are accepted (the text goes out) but answered with a 500, as when
        Twilio fails after queueing or the answer is lost on the way back."""
        self._lost_answers += count

    def fail_next_reads(self, *statuses: int) -> None:
        """The next message listings fail with these HTTP statuses, in order: 429 or 5xx."""
        self._queued_read_failures.extend(statuses)

    # ----------------------------------------------------------------- the API

    def _authorised(self, request: web.Request, sid: str) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return user == self.account_sid == sid and secrets.compare_digest(password, self.auth_token)

    def _error(self, code: int, form: dict[str, str], status: int | None = None) -> web.Response:
        payload = error_body(code, status)
        self.requests.append((payload["status"], form))
        return web.json_response(payload, status=payload["status"])

    async def _create_message(self, request: web.Request) -> web.Response:
        form = {key: str(value) for key, value in (await request.post()).items()}
        if not self._authorised(request, request.match_info["sid"]):
            return self._error(20003, form)
        if self._queued_failures:
            status = self._queued_failures.pop(0)
            return self._error(20429 if status == 429 else 20500, form, status)
        to, sender, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        if not to:
            return self._error(21604, form)
        if not sender and not form.get("MessagingServiceSid"):
            return self._error(21603, form)
        if not body:
            return self._error(21602, form)
        if len(body) > MAX_BODY:
            return self._error(21617, form)
        if not to.startswith("+") or not to[1:].isdigit():
            return self._error(21211, form)
        validity: int | None = None
        if "ValidityPeriod" in form:
            try:
                validity = int(form["ValidityPeriod"])
            except ValueError:
                return self._error(21624, form)
            if not 1 <= validity <= MAX_VALIDITY_PERIOD:
                return self._error(21624, form)
        if to in self._recipient_errors:
            return self._error(self._recipient_errors[to], form)
        encoding, segments = count_segments(body)
        sid = f"SM{next(self._sids):032x}"
        sms = SentSms(sid, to, sender, body, validity, form.get("StatusCallback"), encoding, segments, form)
        self.sent.append(sms)
        if self._lost_answers:
            self._lost_answers -= 1
            return self._error(20500, form, 500)
        self.requests.append((201, form))
        return web.json_response(self._resource(sms), status=201)

    async def _list_messages(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.reads.append(query)
        if not self._authorised(request, request.match_info["sid"]):
            return self._error(20003, query)
        if self._queued_read_failures:
            status = self._queued_read_failures.pop(0)
            return self._error(20429 if status == 429 else 20500, query, status)
        filters: dict[str, str] = {
            key: query[key] for key in ("To", "From", "DateSent", "DateSent<", "DateSent>") if key in query
        }
        try:
            page_size = int(query.get("PageSize", "50"))
            page = int(query.get("Page", "0"))
            bounds = {key: _send_date(value) for key, value in filters.items() if key.startswith("DateSent")}
        except ValueError:
            return web.json_response(
                {"code": 20001, "message": "Invalid paging or date parameter", "status": 400}, status=400
            )
        if not 1 <= page_size <= 1000 or page < 0:
            return web.json_response({"code": 20001, "message": "Invalid PageSize or Page", "status": 400}, status=400)
        token = query.get("PageToken")
        if page > 0 and token != _page_token(page * page_size):
            return web.json_response({"code": 20001, "message": "Invalid PageToken", "status": 400}, status=400)
        chosen = [
            sms
            for sms in self.sent
            if sms.to == filters.get("To", sms.to)
            and sms.from_ == filters.get("From", sms.from_)
            and all(_date_matches(sms.sent_at, key, bound) for key, bound in bounds.items())
        ]
        chosen.sort(key=lambda sms: (sms.sent_at or sms.created_at, sms.sid), reverse=True)
        start = page * page_size
        records = chosen[start : start + page_size]
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"

        def page_uri(number: int) -> str:
            params = {**filters, "PageSize": str(page_size), "Page": str(number)}
            if number > 0:
                params["PageToken"] = _page_token(number * page_size)
            return f"{base}?{urlencode(params)}"

        payload = {
            "end": start + max(len(records) - 1, 0),
            "first_page_uri": page_uri(0),
            "messages": [self._resource(sms) for sms in records],
            "next_page_uri": page_uri(page + 1) if start + page_size < len(chosen) else None,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": page_uri(page - 1) if page > 0 else None,
            "start": start,
            "uri": page_uri(page),
        }
        return web.json_response(payload)

    def _resource(self, sms: SentSms) -> JSON:
        resource = self._message_resource(sms.sid, sms.to, sms.from_, sms.body, sms.num_segments, sms.created_at)
        resource["status"] = sms.status
        resource["date_sent"] = format_datetime(sms.sent_at, usegmt=True) if sms.sent_at else None
        return resource

    def _message_resource(
        self, sid: str, to: str, sender: str, body: str, segments: int, created: datetime | None = None
    ) -> JSON:
        now = format_datetime(created or datetime.now(UTC), usegmt=True)
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": str(segments),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": to,
            "uri": f"{uri}.json",
        }

    # ----------------------------------------------------------------- Twilio calling us

    async def deliver_status(self, message: SentSms, status: str, error_code: int | None = None) -> int:
        """POST a signed status callback for a sent message, as Twilio does when its state changes."""
        assert message.status_callback, "the message was sent without a StatusCallback"
        message.status = status
        if status in ("sent", "delivered") and message.sent_at is None:
            message.sent_at = datetime.now(UTC)
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "From": message.from_,
            "MessageSid": message.sid,
            "MessageStatus": status,
            "SmsSid": message.sid,
            "SmsStatus": status,
            "To": message.to,
        }
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        answer_status, _ = await post_webhook(message.status_callback, self.auth_token, params)
        return answer_status


def _page_token(offset: int) -> str:
    """An opaque page token, as Twilio hands out (it encodes where the next page starts)."""
    return "PA" + hashlib.sha1(f"page:{offset}".encode()).hexdigest()[:32]


def _send_date(value: str) -> date:
    """A ``DateSent`` filter: ``YYYY-MM-DD``, or the full timestamp the library writes (only its date counts)."""
    return date.fromisoformat(value[:10])


def _date_matches(sent_at: datetime | None, key: str, bound: date) -> bool:
    if sent_at is None:  # still queued: no send date to filter on
        return False
    day = sent_at.date()
    return {"DateSent": day == bound, "DateSent<": day <= bound, "DateSent>": day >= bound}[key]


def inbound_params(from_: str, body: str, *, to: str, account_sid: str = DEFAULT_ACCOUNT_SID) -> dict[str, str]:
    """The form Twilio posts for an incoming SMS (a US number; location fields as Twilio fills them)."""
    sid = "SM" + secrets.token_hex(16)
    return {
        "AccountSid": account_sid,
        "ApiVersion": API_VERSION,
        "Body": body,
        "From": from_,
        "FromCity": "SAN FRANCISCO",
        "FromCountry": "US",
        "FromState": "CA",
        "FromZip": "94105",
        "MessageSid": sid,
        "NumMedia": "0",
        "NumSegments": str(count_segments(body)[1]),
        "SmsMessageSid": sid,
        "SmsSid": sid,
        "SmsStatus": "received",
        "To": to,
        "ToCity": "",
        "ToCountry": "US",
        "ToState": "",
        "ToZip": "",
    }


async def post_webhook(
    url: str,
    auth_token: str,
    params: dict[str, str],
    *,
    signature: str | None = None,
    signed: bool = True,
) -> tuple[int, str]:
    """POST ``params`` to our webhook the way Twilio does. ``signed=False`` omits the header;
    ``signature`` overrides it (a forged or stale one). Returns (HTTP status, body text)."""
    headers = {"User-Agent": "TwilioProxy/1.1", "Content-Type": "application/x-www-form-urlencoded"}
    if signed:
        headers["X-Twilio-Signature"] = signature or RequestValidator(auth_token).compute_signature(url, params)
    async with aiohttp.ClientSession() as session, session.post(url, data=params, headers=headers) as response:
        return response.status, await response.text()
