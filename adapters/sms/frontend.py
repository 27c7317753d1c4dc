"""The SMS frontend, over Twilio: an inbound webhook that answers in TwiML, and outbound sends.

Inbound, Twilio POSTs each text to ``[sms] public_url``. We check ``X-Twilio-Signature`` against that
URL (a forged or replayed-elsewhere request gets 403), then read the body as a keyword (``PING``,
``PROFILE``, ``LINK ABC123`` map to the command declaring that ``sms_keyword``) or as a typed command
(``/help ping``), and answer in the same HTTP response with at most two segments of plain text.

Consent comes first: STOP and its synonyms record an opt-out for the number (and switch the owner's
SMS alerts off), START and its synonyms lift it, HELP always answers. An opted-out number gets no
outbound SMS at all, and Twilio's permanent refusals (21610 unsubscribed, 30006 landline, 21614 not
mobile) are recorded the same way, whether they come back from a send or in a status callback.
Phone numbers are logged masked, never in full.

Outbound sends make their request inside ``request_slot`` (after the consent check), so the
delivery worker's per-number window sees when the request leaves and when Twilio answers. Twilio
has no idempotency key for messages, but it lists what a number sent: ``already_delivered`` reads
back the recent messages from our number to a number, so a send the worker lost track of (it died
mid-request) is recorded as sent rather than texted twice.
"""

from __future__ import annotations

import base64
import logging
import re
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import structlog
from aiohttp import web
from twilio.base import values
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from adapters.sms.render import MAX_SEGMENTS, fit, render_reply, segment, sms_text, to_gsm_text
from core.commands import Permission
from core.crypto import AddressVault, mask_phone
from core.engine import Engine
from core.errors import ConfigError, UserError
from core.frontend import DeliveryRefused, request_slot
from core.identity import Caller
from core.replies import Reply
from core.storage import consent
from core.targets import DiscordChannel, ShellConsole, TelegramChat

log = structlog.get_logger(__name__)

TWILIO_API = "https://api.twilio.com"
HTTP_TIMEOUT_S = 10.0

#: Twilio's default opt-out, opt-in and help keywords (Advanced Opt-Out uses the same lists)
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
START_WORDS = frozenset({"START", "YES", "UNSTOP", "OPTIN"})
HELP_WORDS = frozenset({"HELP", "INFO"})

#: Twilio errors that mean "this number will never take our SMS": recorded as a permanent opt-out
PERMANENT_ERRORS = {
    21610: consent.REASON_UNSUBSCRIBED,
    30006: consent.REASON_LANDLINE,
    21614: consent.REASON_NOT_MOBILE,
}
_ERROR_TEXT = {
    21211: "invalid phone number",
    21408: "sending to this region is not enabled",
    21610: "recipient unsubscribed",
    21612: "cannot route to this number",
    21614: "not a mobile number",
    30006: "landline or unreachable carrier",
}
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
#: read-back: the most recent messages to one number worth looking through, per page and in all
READ_BACK_PAGE = 20
READ_BACK_LIMIT = 100
#: Twilio's clock against ours (its ``date_created`` is whole seconds, in its own time)
CLOCK_SKEW = timedelta(seconds=60)
#: Twilio statuses of a message that never reached the handset: sending it again is right
_NOT_DELIVERED = frozenset({"failed", "undelivered", "canceled"})

#: twilio's HTTP client logs every request at INFO; keep that out of our logs unless it's a problem
_twilio_http_log = logging.getLogger("snpd.twilio_http")
_twilio_http_log.setLevel(logging.WARNING)


class TwilioHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """Twilio's own async HTTP client, optionally pointed at another API base (a local test server),
    with a default timeout (the library's only applies when a call passes one, and none do) and
    Basic auth sent as a header (aiohttp deprecates the ``auth=`` object the library would use)."""

    def __init__(self, api_base: str = "", *, timeout: float = HTTP_TIMEOUT_S) -> None:
        super().__init__(pool_connections=True, timeout=timeout, logger=_twilio_http_log)
        self._api_base = api_base.rstrip("/")

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        if self._api_base and url.startswith(TWILIO_API):
            url = self._api_base + url[len(TWILIO_API) :]
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            headers = {**(headers or {}), "Authorization": f"Basic {token}"}
        response: TwilioResponse = await super().request(
            method,
            url,
            params=params,
            data=data,
            headers=headers,
            auth=None,
            timeout=timeout if timeout is not None else self.timeout,
            allow_redirects=allow_redirects,
        )
        return response


def _status_url(public_url: str) -> str:
    """Where Twilio reports delivery status: ``<public_url path>/status``, same host and query."""
    parts = urlsplit(public_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/status"))


def _twiml(text: str | None) -> str:
    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response)


