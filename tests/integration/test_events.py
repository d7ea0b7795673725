"""Status changes are published on the SNS events topic with filterable attributes."""

from __future__ import annotations

import json
from typing import Any

import boto3

from tests.integration.conftest import Stack, Tenant
from tests.integration.pipeline import run_pipeline, send_email


def _subscribed_queue(stack: Stack) -> str:
    """An SQS queue subscribed to the events topic, as a customer-webhook consumer would be."""
    sqs = stack.sqs()
    url = sqs.create_queue(QueueName="events-subscriber")["QueueUrl"]
    sqs.purge_queue(QueueUrl=url)
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    boto3.client("sns", region_name="us-east-1").subscribe(
        TopicArn=stack.resources.events_topic_arn, Protocol="sqs", Endpoint=arn
    )
    return str(url)


def _events(stack: Stack, url: str) -> list[dict[str, Any]]:
    envelopes = [json.loads(m["Body"]) for m in stack.drain(url)]
    return [
        {
            **json.loads(e["Message"]),
            "attributes": {k: v["Value"] for k, v in e["MessageAttributes"].items()},
        }
        for e in envelopes
    ]


def test_sent_and_completed_events_are_published_per_tenant(stack: Stack, tenant: Tenant) -> None:
    # given
    url = _subscribed_queue(stack)
    _, _, accepted = send_email(stack, tenant.key, ["ada@example.com"])

    # when
    run_pipeline(stack)

    # then
    events = _events(stack, url)
    assert sorted(e["type"] for e in events) == ["delivery.sent", "notification.completed"]
    for event in events:
        assert event["tenant_id"] == tenant.id and event["notification_id"] == accepted["id"]
        assert event["attributes"] == {"type": event["type"], "tenant_id": tenant.id}
