"""Batches through the real handlers: recipients landed in bulk, planned in slices by the
dispatch function, sent by the email worker to the simulator, counted from the deliveries."""

from __future__ import annotations

import gc
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from herald.services.sweeper import sweep

from local.lambda_context import LocalFunction
from local.pollers import QueuePoller
from tests.integration.conftest import Stack, Tenant
from tests.integration.pipeline import call_api, run_dispatch, run_pipeline

WELCOME = {
    "key": "welcome",
    "name": "Welcome",
    "locale": "en",
    "channels": {"email": {"subject": "Hello {{ name }}", "text": "Your code is {{ code }}."}},
    "translations": {
        "fr": {"email": {"subject": "Bonjour {{ name }}", "text": "Code {{ code }}."}}
    },
}


def _template(stack: Stack, tenant: Tenant) -> None:
    status, _, _ = call_api(stack, "POST", "/v1/templates", key=tenant.key, body=WELCOME)
    assert status == 201


def _people(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {"email": f"p{i}@example.com", "variables": {"code": f"C{i}"}}
        for i in range(start, start + count)
    ]


def _batch(stack: Stack, tenant: Tenant, batch_id: str) -> Any:
    status, _, batch = call_api(stack, "GET", f"/v1/batches/{batch_id}", key=tenant.key)
    assert status == 200
    return batch


def test_a_batch_of_two_thousand_sends_each_recipient_its_own_content(
    stack: Stack, tenant: Tenant
) -> None:
    # given a template and 2,000 recipients with their own variables, two of them twice,
    # one French
    _template(stack, tenant)
    recipients = _people(2000)
    recipients[7] = {"email": "p7@example.com", "locale": "fr", "variables": {"code": "C7"}}
    recipients += [{"email": "P5@example.com", "variables": {"code": "again"}}, recipients[9]]
    body = {"template": "welcome", "variables": {"name": "friend"}, "recipients": recipients}

    # when
    status, _, accepted = call_api(stack, "POST", "/v1/batches", key=tenant.key, body=body)
    dispatch_messages = stack.sqs().get_queue_attributes(
        QueueUrl=stack.resources.dispatch.url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]
    run_pipeline(stack)

    # then the duplicates are reported and not sent twice
    assert status == 202
    assert accepted["status"] == "processing"
    assert accepted["total"] == 2000 and accepted["duplicates"] == [2000, 2001]
    # planned in bounded slices, not by one dispatcher
    assert int(dispatch_messages) == 4
    outbox = stack.simulator.outbox.list()
    assert len(outbox) == 2000
    by_address = {m["to"]: m for m in outbox}
    assert by_address["p5@example.com"]["text"] == "Your code is C5."
    assert by_address["p1999@example.com"]["subject"] == "Hello friend"
    assert by_address["p7@example.com"]["subject"] == "Bonjour friend"
    assert by_address["p7@example.com"]["text"] == "Code C7."
    batch = _batch(stack, tenant, accepted["id"])
    assert batch["status"] == "completed" and batch["completed_at"] is not None
    assert batch["total"] == 2000 and batch["duplicates"] == 2
    assert batch["counts"]["sent"] == 2000
    assert sum(batch["counts"].values()) == 2000
    _, _, page = call_api(
        stack,
        "GET",
        f"/v1/batches/{accepted['id']}/recipients",
        key=tenant.key,
        query={"limit": "3", "status": "sent"},
    )
    assert [r["index"] for r in page["items"]] == [0, 1, 2]
    assert page["items"][1]["recipient"] == {"email": "p1@example.com"}
    assert page["items"][1]["variables"] == {"code": "C1"}
    assert [d["status"] for d in page["items"][1]["deliveries"]] == ["sent"]
    _, _, following = call_api(
        stack,
        "GET",
        f"/v1/batches/{accepted['id']}/recipients",
        key=tenant.key,
        query={"limit": "3", "cursor": page["next_cursor"]},
    )
    assert [r["index"] for r in following["items"]] == [3, 4, 5]


