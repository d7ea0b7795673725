"""Composing SMS and WhatsApp messages: segments, the WhatsApp window, inbound keywords."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from herald.channels.base import PermanentSendError
from herald.errors import Unprocessable
from herald.services.text_messages import (
    TwilioIdentity,
    compose_sms,
    compose_whatsapp,
    describe,
)
from herald.services.twilio_callbacks import _keyword

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
IDENTITY = TwilioIdentity(
    from_number="+15005550006",
    messaging_service_sid=None,
    whatsapp_from="whatsapp:+14155238886",
    public_base_url="https://herald.example.com/",
)
DELIVERY: dict[str, Any] = {"id": "dlv_1", "tenant_id": "ten_1", "address": "+14155550123"}
TEMPLATE = {"content_sid": "HX" + "a" * 32, "content_variables": {"1": "x"}}


def _whatsapp(content: dict[str, Any], last_inbound_at: datetime | None) -> Any:
    return compose_whatsapp(
        DELIVERY, content, IDENTITY, max_segments=10, last_inbound_at=last_inbound_at, now=NOW
    )


def test_the_status_callback_names_the_delivery_under_the_public_url() -> None:
    # when
    message = compose_sms(DELIVERY, {"text": "Hi"}, IDENTITY, 10)

    # then
    assert message.status_callback == (
        "https://herald.example.com/v1/callbacks/twilio/status?delivery_id=dlv_1&tenant_id=ten_1"
    )
    assert (message.to, message.sender, message.text) == ("+14155550123", "+15005550006", "Hi")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x" * 160, {"encoding": "GSM-7", "segments": 1}),
        ("x" * 161, {"encoding": "GSM-7", "segments": 2}),
        ("€" * 80, {"encoding": "GSM-7", "segments": 1}),
        ("€" * 81, {"encoding": "GSM-7", "segments": 2}),
        ("🚚" * 35, {"encoding": "UCS-2", "segments": 1}),
    ],
)
def test_the_encoding_and_segments_are_described(text: str, expected: dict[str, Any]) -> None:
    assert describe(compose_sms(DELIVERY, {"text": text}, IDENTITY, 10)) == expected


def test_a_text_over_the_segment_limit_is_unprocessable() -> None:
    with pytest.raises(Unprocessable, match="3 GSM-7 segments, more than the 2"):
        compose_sms(DELIVERY, {"text": "x" * 307}, IDENTITY, 2)


@pytest.mark.parametrize(
    ("last_inbound", "sends_text"),
    [
        (timedelta(hours=23, minutes=59), True),
        (timedelta(hours=24), False),
        (None, False),
    ],
)
def test_whatsapp_text_goes_only_within_24_hours_of_the_users_last_message(
    last_inbound: timedelta | None, sends_text: bool
) -> None:
    # given
    at = NOW - last_inbound if last_inbound is not None else None

    # when
    message = _whatsapp({"text": "Hi", **TEMPLATE}, at)

    # then
    assert message.to == "whatsapp:+14155550123"
    assert (message.text, message.content_sid) == (
        ("Hi", None) if sends_text else (None, TEMPLATE["content_sid"])
    )


def test_whatsapp_text_alone_outside_the_window_is_refused_before_any_call() -> None:
    with pytest.raises(PermanentSendError) as refused:
        _whatsapp({"text": "Hi"}, NOW - timedelta(days=2))
    assert refused.value.reason == "outside_session_window"


@pytest.mark.parametrize(
    ("body", "keyword"),
    [
        ("STOP", "stop"),
        ("  stopall\n", "stop"),
        ("Cancel", "stop"),
        ("end", "stop"),
        ("quit", "stop"),
        ("OptOut", "stop"),
        ("revoke", "stop"),
        ("unsubscribe", "stop"),
        ("start", "start"),
        ("YES", "start"),
        ("unstop", "start"),
        ("help", "help"),
        ("please stop", None),
        ("STOP!", None),
        ("", None),
    ],
)
def test_keywords_are_the_whole_body_in_any_case(body: str, keyword: str | None) -> None:
    assert _keyword(body) == keyword
