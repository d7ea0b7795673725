"""Verifying Twilio's webhook signatures, and answering in TwiML, with the `twilio` library."""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

SIGNATURE_HEADER = "x-twilio-signature"


def verify_signature(
    auth_token: str, url: str, params: Mapping[str, str], signature: str | None
) -> bool:
    """True only for a request Twilio signed with `auth_token` for exactly this URL (the
    public one it called, query included) and these form parameters."""
    if not auth_token or not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))


def twiml_reply(text: str | None) -> str:
    """A TwiML document answering with `text`, or answering nothing."""
    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response)