class SmsFrontend:
    name = "sms"

    def __init__(self, engine: Engine, *, validity_period: int | None = None) -> None:
        config = engine.config
        sid, token = config.secrets.TWILIO_ACCOUNT_SID, config.secrets.TWILIO_AUTH_TOKEN
        if sid is None or token is None:
            raise ConfigError("SMS needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN in the environment")
        if not config.sms.from_number:
            raise ConfigError("[sms] from_number: the Twilio number to send from, e.g. +14155550100")
        if engine.vault is None:
            raise ConfigError("SMS needs SNPD_ENCRYPTION_KEY: phone numbers are stored encrypted")
        self._engine = engine
        self._vault: AddressVault = engine.vault
        self._account_sid = sid.get_secret_value()
        self._auth_token = token.get_secret_value()
        self._validator = RequestValidator(self._auth_token)
        self._from = config.sms.from_number
        self.validity_period = int(validity_period or config.sms.validity_period_seconds)
        if not 1 <= self.validity_period <= 36_000:
            raise ConfigError("SMS validity period must be 1-36000 seconds (Twilio's range)")
        self._public_url = config.sms.public_url
        self.inbound_path = urlsplit(self._public_url).path or "/sms"
        self.status_path = self.inbound_path.rstrip("/") + "/status"
        self._http: TwilioHttpClient | None = None
        self._client: Client | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        self._http = TwilioHttpClient(self._engine.config.sms.api_base)
        self._client = Client(self._account_sid, self._auth_token, http_client=self._http)
        app = web.Application(client_max_size=64 * 1024)
        app.router.add_post(self.inbound_path, self._inbound)
        app.router.add_post(self.status_path, self._status)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        sms = self._engine.config.sms
        site = web.TCPSite(self._runner, sms.webhook_host, sms.webhook_port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        if not self._public_url:
            log.warning("sms.public_url_unset", hint="signatures are checked against the URL as received")
        log.info("sms.listening", host=sms.webhook_host, port=self.port, path=self.inbound_path)

    @property
    def connected(self) -> bool:
        """The webhook Twilio posts to is listening (``/healthz``)."""
        return self._runner is not None

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._http is not None:
            await self._http.close()
            self._http = None
        self._client = None

    # ----------------------------------------------------------------- outbound

    async def post(self, target: DiscordChannel | TelegramChat | ShellConsole, item: Reply) -> None:
        raise DeliveryRefused("sms", "SMS has no channels: bind feeds to Discord or Telegram", permanent=True)

    async def send_direct(self, external_id: str, reply: Reply, *, idempotency_key: str | None = None) -> None:
        """Twilio takes no idempotency key for messages; a lost send is settled by ``already_delivered``."""
        await self.send_text(external_id, render_reply(reply))

    async def already_delivered(
        self, external_id: str, reply: Reply, idempotency_key: str, since: datetime
    ) -> bool | None:
        """``DeliveryVerifier``: did Twilio take this reply for ``external_id`` at or after ``since``?

        Lists the messages from our number to that number (newest first; no ``DateSent`` filter, since
        a message still queued has no send date yet) and looks for the same body created since then.
        A message Twilio failed to deliver does not count. None if Twilio cannot be asked now."""
        if self._client is None or not _E164.match(external_id):
            return None
        body = render_reply(reply)
        cutoff = since - CLOCK_SKEW
        try:
            messages = await self._client.messages.list_async(
                to=external_id, from_=self._from, limit=READ_BACK_LIMIT, page_size=READ_BACK_PAGE
            )
        except (TwilioException, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("sms.read_back_failed", to=mask_phone(external_id), error=type(exc).__name__)
            return None
        return any(
            message.body == body
            and message.date_created is not None
            and message.date_created >= cutoff
            and message.status not in _NOT_DELIVERED
            for message in messages
        )

    async def send_text(self, phone: str, body: str) -> str:
        """Send one SMS (already fitted to two segments) and return Twilio's message sid.

        Raises ``DeliveryRefused``: permanent for an opted-out, unsubscribed, landline or invalid
        number; not permanent for 429, 5xx and network failures, which are worth retrying.
        """
        if self._client is None:
            raise RuntimeError("the SMS frontend is not started")
        masked = mask_phone(phone)
        if not _E164.match(phone):
            raise DeliveryRefused("sms", f"{masked} is not an E.164 phone number", permanent=True)
        phone_hash = self._vault.lookup_key(phone)
        async with self._engine.db.read() as session:
            reason = await consent.opt_out_reason(session, phone_hash)
        if reason is not None:
            log.info("sms.refused_opted_out", to=masked, reason=reason)
            raise DeliveryRefused("sms", f"{masked} opted out of SMS ({reason})", permanent=True)
        try:
            async with request_slot():
                message = await self._client.messages.create_async(
                    to=phone,
                    from_=self._from,
                    body=body,
                    validity_period=self.validity_period,
                    status_callback=_status_url(self._public_url) if self._public_url else values.unset,
                )
        except (TwilioRestException, TwilioServiceException) as exc:
            raise await self._refusal(phone_hash, masked, exc) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("sms.send_unreachable", to=masked, error=type(exc).__name__)
            raise DeliveryRefused("sms", f"Twilio unreachable ({type(exc).__name__})", permanent=False) from None
        log.info("sms.sent", to=masked, sid=message.sid, segments=message.num_segments)
        return str(message.sid)

    async def _refusal(
        self, phone_hash: str, masked: str, exc: TwilioRestException | TwilioServiceException
    ) -> Exception:
        code = int(exc.code) if exc.code is not None else 0
        status = int(exc.status)
        log.warning("sms.send_failed", to=masked, code=code, status=status)
        if code in PERMANENT_ERRORS:
            await self._record_opt_out(phone_hash, PERMANENT_ERRORS[code])
            return DeliveryRefused("sms", f"{masked}: Twilio {code}, {_ERROR_TEXT[code]}", permanent=True)
        if status == 429 or status >= 500:
            return DeliveryRefused("sms", f"Twilio busy or failing (HTTP {status}, code {code})", permanent=False)
        if status in (401, 403) or code == 20003:
            return ConfigError("Twilio rejected our credentials: check TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN")
        problem = _ERROR_TEXT.get(code, "refused")
        return DeliveryRefused("sms", f"{masked}: Twilio {code}, {problem}", permanent=True)

    async def _record_opt_out(self, phone_hash: str, reason: str) -> None:
        async with self._engine.db.transaction() as session:
            await consent.record_opt_out(session, phone_hash, reason)

    # ----------------------------------------------------------------- inbound

    def _signed(self, request: web.Request, params: dict[str, str], public_url: str) -> bool:
        signature = request.headers.get("X-Twilio-Signature")
        if not signature:
            return False
        algorithm = get_signature_algorithm(request.headers.get("X-Twilio-Webhooks-Signature-Settings"))
        url = public_url or str(request.url)
        return bool(self._validator.validate(url, params, signature, algorithm))

    async def _inbound(self, request: web.Request) -> web.Response:
        params = {key: str(value) for key, value in (await request.post()).items()}
        if not self._signed(request, params, self._public_url):
            log.warning("sms.bad_signature", remote=request.remote)
            return web.Response(status=403, text="invalid X-Twilio-Signature")
        message_sid = params.get("MessageSid") or params.get("SmsSid") or ""
        sender = params.get("From", "")
        if not _E164.match(sender):
            log.info("sms.inbound_ignored", reason="sender is not a phone number")
            return web.Response(text=_twiml(None), content_type="application/xml")
        # Twilio retries a webhook it got no answer to, even after our restart: the MessageSid is
        # claimed in the database, so a repeat (or a captured STOP replayed later) changes nothing
        webhook_id = f"sms-webhook:{message_sid}" if message_sid else None
        if webhook_id is not None:
            claim = await self._engine.requests.claim(webhook_id)
            if not claim.first:
                xml = str((claim.answer or {}).get("twiml", _twiml(None)))
                return web.Response(text=xml, content_type="application/xml")
        try:
            answer = await self.answer(
                sender, params.get("Body", ""), carrier_answered="OptOutType" in params, request_id=message_sid or None
            )
        except Exception:
            reference = secrets.token_hex(4)
            log.exception("sms.inbound_failed", ref=reference, sender=mask_phone(sender))
            answer = sms_text(f"Something went wrong on our side. Reference {reference}: give it to an admin.")
        xml = _twiml(answer)
        if webhook_id is not None:
            await self._engine.requests.finish(webhook_id, {"twiml": xml})
        return web.Response(text=xml, content_type="application/xml")

    async def answer(
        self, sender: str, body: str, *, carrier_answered: bool = False, request_id: str | None = None
    ) -> str | None:
        """The SMS reply to one incoming text, or None to stay silent.

        ``carrier_answered``: Twilio's Advanced Opt-Out already replied to a STOP/START/HELP (it
        then adds ``OptOutType`` to the webhook), so we record the change and add nothing.
        """
        text = body.strip()
        keyword = text.upper().strip(" .!?,;:'\"")
        masked = mask_phone(sender)
        phone_hash = self._vault.lookup_key(sender)
        caller = Caller(platform="sms", external_id=sender, display_name=masked)
        first = keyword.split(" ", 1)[0]
        known = first in STOP_WORDS | START_WORDS | HELP_WORDS or self._engine.registry.by_sms_keyword(first)
        # free text can be private: log only which keyword it was, never what was said
        shown = first if known else ("/command" if text.startswith("/") else "other")
        log.info("sms.inbound", sender=masked, keyword=shown)
        bot = self._engine.config.bot.name
        if keyword in STOP_WORDS:
            await self._record_opt_out(phone_hash, consent.REASON_STOP)
            if carrier_answered:
                return None
            return sms_text(
                f"You are unsubscribed from {bot} SMS and will get no more texts. Text START to resubscribe."
            )
        if keyword in START_WORDS:
            await self._engine.identity.resolve(caller)
            async with self._engine.db.transaction() as session:
                await consent.record_opt_in(session, phone_hash)
            if carrier_answered:
                return None
            return sms_text(f"You are subscribed to {bot} SMS again. Text HELP for commands, STOP to opt out.")
        if keyword in HELP_WORDS:
            return None if carrier_answered else self.help_text(caller)
        async with self._engine.db.read() as session:
            opted_out = await consent.opt_out_reason(session, phone_hash)
        if opted_out is not None:
            log.info("sms.inbound_from_opted_out", sender=masked, reason=opted_out)
            return None
        if not text:  # a picture or an empty text: say what we understand
            return self.help_text(caller)
        if text.startswith("/"):
            return self._needs_photos(text) or render_reply(
                await self._engine.dispatch_line(caller, text, request_id=request_id)
            )
        word, _, rest = text.partition(" ")
        command = self._engine.registry.by_sms_keyword(word)
        if command is None or "sms" not in command.frontends:
            return self.help_text(caller, lead=f"Unknown keyword {word[:12].upper()}. ")
        line = f"/{command.name} {rest.strip()}".rstrip()
        return self._needs_photos(line) or render_reply(
            await self._engine.dispatch_line(caller, line, request_id=request_id)
        )

    def _needs_photos(self, line: str) -> str | None:
        """The answer to a command that can't run without photos: SMS can't carry them to us."""
        try:
            command, _, _ = self._engine.registry.parse(line)
        except UserError:
            return None  # the engine gives the error its usual answer
        files = command.attachments
        if files is None or not files.required:
            return None
        return sms_text(
            f"/{command.name} needs photos, and photos can't be sent by SMS. Use it on Discord or Telegram."
        )

    def help_text(self, caller: Caller, lead: str = "") -> str:
        """The keywords this caller may use, and how to stop: what carriers require HELP to say.

        The opt-out sentence always survives: if every keyword doesn't fit two segments, the list is
        shortened instead."""
        role: Permission = self._engine.identity.role_for(caller)
        keywords = sorted(
            command.sms_keyword.upper() + (f" <{command.params[0].name}>" if command.params else "")
            for command in self._engine.registry.all(frontend="sms", role=role)
            if command.sms_keyword
        )
        head = to_gsm_text(f"{lead}{self._engine.config.bot.name} SMS.")
        tail = "Reply STOP to opt out, START to opt back in."
        text = ""
        for count in range(len(keywords), -1, -1):
            shown = ", ".join(keywords[:count]) + (", ..." if count < len(keywords) else "")
            middle = f"Text {shown} or a /command (/help ping)." if count else "Text a /command (/help ping)."
            text = f"{head} {middle} {tail}"
            if segment(text).count <= MAX_SEGMENTS:
                return text
        return fit(text)

    async def _status(self, request: web.Request) -> web.Response:
        """Twilio's delivery report. A late 30006/21610 still means: never text this number again."""
        params = {key: str(value) for key, value in (await request.post()).items()}
        public = _status_url(self._public_url) if self._public_url else ""
        if not self._signed(request, params, public):
            log.warning("sms.bad_signature", remote=request.remote, route="status")
            return web.Response(status=403, text="invalid X-Twilio-Signature")
        to = params.get("To", "")
        code_text = params.get("ErrorCode", "")
        code = int(code_text) if code_text.isdigit() else 0
        log.info("sms.status", sid=params.get("MessageSid"), status=params.get("MessageStatus"), code=code)
        if code in PERMANENT_ERRORS and _E164.match(to):
            await self._record_opt_out(self._vault.lookup_key(to), PERMANENT_ERRORS[code])
        return web.Response(status=204)


__all__ = ["SmsFrontend", "TwilioHttpClient"]
