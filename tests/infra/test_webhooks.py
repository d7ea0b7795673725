"""Outbound webhooks: the topic feeds the webhook-events queue, filtered and raw."""

from __future__ import annotations

import pytest
from herald.models.webhooks import EVENT_TYPES

from tests.infra.cfn import Resources, herald_functions, logical_id, of_type
from tests.infra.test_permissions import _actions_of_role

pytestmark = pytest.mark.infra


def test_the_topic_feeds_the_webhook_events_queue_the_subscribable_types_raw(
    resources: Resources,
) -> None:
    # given
    queues = of_type(resources, "AWS::SQS::Queue")
    (queue_id,) = [
        key
        for key, q in queues.items()
        if q["Properties"].get("QueueName") == "herald-webhook-events"
    ]

    # when
    (subscription,) = [
        s["Properties"]
        for s in of_type(resources, "AWS::SNS::Subscription").values()
        if logical_id(s["Properties"]["Endpoint"]) == queue_id
    ]

    # then
    assert subscription["Protocol"] == "sqs"
    assert subscription["RawMessageDelivery"] is True
    assert subscription["FilterPolicy"] == {"type": list(EVENT_TYPES)}
    assert "RedrivePolicy" in queues[queue_id]["Properties"]


def test_the_webhook_events_worker_consumes_and_requeues_and_publishes_only(
    resources: Resources,
) -> None:
    # given
    worker = herald_functions(resources)["functions.workers.webhook_events_worker.handler"]

    # when
    actions = _actions_of_role(resources, logical_id(worker["Properties"]["Role"]))

    # then
    assert {"sqs:ReceiveMessage", "sqs:SendMessage", "sns:Publish"} <= actions
    assert not any(a.startswith("scheduler:") for a in actions)
    # the database credentials only; endpoint secrets live in the database
    assert {a for a in actions if a.startswith("secretsmanager:")} <= {
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
    }
    assert worker["Properties"]["Timeout"] == 120
