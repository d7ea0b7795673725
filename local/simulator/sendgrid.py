"""SendGrid v3 Mail Send, with signed Event Webhook callbacks, as far as Herald uses them.

`POST /v3/mail/send` checks the bearer key and validates the body as SendGrid does (401 and
400 with SendGrid's `{"errors": [...]}`), answers 202 with an `X-Message-Id`, records one
outbox entry per `to` recipient and, `event_delay_seconds` later, posts the recipients' events
to `{callback_base_url}/v1/callbacks/sendgrid` as one JSON array, signed with ECDSA P-256 like
SendGrid's Signed Event Webhook. Every `custom_args` key is merged into each event.

Failure injection, by the recipient address's local part (`+tags` ignored, so
`bounce+42@example.com` bounces too):

- `bounce@...`    -> `processed`, then `bounce` (status 5.1.1)
- `dropped@...`   -> `dropped` only
- `defer@...`     -> `processed`, `deferred`, then `delivered`
- `invalid@...`   -> the send itself fails: 400, "Does not contain a valid address."
- `ratelimit@...` -> the send itself fails: 429 with SendGrid's error body
- `error@...`     -> the send itself fails: 500
- anything else   -> `processed`, then `delivered`

Accounts: the key the simulator was made with, and any other key of SendGrid's shape
(`SG.<id>.<secret>`: a tenant's own account, for integrations) except one whose id is
`revoked` (401, as a deleted key). A mail with `mail_settings.sandbox_mode.enable` is
validated and answered 200 with no body, and neither recorded nor reported, as SendGrid does.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from local.http import DevRequest, DevResponse
from local.simulator.callbacks import CallbackDispatcher
from local.simulator.outbox import Outbox

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
CALLBACK_PATH = "/v1/callbacks/sendgrid"
_HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"
_KEY_SHAPE = re.compile(r"SG\.([A-Za-z0-9_-]{4,64})\.[A-Za-z0-9_-]{16,128}")

# (message, field, help) as SendGrid reports a validation error.
Error = tuple[str, str | None, str | None]


class SendGridSimulator:
    """The SendGrid side of the provider simulator."""

    def __init__(
        self,
        outbox: Outbox,
        callbacks: CallbackDispatcher,
        *,
        api_key: str,
        callback_base_url: Callable[[], str | None],
        event_delay_seconds: float,
        signing_key: ec.EllipticCurvePrivateKey | None = None,
    ) -> None:
        self._outbox = outbox
        self._callbacks = callbacks
        self._api_key = api_key
        self._callback_base_url = callback_base_url
        self._event_delay_seconds = event_delay_seconds
        self._signing_key = signing_key or ec.generate_private_key(ec.SECP256R1())

    @property
    def public_key(self) -> str:
        """The verification key as SendGrid's dashboard shows it: base64 DER SPKI."""
        der = self._signing_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode("ascii")

    def send_mail(self, request: DevRequest) -> DevResponse:
        """`POST /v3/mail/send`."""
        if (refusal := self._authorize(request)) is not None:
            return refusal
        mail, errors = _parse(request.body)
        if errors:
            return _errors(400, errors)
        recipients = [(p, to["email"]) for p in mail["personalizations"] for to in p["to"]]
        if (failure := _injected_failure({_behaviour(e) for _, e in recipients})) is not None:
            return failure
        if mail.get("mail_settings", {}).get("sandbox_mode", {}).get("enable") is True:
            return DevResponse(200, b"")
        message_id = _random_id()
        events: list[dict[str, Any]] = []
        for index, (personalization, email) in enumerate(recipients):
            sg_message_id = f"{message_id}.filterdrecv-sim-{index}-{int(time.time()):X}-0.0"
            custom_args = {**mail.get("custom_args", {}), **personalization.get("custom_args", {})}
            self._outbox.record(
                _outbox_entry(mail, personalization, email, sg_message_id, custom_args)
            )
            base = {
                **custom_args,
                "email": email,
                "timestamp": int(time.time()),
                "sg_message_id": sg_message_id,
                "smtp-id": f"<{message_id}@ismtpd-sim.sendgrid.net>",
            }
            events.extend(_recipient_events(_behaviour(email), base))
        base_url = self._callback_base_url()
        if base_url is not None:
            body = json.dumps(events).encode()
            url = base_url.rstrip("/") + CALLBACK_PATH
            self._callbacks.schedule(url, body, self._sign, self._event_delay_seconds)
        return DevResponse(202, b"", {"X-Message-Id": message_id})

    def _authorize(self, request: DevRequest) -> DevResponse | None:
        authorization = request.headers.get("authorization")
        if authorization is None:
            return _errors(401, [("authorization required", None, None)])
        key = authorization.removeprefix("Bearer ")
        shaped = _KEY_SHAPE.fullmatch(key)
        known = key == self._api_key or (shaped is not None and shaped.group(1) != "revoked")
        if not authorization.startswith("Bearer ") or not known:
            message = "The provided authorization grant is invalid, expired, or revoked"
            return _errors(401, [(message, None, None)])
        return None

    def _sign(self, body: bytes) -> dict[str, str]:
        timestamp = str(int(time.time()))
        signature = self._signing_key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "Content-Type": "application/json",
            "User-Agent": "SendGrid Event API",
            SIGNATURE_HEADER: base64.b64encode(signature).decode("ascii"),
            TIMESTAMP_HEADER: timestamp,
        }


