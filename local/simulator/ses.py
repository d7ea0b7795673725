"""Amazon SES API v2 `SendEmail`, with event publishing to SNS, as far as Herald uses them.

`POST /v2/email/outbound-emails` takes the REST-JSON body botocore's `sesv2` client sends
(`FromEmailAddress`, `Destination`, `Content.Simple`, `EmailTags`, `ConfigurationSetName`),
answers 200 `{"MessageId"}` and records one outbox entry per recipient. Errors come as SES
sends them: the status, an `x-amzn-ErrorType` header and `{"message"}`. When a configuration
set is named and an SNS topic is known, each recipient's events follow, `event_delay_seconds`
later, published to the topic in SES's event-publishing JSON (`eventType`, `mail` with the
message tags, and `delivery`/`bounce`/`complaint`/`open`/`click`), as an SNS event
destination receives them. Requests are not checked for a SigV4 signature (botocore signs
them); the account is the access key id of the `Credential` they name.

Failure injection, by the recipient's local part (as the SendGrid side):
- `bounce@...`     -> `Send`, then `Bounce` (Permanent, 5.1.1)
- `complaint@...`  -> `Send`, `Delivery`, then `Complaint`
- `opened@...`     -> `Send`, `Delivery`, `Open`, `Click`
- `invalid@...`    -> 400 BadRequestException (an address SES cannot parse)
- `ratelimit@...`  -> 429 TooManyRequestsException
- `error@...`      -> 500 InternalFailure
- anything else    -> `Send`, then `Delivery`
SES's own mailbox simulator `success@simulator.amazonses.com` is accepted and recorded as
nothing (it delivers nowhere).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any

from local.http import DevRequest, DevResponse
from local.simulator.outbox import Outbox

SEND_PATH = "/v2/email/outbound-emails"
SIMULATOR_SUCCESS_ADDRESS = "success@simulator.amazonses.com"
_ACCOUNT = "123456789012"
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
_FAILURES = {
    "invalid": (400, "BadRequestException", "Illegal address"),
    "ratelimit": (429, "TooManyRequestsException", "Maximum sending rate exceeded."),
    "error": (500, "InternalFailure", "An internal error occurred."),
}

Publish = Callable[[str], None]
"""Publishes one SNS message (the event's JSON text) to the configuration set's topic."""


def account_of(request: DevRequest) -> str:
    """The access key id the request was signed with."""
    match = _CREDENTIAL.search(request.headers.get("authorization", ""))
    return match.group(1) if match else ""


class SesSimulator:
    """The SES side of the provider simulator."""

    def __init__(self, outbox: Outbox, *, event_delay_seconds: float) -> None:
        self._outbox = outbox
        self._event_delay_seconds = event_delay_seconds
        self._publish: Publish | None = None

    def publish_events_with(self, publish: Publish | None) -> None:
        """Where event notifications go (the configuration set's SNS destination)."""
        self._publish = publish

    def send_email(self, request: DevRequest) -> DevResponse:
        """`POST /v2/email/outbound-emails`."""
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _error(400, "BadRequestException", "Malformed request body")
        problem = _problem(body)
        if problem is not None:
            return _error(400, "BadRequestException", problem)
        recipients = [str(a) for a in body["Destination"].get("ToAddresses", [])]
        for behaviour in {_behaviour(r) for r in recipients}:
            if behaviour in _FAILURES:
                return _error(*_FAILURES[behaviour])
        message_id = f"{secrets.token_hex(8)}-{secrets.token_hex(4)}-{secrets.token_hex(4)}-000000"
        simple = body["Content"]["Simple"]
        tags = {t["Name"]: t["Value"] for t in body.get("EmailTags", [])}
        for recipient in recipients:
            if recipient == SIMULATOR_SUCCESS_ADDRESS:
                continue
            self._outbox.record(_outbox_entry(body, simple, recipient, message_id, tags))
        config_set = body.get("ConfigurationSetName")
        if config_set and self._publish is not None:
            mail = _mail(body, simple, message_id, recipients, tags=tags, config_set=config_set)
            events = [
                e for r in recipients if r != SIMULATOR_SUCCESS_ADDRESS for e in _events(mail, r)
            ]
            publish = self._publish
            timer = threading.Timer(
                self._event_delay_seconds, lambda: [publish(json.dumps(e)) for e in events]
            )
            timer.daemon = True
            timer.start()
        return DevResponse(200, {"MessageId": message_id})


def _problem(body: dict[str, Any]) -> str | None:
    """What SES would refuse in a request Herald could send."""
    if not isinstance(body.get("FromEmailAddress"), str) or "@" not in body["FromEmailAddress"]:
        return "Missing required parameter FromEmailAddress"
    destination = body.get("Destination")
    if not isinstance(destination, dict) or not destination.get("ToAddresses"):
        return "Missing final '@domain'"
    simple = (
        body.get("Content", {}).get("Simple") if isinstance(body.get("Content"), dict) else None
    )
    if not isinstance(simple, dict) or not simple.get("Subject", {}).get("Data"):
        return "Missing required parameter Content.Simple.Subject"
    if not simple.get("Body"):
        return "Missing required parameter Content.Simple.Body"
    for tag in body.get("EmailTags", []):
        if not re.fullmatch(r"[A-Za-z0-9_\-.@]{1,256}", str(tag.get("Value", ""))):
            return f"Invalid tag value <{tag.get('Value')}>: only alphanumerics, _, -, . and @"
    return None


def _error(status: int, code: str, message: str) -> DevResponse:
    return DevResponse(status, {"message": message}, {"x-amzn-ErrorType": f"{code}:"})


def _behaviour(email: str) -> str:
    return email.split("@", 1)[0].split("+", 1)[0].lower()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _outbox_entry(
    body: dict[str, Any],
    simple: dict[str, Any],
    recipient: str,
    message_id: str,
    tags: dict[str, str],
) -> dict[str, Any]:
    content = simple.get("Body", {})
    return {
        "id": message_id,
        "channel": "email",
        "provider": "ses",
        "to": recipient,
        "from": parseaddr(body["FromEmailAddress"])[1],
        "subject": simple["Subject"]["Data"],
        "text": content.get("Text", {}).get("Data"),
        "html": content.get("Html", {}).get("Data"),
        "headers": {h["Name"]: h["Value"] for h in simple.get("Headers", [])},
        "title": None,
        "body": None,
        "data": tags,
        "received_at": _now(),
    }


def _mail(
    body: dict[str, Any],
    simple: dict[str, Any],
    message_id: str,
    recipients: list[str],
    *,
    tags: dict[str, str],
    config_set: str,
) -> dict[str, Any]:
    """The `mail` object of every event of one message, message tags included."""
    source = parseaddr(body["FromEmailAddress"])[1]
    return {
        "timestamp": _now(),
        "source": source,
        "sourceArn": f"arn:aws:ses:us-east-1:{_ACCOUNT}:identity/{source.split('@')[-1]}",
        "sendingAccountId": _ACCOUNT,
        "messageId": message_id,
        "destination": recipients,
        "headersTruncated": False,
        "headers": [
            {"name": "From", "value": source},
            {"name": "To", "value": ", ".join(recipients)},
            {"name": "Subject", "value": simple["Subject"]["Data"]},
        ],
        "commonHeaders": {
            "from": [source],
            "to": recipients,
            "messageId": message_id,
            "subject": simple["Subject"]["Data"],
        },
        "tags": {
            "ses:configuration-set": [config_set],
            "ses:source-ip": ["127.0.0.1"],
            "ses:from-domain": [source.split("@")[-1]],
            "ses:caller-identity": ["herald"],
            **{name: [value] for name, value in tags.items()},
        },
    }


def _events(mail: dict[str, Any], recipient: str) -> list[dict[str, Any]]:
    """One recipient's events in the order SES publishes them."""
    behaviour = _behaviour(recipient)

    def event(event_type: str, key: str, detail: dict[str, Any]) -> dict[str, Any]:
        return {"eventType": event_type, "mail": mail, key: {"timestamp": _now(), **detail}}

    sent = event("Send", "send", {})
    if behaviour == "bounce":
        bounce = {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": recipient,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
            "feedbackId": secrets.token_hex(16),
            "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
        }
        return [sent, event("Bounce", "bounce", bounce)]
    delivered = event(
        "Delivery",
        "delivery",
        {
            "processingTimeMillis": 120,
            "recipients": [recipient],
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": "a8-70.smtp-out.amazonses.com",
        },
    )
    if behaviour == "complaint":
        complaint = {
            "complainedRecipients": [{"emailAddress": recipient}],
            "feedbackId": secrets.token_hex(16),
            "complaintFeedbackType": "abuse",
            "userAgent": "Simulated ISP",
        }
        return [sent, delivered, event("Complaint", "complaint", complaint)]
    if behaviour == "opened":
        agent = "Mozilla/5.0 (Simulated)"
        opened = event("Open", "open", {"ipAddress": "192.0.2.1", "userAgent": agent})
        click = {
            "ipAddress": "192.0.2.1",
            "link": "https://example.com/",
            "linkTags": {},
            "userAgent": agent,
        }
        return [sent, delivered, opened, event("Click", "click", click)]
    return [sent, delivered]
