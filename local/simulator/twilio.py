"""Twilio's Messages API (SMS and WhatsApp), with signed status and inbound callbacks.

`POST /2010-04-01/Accounts/{AccountSid}/Messages.json` takes the form-encoded request the
`twilio` library sends, checks HTTP basic auth (401 with error 20003 otherwise) and the
fields as Twilio does (400 with Twilio's `{"code", "message", "more_info", "status"}`),
answers 201 with the message resource (`sid` SM…, `status` `queued`, or `accepted` through
a messaging service, `num_segments`), records one outbox entry, and posts the message's
`StatusCallback` with `sent` then `delivered` (or `undelivered` with an `ErrorCode`; a
WhatsApp message is `read` after that), each signed with the auth token as Twilio signs
(`X-Twilio-Signature`, HMAC-SHA1 of the URL and the sorted parameters).

Twilio's test numbers and failure injection, by the `To` number (`whatsapp:` ignored):

- `+15005550001` -> 400, 21211 (invalid number)
- `+15005550004` -> 400, 21610 (the number replied STOP), as is any number that sent STOP
  through `inbound` and no START since
- `+15005550009` -> 400, 21614 (not a mobile number)
- ending `0429`  -> 429, 20429;  ending `0500` -> 500, 20500
- ending `0303`  -> accepted, `sent`, then `undelivered` with ErrorCode 30003
- anything else  -> accepted, `sent`, then `delivered`

Accounts: the one the simulator was made with, and any other well-formed SID (`AC` and 32
hex digits) with a 32-character token (a tenant's own account, for integrations): each
account's messages carry its SID, and their callbacks are signed with its own token.

`throttle(n)` answers the next `n` requests with 429 whatever their number.
`inbound()` makes a user's message arrive: it is posted, signed, to Herald's
`/v1/callbacks/twilio/inbound`, as Twilio posts a number's incoming messages; or, for a number
of a tenant's own account (`account_sid`, an account that has authenticated to the simulator,
e.g. when its integration was checked), to the webhook URL the tenant set on that number,
signed with that account's token. A STOP is kept per account, as Twilio keeps it.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from herald.templating import sms_encoding
from twilio.request_validator import RequestValidator

from local.http import DevRequest, DevResponse
from local.simulator.callbacks import CallbackDispatcher
from local.simulator.outbox import Outbox

API_VERSION = "2010-04-01"
MESSAGES_PATH = re.compile(rf"^/{API_VERSION}/Accounts/(AC[0-9a-zA-Z]+)/Messages\.json$")
ACCOUNT_PATH = re.compile(rf"^/{API_VERSION}/Accounts/(AC[0-9a-zA-Z]+)\.json$")
INBOUND_PATH = "/v1/callbacks/twilio/inbound"
SIGNATURE_HEADER = "X-Twilio-Signature"
WHATSAPP = "whatsapp:"
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_AUTH_TOKEN = re.compile(r"[0-9a-zA-Z]{32}")
_STOP = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
_START = frozenset({"START", "YES", "UNSTOP"})

# (HTTP status, Twilio error code, message) of the refusals the simulator makes.
TwilioError = tuple[int, int, str]
_TEST_NUMBERS: dict[str, TwilioError] = {
    "+15005550001": (400, 21211, "The 'To' number {to} is not a valid phone number."),
    "+15005550004": (400, 21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (400, 21614, "'To' number {to} is not a valid mobile number"),
}
_BY_SUFFIX: dict[str, TwilioError] = {
    "0429": (429, 20429, "Too Many Requests"),
    "0500": (500, 20500, "Internal Server Error"),
}
UNDELIVERED_SUFFIX = "0303"
UNDELIVERED_ERROR = "30003"


class TwilioSimulator:
    """The Twilio side of the provider simulator."""

    def __init__(
        self,
        outbox: Outbox,
        callbacks: CallbackDispatcher,
        *,
        account_sid: str,
        auth_token: str,
        callback_base_url: Callable[[], str | None],
        event_delay_seconds: float,
    ) -> None:
        self._outbox = outbox
        self._callbacks = callbacks
        self.account_sid = account_sid
        self.auth_token = auth_token
        self._callback_base_url = callback_base_url
        self._event_delay_seconds = event_delay_seconds
        # (account, number) that replied STOP (Twilio's own opt-out list), until START.
        self._opted_out: set[tuple[str, str]] = set()
        # The tenants' own accounts that have authenticated, with their tokens.
        self._accounts: dict[str, str] = {account_sid: auth_token}
        # Requests still to answer with 429 whatever their number (`throttle`).
        self._throttled = 0
        self._lock = threading.Lock()

    def throttle(self, requests: int) -> None:
        """Answer the next `requests` message creations with 429, as Twilio does when an
        account goes over its rate; then accept again."""
        with self._lock:
            self._throttled = requests

    def matches(self, request: DevRequest) -> bool:
        return request.method == "POST" and MESSAGES_PATH.match(request.path) is not None

    def matches_account(self, request: DevRequest) -> bool:
        return request.method == "GET" and ACCOUNT_PATH.match(request.path) is not None

    def fetch_account(self, request: DevRequest) -> DevResponse:
        """`GET /2010-04-01/Accounts/{AccountSid}.json`: what a credentials check fetches."""
        path = ACCOUNT_PATH.match(request.path)
        if path is None or self._token_of(request, path.group(1)) is None:
            return _error((401, 20003, "Authenticate"))
        sid = path.group(1)
        uri = f"/{API_VERSION}/Accounts/{sid}.json"
        return DevResponse(
            200,
            {
                "sid": sid,
                "friendly_name": "Herald simulator",
                "status": "active",
                "type": "Full",
                "owner_account_sid": sid,
                "date_created": "Tue, 01 Dec 2026 00:00:00 +0000",
                "date_updated": "Tue, 01 Dec 2026 00:00:00 +0000",
                "uri": uri,
            },
        )

    def create_message(self, request: DevRequest) -> DevResponse:
        """`POST /2010-04-01/Accounts/{AccountSid}/Messages.json`."""
        path = MESSAGES_PATH.match(request.path)
        token = self._token_of(request, path.group(1)) if path is not None else None
        if path is None or token is None:
            return _error((401, 20003, "Authenticate"))
        form = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
        if (refusal := self._refusal(path.group(1), form)) is not None:
            return _error(refusal)
        message = _message_resource(path.group(1), form)
        self._outbox.record(_outbox_entry(message, form))
        if callback := form.get("StatusCallback"):
            self._schedule_statuses(callback, message, form, token)
        return DevResponse(201, message)

    def inbound(
        self,
        sender: str,
        to: str,
        body: str,
        *,
        account_sid: str | None = None,
        webhook_url: str | None = None,
    ) -> tuple[int, str]:
        """A user sends `body` from `sender` to `to`, a number of `account_sid` (default:
        the simulator's own account): posted, signed with that account's token, to
        `webhook_url` (the number's incoming-message webhook; a path is taken under Herald's
        URL; default: Herald's `/v1/callbacks/twilio/inbound`). Returns Herald's answer
        (status, TwiML). ValueError for an account the simulator has never seen."""
        account_sid = account_sid or self.account_sid
        with self._lock:
            token = self._accounts.get(account_sid)
        if token is None:
            raise ValueError(f"no Twilio account {account_sid} has authenticated here")
        base_url = self._callback_base_url()
        url = webhook_url or INBOUND_PATH
        if url.startswith("/"):
            if base_url is None:
                raise RuntimeError("the simulator knows no Herald to post inbound messages to")
            url = base_url.rstrip("/") + url
        number = sender.removeprefix(WHATSAPP)
        keyword = body.strip().upper()
        with self._lock:
            if keyword in _STOP:
                self._opted_out.add((account_sid, number))
            elif keyword in _START:
                self._opted_out.discard((account_sid, number))
        sid = "SM" + secrets.token_hex(16)
        params = {
            "ToCountry": "US",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "SmsSid": sid,
            "SmsStatus": "received",
            "Body": body,
            "To": to,
            "NumSegments": str(max(1, sms_encoding(body).segments)),
            "MessageSid": sid,
            "AccountSid": account_sid,
            "From": sender,
            "ApiVersion": API_VERSION,
        }
        if sender.startswith(WHATSAPP):
            params.update({"WaId": number.lstrip("+"), "ProfileName": "Simulated User"})
        content = urlencode(params).encode()
        response = httpx.post(url, content=content, headers=self._signer(url, token)(content))
        return response.status_code, response.text

    def _token_of(self, request: DevRequest, account_sid: str) -> str | None:
        """The auth token of the account a request authenticates as, or None (401)."""
        given = request.headers.get("authorization", "").removeprefix("Basic ")
        try:
            sid, _, token = base64.b64decode(given, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        if sid != account_sid:
            return None
        if sid == self.account_sid:
            return token if secrets.compare_digest(token, self.auth_token) else None
        if not (_ACCOUNT_SID.fullmatch(sid) and _AUTH_TOKEN.fullmatch(token)):
            return None
        with self._lock:
            self._accounts[sid] = token
        return token

    def _refusal(self, account_sid: str, form: Mapping[str, str]) -> TwilioError | None:
        """Twilio's answer to a request it refuses, in the order Twilio checks."""
        if (invalid := _invalid_request(form)) is not None:
            return invalid
        to = form["To"]
        number = to.removeprefix(WHATSAPP)
        if not _E164.match(number):
            return (400, 21211, f"The 'To' number {to} is not a valid phone number.")
        with self._lock:
            if self._throttled > 0:
                self._throttled -= 1
                return _BY_SUFFIX["0429"]
            if (account_sid, number) in self._opted_out:
                return (400, 21610, "Attempt to send to unsubscribed recipient")
        if number in _TEST_NUMBERS:
            status, code, message = _TEST_NUMBERS[number]
            return status, code, message.format(to=to)
        return _BY_SUFFIX.get(number[-4:])

    def _schedule_statuses(
        self, url: str, message: dict[str, Any], form: Mapping[str, str], token: str
    ) -> None:
        base = {
            "SmsSid": message["sid"],
            "MessageSid": message["sid"],
            "AccountSid": message["account_sid"],
            "From": message["from"] or "",
            "To": message["to"],
            "ApiVersion": API_VERSION,
        }
        if message["messaging_service_sid"]:
            base["MessagingServiceSid"] = message["messaging_service_sid"]
        final: dict[str, str] = {"MessageStatus": "delivered"}
        if message["to"].removeprefix(WHATSAPP).endswith(UNDELIVERED_SUFFIX):
            final = {"MessageStatus": "undelivered", "ErrorCode": UNDELIVERED_ERROR}
        statuses = [{"MessageStatus": "sent"}, final]
        if final["MessageStatus"] == "delivered" and form["To"].startswith(WHATSAPP):
            statuses.append({"MessageStatus": "read"})
        sign = self._signer(url, token)
        for step, status in enumerate(statuses, start=1):
            params = {**base, **status, "SmsStatus": status["MessageStatus"]}
            body = urlencode(params).encode()
            self._callbacks.schedule(url, body, sign, self._event_delay_seconds * step)

    def _signer(self, url: str, token: str) -> Callable[[bytes], dict[str, str]]:
        validator = RequestValidator(token)

        def sign(body: bytes) -> dict[str, str]:
            params = dict(parse_qsl(body.decode(), keep_blank_values=True))
            return {
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": "TwilioProxy/1.1",
                "I-Twilio-Idempotency-Token": secrets.token_hex(16),
                SIGNATURE_HEADER: validator.compute_signature(url, params),
            }

        return sign


def _invalid_request(form: Mapping[str, str]) -> TwilioError | None:
    """Missing or malformed fields, with Twilio's codes and messages."""
    missing = [
        (not form.get("To"), (400, 21604, "A 'To' phone number is required.")),
        (
            not form.get("From") and not form.get("MessagingServiceSid"),
            (400, 21603, "A 'From' phone number is required."),
        ),
        (
            not form.get("Body") and not form.get("ContentSid"),
            (400, 21602, "Message body is required."),
        ),
    ]
    for absent, error in missing:
        if absent:
            return error
    if form.get("ContentVariables"):
        try:
            json.loads(form["ContentVariables"])
        except ValueError:
            return (400, 21658, "Invalid ContentVariables parameter")
    return None


def _error(error: TwilioError) -> DevResponse:
    status, code, message = error
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return DevResponse(status, body)


def _message_resource(account_sid: str, form: Mapping[str, str]) -> dict[str, Any]:
    """The message resource as Twilio answers a create."""
    sid = "SM" + secrets.token_hex(16)
    now = format_datetime(datetime.now(UTC), usegmt=True)
    body = form.get("Body", "")
    uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}"
    return {
        "account_sid": account_sid,
        "api_version": API_VERSION,
        "body": body,
        "date_created": now,
        "date_sent": None,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": form.get("From"),
        "messaging_service_sid": form.get("MessagingServiceSid"),
        "num_media": "0",
        "num_segments": str(max(1, sms_encoding(body).segments)),
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "accepted" if form.get("MessagingServiceSid") else "queued",
        "subresource_uris": {"media": f"{uri}/Media.json"},
        "to": form["To"],
        "uri": f"{uri}.json",
    }


def _outbox_entry(message: dict[str, Any], form: Mapping[str, str]) -> dict[str, Any]:
    variables = json.loads(form["ContentVariables"]) if form.get("ContentVariables") else None
    return {
        "id": message["sid"],
        "channel": "whatsapp" if message["to"].startswith(WHATSAPP) else "sms",
        "provider": "twilio",
        "to": message["to"],
        "from": message["from"] or message["messaging_service_sid"],
        "subject": None,
        "text": form.get("Body"),
        "html": None,
        "headers": {},
        "title": None,
        "body": None,
        "data": None,
        "content_sid": form.get("ContentSid"),
        "content_variables": variables,
        "num_segments": int(message["num_segments"]),
        # Herald names its delivery in the status callback URL Twilio posts to.
        "delivery_id": _query_value(form.get("StatusCallback", ""), "delivery_id"),
        "received_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


def _query_value(url: str, name: str) -> str | None:
    """One parameter of a URL's query string, or None."""
    return dict(parse_qsl(urlsplit(url).query)).get(name)