def _parse(body: bytes) -> tuple[dict[str, Any], list[Error]]:
    """The mail request and what SendGrid would reject in it."""
    try:
        mail = json.loads(body)
    except ValueError:
        mail = None
    if not isinstance(mail, dict):
        return {}, [("Bad Request", None, None)]
    return mail, _validate(mail)


def _injected_failure(behaviours: set[str]) -> DevResponse | None:
    if "ratelimit" in behaviours:
        return _errors(429, [("too many requests", None, None)])
    if "error" in behaviours:
        return _errors(500, [("internal server error", None, None)])
    return None


def _validate(mail: dict[str, Any]) -> list[Error]:
    """SendGrid's checks on the fields Herald relies on, with SendGrid's messages."""
    errors: list[Error] = []
    personalizations = mail.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        errors.append(
            (
                "The personalizations field is required and must have at least one "
                "personalization.",
                "personalizations",
                f"{_HELP}#-Personalizations-Errors",
            )
        )
        personalizations = []
    errors.extend(_recipient_errors(personalizations))
    sender = mail.get("from")
    if not isinstance(sender, dict) or "@" not in str(sender.get("email", "")):
        errors.append(
            (
                "The from object must be provided for every email send. It is an object that "
                "requires the email parameter, but may also contain a name parameter.",
                "from.email",
                f"{_HELP}#message.from",
            )
        )
    templated = bool(mail.get("template_id"))
    every_has_subject = bool(personalizations) and all(
        isinstance(p, dict) and p.get("subject") for p in personalizations
    )
    if not (mail.get("subject") or every_has_subject or templated):
        errors.append(
            (
                "The subject is required. You can get around this requirement if you use a "
                "template with a subject defined or if every personalization has a subject "
                "defined.",
                "subject",
                f"{_HELP}#message.subject",
            )
        )
    content = mail.get("content")
    if not templated and (not isinstance(content, list) or not content):
        errors.append(
            (
                "Unless a valid template_id is provided, the content parameter is required. There "
                "must be at least one defined content block. We typically suggest both text/plain "
                "and text/html blocks are included, but only one block is required.",
                "content",
                f"{_HELP}#message.content",
            )
        )
    for index, block in enumerate(content if isinstance(content, list) else []):
        if not isinstance(block, dict) or not block.get("value"):
            errors.append(
                (
                    "The content value must be a string at least one character in length.",
                    f"content.{index}.value",
                    f"{_HELP}#message.content.value",
                )
            )
    return errors


def _recipient_errors(personalizations: list[Any]) -> list[Error]:
    errors: list[Error] = []
    for index, personalization in enumerate(personalizations):
        to = personalization.get("to") if isinstance(personalization, dict) else None
        if not isinstance(to, list) or not to:
            errors.append(
                (
                    "The to array is required for all personalization objects, and must have at "
                    "least one email object with a valid email address.",
                    f"personalizations.{index}.to",
                    f"{_HELP}#message.personalizations.to",
                )
            )
            continue
        for position, recipient in enumerate(to):
            email = str(recipient.get("email", "")) if isinstance(recipient, dict) else ""
            # `invalid@...` stands for an address SendGrid can't parse (failure injection).
            if "@" not in email or _behaviour(email) == "invalid":
                errors.append(
                    (
                        "Does not contain a valid address.",
                        f"personalizations.{index}.to.{position}.email",
                        f"{_HELP}#message.personalizations",
                    )
                )
    return errors


def _errors(status: int, errors: list[Error]) -> DevResponse:
    body = {"errors": [{"message": m, "field": f, "help": h} for m, f, h in errors]}
    return DevResponse(status, body)


def _behaviour(email: str) -> str:
    return email.split("@", 1)[0].split("+", 1)[0].lower()


def _random_id() -> str:
    # SendGrid's X-Message-Id and sg_event_id look like 22 url-safe base64 characters.
    return secrets.token_urlsafe(16)


def _outbox_entry(
    mail: dict[str, Any],
    personalization: dict[str, Any],
    email: str,
    entry_id: str,
    custom_args: dict[str, Any],
) -> dict[str, Any]:
    content = {block["type"]: block["value"] for block in reversed(mail.get("content", []))}
    return {
        "id": entry_id,
        "channel": "email",
        "provider": "sendgrid",
        "to": email,
        "from": mail["from"]["email"],
        "subject": personalization.get("subject") or mail.get("subject"),
        "text": content.get("text/plain"),
        "html": content.get("text/html"),
        "headers": {**mail.get("headers", {}), **personalization.get("headers", {})},
        "title": None,
        "body": None,
        "data": custom_args,
        # Herald names its delivery in the custom args SendGrid echoes in its events.
        "delivery_id": custom_args.get("delivery_id"),
        "received_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


def _recipient_events(behaviour: str, base: dict[str, Any]) -> list[dict[str, Any]]:
    """One recipient's events in the order SendGrid reports them."""

    def event(name: str, **fields: Any) -> dict[str, Any]:
        return {**base, "event": name, "sg_event_id": _random_id(), **fields}

    if behaviour == "dropped":
        return [event("dropped", reason="Bounced Address", status="5.0.0")]
    if behaviour == "bounce":
        reason = "550 5.1.1 The email account that you tried to reach does not exist."
        bounce = event(
            "bounce",
            reason=reason,
            status="5.1.1",
            type="bounce",
            bounce_classification="Invalid Address",
        )
        return [event("processed"), bounce]
    delivered = event("delivered", response="250 OK")
    if behaviour == "defer":
        deferred = event("deferred", response="451 4.7.1 Please try again later", attempt="1")
        return [event("processed"), deferred, delivered]
    return [event("processed"), delivered]
