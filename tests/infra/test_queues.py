"""Every queue: a redrive DLQ, a visibility timeout sized for its consumer, partial failures."""

from __future__ import annotations

import pytest
from herald.aws.sqs import DELIVERED_CHANNELS

from tests.infra.cfn import Resources, as_list, logical_id, of_type

pytestmark = pytest.mark.infra


def _dead_letter_queue_ids(resources: Resources) -> set[str]:
    return {
        logical_id(queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
        for queue in of_type(resources, "AWS::SQS::Queue").values()
        if "RedrivePolicy" in queue["Properties"]
    }


def test_every_queue_but_the_dead_letter_queues_redrives_to_one(resources: Resources) -> None:
    # given
    queues = of_type(resources, "AWS::SQS::Queue")
    dead_letter_queues = _dead_letter_queue_ids(resources)

    # when
    work_queues = {key: queue for key, queue in queues.items() if key not in dead_letter_queues}

    # then
    assert len(work_queues) >= 4, "the dispatch, email, sms and whatsapp queues"
    for key, queue in work_queues.items():
        redrive = queue["Properties"].get("RedrivePolicy")
        assert redrive is not None, f"{key} has no dead-letter queue"
        assert redrive["maxReceiveCount"] == 5, key
    assert len(dead_letter_queues) == len(work_queues), "one dead-letter queue per queue"


def test_dead_letter_queues_keep_messages_for_14_days(resources: Resources) -> None:
    # given
    queues = of_type(resources, "AWS::SQS::Queue")

    # when
    retention = {
        key: queues[key]["Properties"].get("MessageRetentionPeriod")
        for key in _dead_letter_queue_ids(resources)
    }

    # then
    assert retention
    assert set(retention.values()) == {14 * 24 * 3600}, retention


def test_every_sqs_event_source_mapping_reports_batch_item_failures(resources: Resources) -> None:
    # given
    mappings = of_type(resources, "AWS::Lambda::EventSourceMapping")

    # when
    response_types = {
        key: mapping["Properties"].get("FunctionResponseTypes", [])
        for key, mapping in mappings.items()
    }

    # then
    assert len(response_types) == 17, (
        "dispatch, the seven channel workers on both lanes, webhook events and SES events"
    )
    for key, types in response_types.items():
        assert "ReportBatchItemFailures" in types, key
        assert mappings[key]["Properties"]["BatchSize"] == 10, key


def test_visibility_timeout_is_at_least_six_times_the_consumer_timeout(
    resources: Resources,
) -> None:
    # given
    mappings = of_type(resources, "AWS::Lambda::EventSourceMapping").values()

    # when
    pairs = [
        (
            resources[logical_id(mapping["Properties"]["EventSourceArn"])]["Properties"],
            resources[logical_id(mapping["Properties"]["FunctionName"])]["Properties"],
        )
        for mapping in mappings
    ]

    # then
    assert pairs
    for queue, function in pairs:
        assert queue["VisibilityTimeout"] >= 6 * function["Timeout"], (queue, function["Handler"])


def test_email_worker_waits_a_few_seconds_to_fill_a_batch(resources: Resources) -> None:
    # given
    mappings = of_type(resources, "AWS::Lambda::EventSourceMapping").values()

    # when
    email_mapping = next(
        mapping["Properties"]
        for mapping in mappings
        if resources[logical_id(mapping["Properties"]["FunctionName"])]["Properties"]["Handler"]
        == "functions.workers.email_worker.handler"
    )

    # then
    assert 1 <= email_mapping["MaximumBatchingWindowInSeconds"] <= 5


def test_queues_are_encrypted_and_refuse_plain_http(resources: Resources) -> None:
    # given
    queues = of_type(resources, "AWS::SQS::Queue")
    policies = of_type(resources, "AWS::SQS::QueuePolicy").values()

    # when
    tls_only = {
        logical_id(queue_ref)
        for policy in policies
        for statement in as_list(policy["Properties"]["PolicyDocument"]["Statement"])
        if statement["Effect"] == "Deny"
        and statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        for queue_ref in policy["Properties"]["Queues"]
    }

    # then
    for key, queue in queues.items():
        properties = queue["Properties"]
        assert properties.get("SqsManagedSseEnabled") or "KmsMasterKeyId" in properties, key
    assert tls_only == set(queues), "every queue denies requests without TLS"


def test_each_dead_letter_queue_alarms_on_its_first_message(resources: Resources) -> None:
    # given
    alarms = of_type(resources, "AWS::CloudWatch::Alarm").values()

    # when
    watched = {
        logical_id(dimension["Value"])
        for alarm in alarms
        if alarm["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and alarm["Properties"]["Threshold"] == 0
        and alarm["Properties"]["ComparisonOperator"] == "GreaterThanThreshold"
        for dimension in alarm["Properties"]["Dimensions"]
        if dimension["Name"] == "QueueName"
    }

    # then
    assert watched == _dead_letter_queue_ids(resources)


def test_every_delivered_channel_has_a_bulk_lane_its_worker_consumes_less_concurrently(
    resources: Resources,
) -> None:
    # given
    queues = of_type(resources, "AWS::SQS::Queue")
    mappings = of_type(resources, "AWS::Lambda::EventSourceMapping").values()

    # when: each queue's name, and its consumer's handler and maximum concurrency
    consumers = {
        queues[logical_id(mapping["Properties"]["EventSourceArn"])]["Properties"]["QueueName"]: (
            resources[logical_id(mapping["Properties"]["FunctionName"])]["Properties"]["Handler"],
            mapping["Properties"]["ScalingConfig"]["MaximumConcurrency"],
        )
        for mapping in mappings
    }

    # then
    for channel in DELIVERED_CHANNELS:
        name = f"herald-{channel.replace('_', '-')}"
        handler, normal = consumers[name]
        bulk_handler, bulk = consumers[f"{name}-bulk"]
        assert bulk_handler == handler, channel
        assert bulk < normal, channel