def test_chunks_replayed_with_their_key_add_nothing(stack: Stack, tenant: Tenant) -> None:
    # given an open batch
    _template(stack, tenant)
    status, _, opened = call_api(
        stack,
        "POST",
        "/v1/batches",
        key=tenant.key,
        body={"template": "welcome", "variables": {"name": "x"}, "start": False},
    )
    batch_id = opened["id"]
    path = f"/v1/batches/{batch_id}/recipients"

    # when a chunk is sent, replayed with its key, and a second chunk repeats someone
    first = call_api(
        stack,
        "POST",
        path,
        key=tenant.key,
        body={"recipients": _people(3)},
        headers={"Idempotency-Key": "chunk-1"},
    )
    replay = call_api(
        stack,
        "POST",
        path,
        key=tenant.key,
        body={"recipients": _people(3)},
        headers={"Idempotency-Key": "chunk-1"},
    )
    second = call_api(
        stack,
        "POST",
        path,
        key=tenant.key,
        body={"recipients": _people(3, start=2)},
        headers={"Idempotency-Key": "chunk-2"},
    )
    before_start = _batch(stack, tenant, batch_id)
    started = call_api(stack, "POST", f"/v1/batches/{batch_id}/start", key=tenant.key)
    again = call_api(stack, "POST", f"/v1/batches/{batch_id}/start", key=tenant.key)
    late_chunk = call_api(stack, "POST", path, key=tenant.key, body={"recipients": _people(1)})
    run_pipeline(stack)

    # then
    assert status == 202 and opened["status"] == "open" and opened["total"] == 0
    assert first[0] == 202 and first[2]["total"] == 3
    assert replay[1].get("idempotent-replayed") == "true" and replay[2] == first[2]
    assert second[2]["total"] == 5 and second[2]["duplicates"] == [0]
    assert before_start["status"] == "open" and before_start["counts"]["queued"] == 0
    assert started[0] == 202 and started[2]["status"] == "processing"
    assert again[0] == 409 and late_chunk[0] == 409
    assert sorted(m["to"] for m in stack.simulator.outbox.list()) == [
        f"p{i}@example.com" for i in range(5)
    ]
    assert _batch(stack, tenant, batch_id)["counts"]["sent"] == 5


def test_cancel_mid_way_leaves_the_rest_canceled(stack: Stack, tenant: Tenant) -> None:
    # given a batch of 1,500 planned, and the email worker through its first messages
    _template(stack, tenant)
    body = {"template": "welcome", "variables": {"name": "x"}, "recipients": _people(1500)}
    _, _, accepted = call_api(stack, "POST", "/v1/batches", key=tenant.key, body=body)
    run_dispatch(stack)
    module = "workers.email_worker"
    worker = LocalFunction(module, stack.handlers[module].handler, 60)
    queue = stack.resources.bulk["email"]  # a batch drains on the bulk lane
    QueuePoller(
        stack.sqs(), queue.url, queue.arn, worker, batch_size=10, wait_seconds=0
    ).poll_once()
    sent_before = len(stack.simulator.outbox.list())

    # when
    status, _, canceled = call_api(
        stack, "POST", f"/v1/batches/{accepted['id']}/cancel", key=tenant.key
    )
    run_pipeline(stack)

    # then what was sent stays sent, the rest is canceled and never sent
    assert status == 200 and canceled["status"] == "canceled"
    assert 0 < sent_before < 1500
    assert len(stack.simulator.outbox.list()) == sent_before
    batch = _batch(stack, tenant, accepted["id"])
    assert batch["status"] == "canceled"
    assert batch["counts"]["sent"] == sent_before
    assert batch["counts"]["canceled"] == 1500 - sent_before
    notification = call_api(
        stack, "GET", f"/v1/notifications/{batch['notification_id']}", key=tenant.key
    )[2]
    assert notification["status"] == "completed"
    again = call_api(stack, "POST", f"/v1/batches/{accepted['id']}/cancel", key=tenant.key)
    assert again[0] == 409


