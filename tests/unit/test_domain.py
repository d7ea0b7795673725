"""Pure domain logic: identifiers, delivery planning, status order, retry backoff, models."""

from __future__ import annotations

import time

import pytest
from herald.ids import new_id
from herald.models.notifications import Recipient as RecipientIn
from herald.models.notifications import SendNotificationRequest
from herald.services.audience import Recipient
from herald.services.delivering import RetryPolicy
from herald.services.dispatch import pack_messages, plan_deliveries
from herald.services.provider_events import next_status
from pydantic import ValidationError


def test_ids_carry_their_prefix_and_sort_by_creation_time() -> None:
    # given
    first = new_id("ntf")
    time.sleep(0.002)

    # when
    second = new_id("ntf")

    # then
    assert first.startswith("ntf_") and len(first) == 30
    assert first < second
    assert len({new_id("dlv") for _ in range(10_000)}) == 10_000


def test_each_recipient_gets_one_delivery_per_channel_and_no_address_is_skipped() -> None:
    # when
    recipients = [Recipient(fields={"email": "a@example.com"}), Recipient(fields={"phone": "+1"})]
    planned = plan_deliveries(recipients, ["email"])

    # then
    assert [(d.recipient_index, d.status, d.reason, d.address) for d in planned] == [
        (0, "queued", None, "a@example.com"),
        (1, "skipped", "no_address", None),
    ]


def test_deliveries_are_packed_fifty_to_a_message_per_channel() -> None:
    rows = [{"id": f"dlv_{i}", "channel": "email"} for i in range(101)]
    packed = pack_messages("ten_1", rows)
    assert [len(m.delivery_ids) for m in packed["email"]] == [50, 50, 1]
    assert packed["email"][2].delivery_ids == ["dlv_100"]


@pytest.mark.parametrize(
    ("current", "incoming", "expected"),
    [
        ("sent", "delivered", "delivered"),
        ("opened", "delivered", None),  # an open can arrive before its delivered
        ("delivered", "deferred", None),
        ("delivered", "bounced", "bounced"),  # an asynchronous bounce still ends it
        ("clicked", "opened", None),
        ("bounced", "delivered", None),
        ("sending", "sent", "sent"),
    ],
)
def test_a_status_only_moves_forward(current: str, incoming: str, expected: str | None) -> None:
    assert next_status(current, incoming) == expected


def test_retry_delays_grow_exponentially_with_jitter_and_a_cap() -> None:
    policy = RetryPolicy(base_seconds=30, cap_seconds=900)
    for attempt, (low, high) in {1: (15, 30), 2: (30, 60), 3: (60, 120), 10: (450, 900)}.items():
        delays = {policy.delay_for(attempt) for _ in range(200)}
        assert min(delays) >= low and max(delays) <= high
        assert len(delays) > 1


def test_phone_numbers_are_normalised_to_e164() -> None:
    assert RecipientIn(phone="+1 (415) 555-0100").phone == "+14155550100"
    with pytest.raises(ValidationError, match=r"E\.164"):
        RecipientIn(phone="415 555 0100")


def test_a_request_needs_exactly_one_of_template_and_content() -> None:
    base = {"recipients": [{"email": "a@example.com"}]}
    with pytest.raises(ValidationError, match="either template or content"):
        SendNotificationRequest.model_validate(base)
    with pytest.raises(ValidationError, match="either template or content"):
        SendNotificationRequest.model_validate(
            {**base, "template": "t", "content": {"email": {"subject": "s", "text": "t"}}}
        )


def test_email_content_needs_a_body() -> None:
    with pytest.raises(ValidationError, match="text or html"):
        SendNotificationRequest.model_validate(
            {"recipients": [{"email": "a@example.com"}], "content": {"email": {"subject": "s"}}}
        )
