"""Amazon SES through the real email worker (botocore's sesv2 client against the simulator)
and its events through SNS (moto) and the SES-events queue back into deliveries."""

from __future__ import annotations

import time
from typing import Any

import pytest

from local.aws_resources import sns_publisher
from tests.integration.conftest import Stack, Tenant
from tests.integration.pipeline import _poll, call_api, create_integration, run_pipeline, send_email


def _ses_integration(stack: Stack, tenant: Tenant) -> str:
    created = create_integration(
        stack,
        tenant.key,
        {
            "channel": "email",
            "provider": "ses",
            "name": "SES",
            "settings": {"from_email": "mail@acme.example", "from_name": "Acme"},
        },
    )
    return str(created["id"])


def _apply_ses_events(stack: Stack, expected: int) -> None:
    """Consume the SES-events queue (as its SQS trigger) until `expected` events arrived."""
    received = 0
    deadline = time.monotonic() + 10
    while received < expected and time.monotonic() < deadline:
        received += _poll(stack, stack.resources.ses_events, "webhooks.ses_events")
        time.sleep(0.1)
    assert received == expected


def _delivery(stack: Stack, tenant: Tenant, notification_id: str) -> dict[str, Any]:
    _, _, body = call_api(stack, "GET", f"/v1/notifications/{notification_id}", key=tenant.key)
    (delivery,) = body["deliveries"]
    result: dict[str, Any] = delivery
    return result


@pytest.mark.parametrize(
    ("address", "events", "status", "suppression"),
    [
        ("ada@example.com", 2, "delivered", None),
        ("bounce@example.com", 2, "bounced", "bounce"),
        ("complaint@example.com", 3, "delivered", "spamreport"),
        ("opened@example.com", 4, "clicked", None),
    ],
)
def test_ses_sends_and_its_events_update_the_delivery_and_suppressions(
    stack: Stack,
    tenant: Tenant,
    *,
    address: str,
    events: int,
    status: str,
    suppression: str | None,
) -> None:
    # given
    integration_id = _ses_integration(stack, tenant)
    _, _, accepted = send_email(stack, tenant.key, [address])

    # when
    run_pipeline(stack)
    _apply_ses_events(stack, events)

    # then
    delivery = _delivery(stack, tenant, accepted["id"])
    assert (delivery["provider"], delivery["integration_id"]) == ("ses", integration_id)
    assert delivery["status"] == status
    (sent,) = stack.simulator.outbox.list()
    assert (sent["provider"], sent["from"], sent["to"]) == ("ses", "mail@acme.example", address)
    assert sent["data"]["delivery_id"] == delivery["id"]
    assert sent["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    _, _, suppressed = call_api(stack, "GET", "/v1/suppressions", key=tenant.key)
    reasons = [(s["address"], s["reason"]) for s in suppressed["items"]]
    assert reasons == ([(address, suppression)] if suppression else [])


def test_a_redelivered_ses_event_is_applied_once(stack: Stack, tenant: Tenant) -> None:
    # given a delivered email whose events were applied, as SNS published them
    published: list[str] = []
    publish = sns_publisher(stack.resources.ses_events_topic_arn)

    def keep_and_publish(message: str) -> None:
        published.append(message)
        publish(message)

    stack.simulator.ses.publish_events_with(keep_and_publish)
    try:
        _ses_integration(stack, tenant)
        _, _, accepted = send_email(stack, tenant.key, ["ada@example.com"])
        run_pipeline(stack)
        _apply_ses_events(stack, 2)
    finally:
        stack.simulator.ses.publish_events_with(publish)
    before = _delivery(stack, tenant, accepted["id"])

    # when SNS delivers the same notifications again (at least once, as SNS does)
    for message in published:
        publish(message)
    _apply_ses_events(stack, 2)

    # then the delivery was recorded delivered once
    after = _delivery(stack, tenant, accepted["id"])
    assert after["status"] == before["status"] == "delivered"
    assert [e["status"] for e in after["events"]].count("delivered") == 1