def test_batch_completed_is_published_once(stack: Stack, tenant: Tenant) -> None:
    # given a subscriber to batch.completed
    sqs = stack.sqs()
    url = sqs.create_queue(QueueName="batch-events")["QueueUrl"]
    sqs.purge_queue(QueueUrl=url)
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    boto3.client("sns", region_name="us-east-1").subscribe(
        TopicArn=stack.resources.events_topic_arn,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"FilterPolicy": json.dumps({"type": ["batch.completed"]})},
    )
    _template(stack, tenant)
    body = {
        "template": "welcome",
        "variables": {"name": "x"},
        # an unsubscribed address: its delivery is skipped, the rest sent
        "recipients": [*_people(120), {"user_id": "nobody-known"}],
    }

    # when
    _, _, accepted = call_api(stack, "POST", "/v1/batches", key=tenant.key, body=body)
    run_pipeline(stack)

    # then
    events = [json.loads(json.loads(m["Body"])["Message"]) for m in stack.drain(url)]
    assert [(e["type"], e["batch_id"]) for e in events] == [("batch.completed", accepted["id"])]
    assert events[0]["total"] == 121
    counts = _batch(stack, tenant, accepted["id"])["counts"]
    assert counts["sent"] == 120 and counts["skipped"] == 1


def test_bad_batches_are_refused_and_change_nothing(stack: Stack, tenant: Tenant) -> None:
    # given
    _template(stack, tenant)
    unknown = {"template": "nope", "recipients": _people(2)}
    missing = {"template": "welcome", "recipients": _people(2)}  # no `name`
    empty_start = {"template": "welcome", "variables": {"name": "x"}}

    # when
    answers = [
        call_api(stack, "POST", "/v1/batches", key=tenant.key, body=b)[0]
        for b in (unknown, missing, empty_start)
    ]
    absent = call_api(stack, "GET", "/v1/batches/bat_nope", key=tenant.key)[0]

    # then
    assert answers == [422, 422, 400] and absent == 404
    assert (
        stack.sqs().get_queue_attributes(
            QueueUrl=stack.resources.dispatch.url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        == "0"
    )


def test_a_large_batch_with_one_bad_recipient_is_refused_whole(
    stack: Stack, tenant: Tenant
) -> None:
    # given 10,000 recipients (a body large enough to be parsed with the collector paused),
    # one of them without any address
    _template(stack, tenant)
    recipients = _people(10_000)
    recipients[6_543] = {"variables": {"code": "none"}}
    body = {"template": "welcome", "variables": {"name": "x"}, "recipients": recipients}

    # when
    status, _, error = call_api(stack, "POST", "/v1/batches", key=tenant.key, body=body)
    listed = stack.db.connection().execute("SELECT count(*) AS n FROM batches").fetchone()

    # then the error names the recipient, nothing is stored, and the API collects garbage again
    assert status == 400
    assert any("6543" in json.dumps(d) for d in error["error"]["details"]), error
    assert listed is not None and listed["n"] == 0
    assert gc.isenabled()


def test_a_slice_whose_message_was_lost_is_planned_by_the_sweeper(
    stack: Stack, tenant: Tenant
) -> None:
    # given a started batch whose dispatch messages were all lost
    _template(stack, tenant)
    body = {"template": "welcome", "variables": {"name": "x"}, "recipients": _people(600)}
    _, _, accepted = call_api(stack, "POST", "/v1/batches", key=tenant.key, body=body)
    stack.sqs().purge_queue(QueueUrl=stack.resources.dispatch.url)
    run_pipeline(stack)
    assert _batch(stack, tenant, accepted["id"])["status"] == "processing"

    # when the sweeper runs past its grace
    sweeper: Any = stack.handlers["dispatch.sweeper"]
    result = sweep(
        stack.db,
        sweeper.dispatch_queue,
        sweeper.channel_queues,
        now=datetime.now(UTC) + timedelta(minutes=5),
    )
    run_pipeline(stack)

    # then every slice was planned once and sent
    assert result.notifications_requeued == 0
    batch = _batch(stack, tenant, accepted["id"])
    assert batch["status"] == "completed" and batch["counts"]["sent"] == 600
    assert len(stack.simulator.outbox.list()) == 600
