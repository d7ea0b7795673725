"""Amazon SES event notifications (through the configuration set's SNS destination) applied
to deliveries like SendGrid's events.

Each SES event is put in SendGrid's terms and goes through the same code
(`apply_sendgrid_events`): the same status order, duplicates recorded once, hard bounces
and complaints suppressing the address. Deliveries are found by the `delivery_id` and
`tenant_id` message tags the SES sender set.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from herald.db.connection import Database
from herald.services.provider_events import AppliedEvents, apply_sendgrid_events

PROVIDER = "ses"


def apply_sns_messages(db: Database, bodies: list[str]) -> AppliedEvents:
    """Apply the SES events carried by SNS notifications (the bodies SQS received: SNS's
    envelope, whose `Message` is the event's JSON)."""
    events = []
    for body in bodies:
        envelope = json.loads(body)
        message = envelope.get("Message") if isinstance(envelope, dict) else None
        if not isinstance(message, str):
            continue
        event = json.loads(message)
        if isinstance(event, dict):
            events.extend(sendgrid_shaped(event))
    return apply_sendgrid_events(db, events, provider=PROVIDER)


def sendgrid_shaped(event: dict[str, Any]) -> list[dict[str, Any]]:
    """One SES event as a SendGrid event; none for an event Herald does not track, or one
    without Herald's tags."""
    event_type = str(event.get("eventType") or event.get("notificationType") or "")
    mail: dict[str, Any] = event["mail"] if isinstance(event.get("mail"), dict) else {}
    tags = mail.get("tags", {})
    delivery_id, tenant_id = _tag(tags, "delivery_id"), _tag(tags, "tenant_id")
    if not (delivery_id and tenant_id):
        return []
    detail = event.get(event_type[:1].lower() + event_type[1:], {})
    if not isinstance(detail, dict):
        detail = {}
    shaped = _shape(event_type, detail)
    if shaped is None:
        return []
    message_id = str(mail.get("messageId", ""))
    base = {
        "delivery_id": delivery_id,
        "tenant_id": tenant_id,
        "sg_message_id": message_id,
        "timestamp": _epoch(str(detail.get("timestamp") or mail.get("timestamp") or "")),
        # SES names no event id: the message, the event and its own id (or time) make one.
        "sg_event_id": f"{message_id}:{event_type}:"
        f"{detail.get('feedbackId') or detail.get('timestamp') or ''}",
    }
    return [
        {**base, "email": address, **shaped} for address in _recipients(event_type, detail, mail)
    ]


# SES events that map onto a SendGrid event alone -> (event, the detail field kept, as).
_SIMPLE: dict[str, tuple[str, str | None, str | None]] = {
    "Send": ("processed", None, None),
    "Delivery": ("delivered", "smtpResponse", "response"),
    "DeliveryDelay": ("deferred", "delayType", "response"),
    "Complaint": ("spamreport", None, None),
    "Reject": ("dropped", "reason", "reason"),
    "Open": ("open", None, None),
    "Click": ("click", "link", "url"),
}


def _shape(event_type: str, detail: dict[str, Any]) -> dict[str, Any] | None:
    if event_type == "Bounce":
        return _bounce(detail)
    if event_type not in _SIMPLE:
        return None
    name, field, as_field = _SIMPLE[event_type]
    shaped = {"event": name}
    if field is not None and as_field is not None:
        shaped[as_field] = str(detail.get(field, ""))
    return shaped


def _bounce(detail: dict[str, Any]) -> dict[str, Any]:
    recipients = detail.get("bouncedRecipients") or [{}]
    first = recipients[0] if isinstance(recipients[0], dict) else {}
    reason = str(first.get("diagnosticCode") or detail.get("bounceSubType") or "bounce")
    if detail.get("bounceType") != "Permanent":
        # A soft bounce: SES tries no more, but the address may work later.
        return {"event": "deferred", "response": reason}
    return {
        "event": "bounce",
        "type": "bounce",
        "status": str(first.get("status", "")),
        "reason": reason,
    }


def _recipients(event_type: str, detail: dict[str, Any], mail: dict[str, Any]) -> list[str]:
    """The address an event is about (Herald sends one recipient per mail; the mail's when
    the event names none)."""
    listed: list[Any] = []
    if event_type == "Bounce":
        listed = [r.get("emailAddress") for r in detail.get("bouncedRecipients", [])]
    elif event_type == "Complaint":
        listed = [r.get("emailAddress") for r in detail.get("complainedRecipients", [])]
    elif event_type == "Delivery":
        listed = list(detail.get("recipients", []))
    addresses = [str(a) for a in listed if a] or [str(a) for a in mail.get("destination", [])]
    return addresses[:1] if addresses else [""]


def _tag(tags: Any, name: str) -> str | None:
    values = tags.get(name) if isinstance(tags, dict) else None
    if isinstance(values, list) and values and isinstance(values[0], str):
        return values[0]
    return None


def _epoch(timestamp: str) -> int | None:
    try:
        return int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None
