"""Verifying SendGrid Event Webhook signatures with the `sendgrid` library's helper."""

from __future__ import annotations

import binascii

from cryptography.exceptions import UnsupportedAlgorithm
from sendgrid.helpers.eventwebhook import EventWebhook

SIGNATURE_HEADER = "x-twilio-email-event-webhook-signature"
TIMESTAMP_HEADER = "x-twilio-email-event-webhook-timestamp"


def verify_signature(
    public_key: str, payload: str, signature: str | None, timestamp: str | None
) -> bool:
    """True only for a payload signed by the holder of `public_key` (ECDSA P-256, SHA-256)."""
    if not signature or not timestamp:
        return False
    verifier = EventWebhook()
    try:
        key = verifier.convert_public_key_to_ecdsa(public_key)
        return bool(verifier.verify_signature(payload, signature, timestamp, public_key=key))
    except (binascii.Error, ValueError, UnsupportedAlgorithm):
        return False
