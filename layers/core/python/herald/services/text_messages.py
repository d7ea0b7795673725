"""Composing SMS and WhatsApp messages for deliveries (sent through Twilio)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from herald.channels.base import PermanentSendError, TextMessage
from herald.errors import Unprocessable
from herald.templating import SmsEncoding, sms_encoding

STATUS_CALLBACK_PATH = "/v1/callbacks/twilio/status"
INBOUND_PATH = "/v1/callbacks/twilio/inbound"
# WhatsApp's customer-service window: free-form messages only this long after the user's last.
SESSION_WINDOW = timedelta(hours=24)
WHATSAPP_PREFIX = "whatsapp:"
# Twilio's own error for a free-form WhatsApp message outside the window.
OUTSIDE_SESSION_WINDOW = "outside_session_window"


@dataclass(frozen=True)
class TwilioIdentity:
    """Who the messages come from, per the provider secret, and where statuses go."""

    from_number: str | None
    messaging_service_sid: str | None
    whatsapp_from: str | None
    public_base_url: str

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any], public_base_url: str) -> TwilioIdentity:
        """From the provider secret's twilio_* keys."""
        return cls(
            from_number=credentials.get("twilio_from_number") or None,
            messaging_service_sid=credentials.get("twilio_messaging_service_sid") or None,
            whatsapp_from=credentials.get("twilio_whatsapp_from") or None,
            public_base_url=public_base_url,
        )

    def status_callback(self, delivery: dict[str, Any]) -> str:
        """The status callback URL of one delivery: Twilio signs it whole, query included,
        so the delivery it names cannot be forged."""
        query = urlencode({"delivery_id": delivery["id"], "tenant_id": delivery["tenant_id"]})
        return f"{self.public_base_url.rstrip('/')}{STATUS_CALLBACK_PATH}?{query}"


def measure_text(text: str, max_segments: int, *, field: str) -> SmsEncoding:
    """The encoding and segments of an SMS text; Unprocessable past `max_segments`."""
    measured = sms_encoding(text)
    if measured.segments > max_segments:
        message = (
            f"{field} takes {measured.segments} {measured.encoding} segments, more than the "
            f"{max_segments} allowed per message"
        )
        raise Unprocessable(message, [{"field": field, "message": message}])
    return measured


def compose_sms(
    delivery: dict[str, Any], content: dict[str, Any], identity: TwilioIdentity, max_segments: int
) -> TextMessage:
    """The SMS of a claimed delivery, given its (rendered) content.

    Raises Unprocessable (recorded as `render_failed`) when the text is longer than
    `max_segments` segments.
    """
    measure_text(content["text"], max_segments, field="sms.text")
    return TextMessage(
        to=delivery["address"],
        sender=identity.from_number,
        messaging_service_sid=identity.messaging_service_sid,
        status_callback=identity.status_callback(delivery),
        text=content["text"],
    )


def compose_whatsapp(
    delivery: dict[str, Any],
    content: dict[str, Any],
    identity: TwilioIdentity,
    *,
    max_segments: int,
    last_inbound_at: datetime | None,
    now: datetime,
) -> TextMessage:
    """The WhatsApp message of a claimed delivery: its text inside the user's 24-hour
    window, else its Content template.

    Free-form text outside the window fails at once with `outside_session_window` (what
    Twilio would answer with error 63016), without calling Twilio.
    """
    if not identity.whatsapp_from:
        raise PermanentSendError("no WhatsApp sender (twilio_whatsapp_from) is configured")
    in_window = last_inbound_at is not None and now - last_inbound_at < SESSION_WINDOW
    text = content.get("text")
    common = {
        "to": WHATSAPP_PREFIX + delivery["address"],
        "sender": identity.whatsapp_from,
        "messaging_service_sid": None,
        "status_callback": identity.status_callback(delivery),
    }
    if text and (in_window or not content.get("content_sid")):
        if not in_window:
            raise PermanentSendError(
                "free-form WhatsApp text outside the 24-hour window after the user's last "
                "message: send a Content template (content_sid)",
                reason=OUTSIDE_SESSION_WINDOW,
            )
        measure_text(text, max_segments, field="whatsapp.text")
        return TextMessage(**common, text=text)
    return TextMessage(
        **common,
        content_sid=content["content_sid"],
        content_variables=dict(content.get("content_variables") or {}),
    )


def describe(message: TextMessage) -> dict[str, Any]:
    """What a delivery records about its message: encoding and segments of a text."""
    if message.text is None:
        return {"content_sid": message.content_sid}
    measured = sms_encoding(message.text)
    return {"encoding": measured.encoding, "segments": measured.segments}


def phone_of(address: str) -> str:
    """+E164 from `+E164` or `whatsapp:+E164`."""
    return address.removeprefix(WHATSAPP_PREFIX)
