"""Outbound webhooks through the real handlers: fan-out per tenant, retries, auto-disable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from herald.models.messages import ChannelMessage, WebhookSendMessage
from herald.services.webhook_sending import fan_out, handle_send_message
from standardwebhooks.webhooks import Webhook

from local.http import LocalHttpServer
from local.simulator.webhook_sink import WebhookSink
from tests.integration.conftest import LambdaContext, Stack, Tenant
from tests.integration.pipeline import _poll, call_api, run_pipeline, send_email


@pytest.fixture
def sink() -> Iterator[tuple[WebhookSink, str]]:
    """A webhook sink on loopback: (the sink, its base URL)."""
    receiver = WebhookSink()
    server = LocalHttpServer("127.0.0.1", 0, receiver.route)
    server.start()
    yield receiver, f"http://127.0.0.1:{server.port}/_dev/webhook-sink"
    server.stop()


def run_webhook_events(stack: Stack) -> int:
    """Consume the webhook-events queue until it is empty, like its SQS trigger."""
    return _poll(stack, stack.resources.webhook_events, "workers.webhook_events_worker")


def _endpoint(stack: Stack, key: str, url: str, events: list[str]) -> dict[str, Any]:
    status, _, body = call_api(
        stack, "POST", "/v1/webhook-endpoints", key=key, body={"url": url, "events": events}
    )
    assert status == 201, body
    created: dict[str, Any] = body
    return created


def _attempts(stack: Stack, key: str, endpoint_id: str) -> list[dict[str, Any]]:
    _, _, body = call_api(stack, "GET", f"/v1/webhook-endpoints/{endpoint_id}/attempts", key=key)
    items: list[dict[str, Any]] = body["items"]
    return items


def test_a_tenants_events_never_reach_another_tenants_endpoints(
    stack: Stack, tenant: Tenant, other_tenant: Tenant, sink: tuple[WebhookSink, str]
) -> None:
    # given both tenants subscribed to delivery.sent
    receiver, base = sink
    mine = _endpoint(stack, tenant.key, f"{base}/a", ["delivery.sent"])
    _endpoint(stack, other_tenant.key, f"{base}/b", ["delivery.sent"])

    # when tenant A sends one email
    send_email(stack, tenant.key, ["ada@example.com"])
    run_pipeline(stack)
    run_webhook_events(stack)

    # then A's endpoint has it, signed with A's secret, and B's has nothing
    (item,) = receiver.items("a")
    assert Webhook(mine["secret"]).verify(item["body"], item["headers"])["type"] == "delivery.sent"
    assert receiver.items("b") == []


def test_a_redelivered_event_is_stored_and_sent_once(
    stack: Stack, tenant: Tenant, sink: tuple[WebhookSink, str]
) -> None:
    # given
    _, base = sink
    _endpoint(stack, tenant.key, f"{base}/a", ["delivery.sent"])
    event = {"type": "delivery.sent", "tenant_id": tenant.id, "delivery_id": "dlv_1"}

    # when the same queue message comes twice
    first = fan_out(stack.db, [("sqs-message-1", event)])
    second = fan_out(stack.db, [("sqs-message-1", event)])

    # then
    assert len(first) == 1 and second == []


def test_a_message_failing_every_attempt_ends_failed_with_each_attempt_logged(
    stack: Stack, tenant: Tenant, sink: tuple[WebhookSink, str]
) -> None:
    # given an endpoint answering 503 (the test schedule: three attempts, no waits)
    receiver, base = sink
    endpoint = _endpoint(stack, tenant.key, f"{base}/down?status=503", ["delivery.sent"])

    # when
    call_api(stack, "POST", f"/v1/webhook-endpoints/{endpoint['id']}/test", key=tenant.key)
    run_webhook_events(stack)

    # then
    attempts = _attempts(stack, tenant.key, endpoint["id"])
    assert [a["status_code"] for a in attempts] == [503, 503, 503]
    assert attempts[0]["next_attempt_at"] is None
    assert json.loads(attempts[0]["response_excerpt"]) == {"received": True}
    assert len(receiver.items("down")) == 3
    with stack.db.transaction() as conn:
        row = conn.execute("SELECT status, attempts FROM webhook_messages").fetchone()
    assert row == {"status": "failed", "attempts": 3}
    # failing for less than five days: still enabled
    _, _, read = call_api(stack, "GET", f"/v1/webhook-endpoints/{endpoint['id']}", key=tenant.key)
    assert read["status"] == "enabled"


def test_an_endpoint_failing_for_five_days_is_disabled_and_that_is_published(
    stack: Stack, tenant: Tenant, sink: tuple[WebhookSink, str]
) -> None:
    # given an endpoint failing since six days, and another watching for disabled endpoints
    receiver, base = sink
    failing = _endpoint(stack, tenant.key, f"{base}/down?status=500", ["delivery.sent"])
    watcher = _endpoint(stack, tenant.key, f"{base}/watch", ["webhook.endpoint_disabled"])
    with stack.db.transaction() as conn:
        conn.execute(
            "UPDATE webhook_endpoints SET failing_since = now() - interval '6 days' WHERE id = %s",
            (failing["id"],),
        )

    # when it fails once more
    call_api(stack, "POST", f"/v1/webhook-endpoints/{failing['id']}/test", key=tenant.key)
    run_webhook_events(stack)

    # then it is disabled at once (no more attempts) and the watcher is told
    _, _, read = call_api(stack, "GET", f"/v1/webhook-endpoints/{failing['id']}", key=tenant.key)
    assert (read["status"], read["disabled_reason"]) == ("disabled", "failing")
    assert len(_attempts(stack, tenant.key, failing["id"])) == 1
    (item,) = receiver.items("watch")
    event = Webhook(watcher["secret"]).verify(item["body"], item["headers"])
    assert event["type"] == "webhook.endpoint_disabled"
    assert event["data"]["endpoint_id"] == failing["id"]
    # enabling it again clears the failures
    _, _, enabled = call_api(
        stack,
        "PATCH",
        f"/v1/webhook-endpoints/{failing['id']}",
        key=tenant.key,
        body={"enabled": True},
    )
    assert (enabled["status"], enabled["disabled_reason"]) == ("enabled", None)


def test_retry_after_is_honoured(
    stack: Stack, tenant: Tenant, sink: tuple[WebhookSink, str]
) -> None:
    # given an endpoint answering 429 with Retry-After: 120
    _, base = sink
    endpoint = _endpoint(
        stack, tenant.key, f"{base}/busy?status=429&retry_after=120", ["delivery.sent"]
    )

    # when
    call_api(stack, "POST", f"/v1/webhook-endpoints/{endpoint['id']}/test", key=tenant.key)
    run_webhook_events(stack)

    # then the next attempt waits two minutes, though the schedule said none
    (attempt,) = _attempts(stack, tenant.key, endpoint["id"])
    wait = datetime.fromisoformat(attempt["next_attempt_at"]) - datetime.fromisoformat(
        attempt["at"]
    )
    assert timedelta(seconds=119) <= wait <= timedelta(seconds=125)


def test_a_send_message_due_later_hops_back_on_the_queue_and_sends_nothing(
    stack: Stack, tenant: Tenant, sink: tuple[WebhookSink, str]
) -> None:
    # given a stored message due in two hours
    receiver, base = sink
    _endpoint(stack, tenant.key, f"{base}/a", ["delivery.sent"])
    (stored,) = fan_out(stack.db, [("m1", {"type": "delivery.sent", "tenant_id": tenant.id})])
    due = datetime.now(UTC) + timedelta(hours=2)
    worker = stack.handlers["workers.webhook_events_worker"]

    # when its send message arrives early
    handle_send_message(
        stack.db,
        WebhookSendMessage(tenant_id=tenant.id, message_ids=[stored["id"]], due_at=due),
        worker.ports,
    )

    # then nothing is sent and the message waits on the queue (15 minutes, SQS's longest)
    assert receiver.items("a") == []
    attributes = stack.sqs().get_queue_attributes(
        QueueUrl=stack.resources.webhook_events.url,
        AttributeNames=["ApproximateNumberOfMessagesDelayed"],
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"


def run_webhook_worker(stack: Stack) -> int:
    return _poll(stack, stack.resources.webhook, "workers.webhook_worker")


def _delayed(stack: Stack, url: str) -> str:
    attributes = stack.sqs().get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    return str(attributes["ApproximateNumberOfMessagesDelayed"])


def test_a_webhook_channel_retry_longer_than_15_minutes_waits_in_hops(
    stack: Stack, tenant: Tenant, sink: tuple[WebhookSink, str]
) -> None:
    # given a recipient URL answering 503 with Retry-After: one hour
    receiver, base = sink
    call_api(
        stack,
        "POST",
        "/v1/notifications",
        key=tenant.key,
        body={
            "recipients": [{"webhook_url": f"{base}/busy?status=503&retry_after=3600"}],
            "content": {"webhook": {"body": {"text": "hello"}}},
        },
    )

    # when
    run_pipeline(stack)
    run_webhook_worker(stack)

    # then one attempt was made, and the retry waits an hour on the queue (15 minutes at a time)
    assert len(receiver.items("busy")) == 1
    with stack.db.transaction() as conn:
        delivery = conn.execute("SELECT id, status, next_attempt_at FROM deliveries").fetchone()
    assert delivery is not None and delivery["status"] == "deferred"
    wait = delivery["next_attempt_at"] - datetime.now(UTC)
    assert timedelta(minutes=59) < wait <= timedelta(hours=1)
    assert _delayed(stack, stack.resources.webhook.url) == "1"

    # and a message arriving before its time hops again without sending
    worker = stack.handlers["workers.webhook_worker"].worker
    early = ChannelMessage(
        tenant_id=tenant.id,
        channel="webhook",
        delivery_ids=[delivery["id"]],
        not_before=datetime.now(UTC) + timedelta(hours=1),
    )
    worker.send_record(SQSRecord({"body": early.model_dump_json(), "messageId": "m"}))
    assert len(receiver.items("busy")) == 1
    assert _delayed(stack, stack.resources.webhook.url) == "2"


def test_the_sweeper_sends_a_webhook_message_whose_queue_message_was_lost(
    stack: Stack, tenant: Tenant, sink: tuple[WebhookSink, str]
) -> None:
    # given a message stored 20 minutes ago whose queue message never came
    receiver, base = sink
    _endpoint(stack, tenant.key, f"{base}/a", ["delivery.sent"])
    (stored,) = fan_out(stack.db, [("m1", {"type": "delivery.sent", "tenant_id": tenant.id})])
    with stack.db.transaction() as conn:
        conn.execute("UPDATE webhook_messages SET next_attempt_at = now() - interval '20 minutes'")

    # when the sweeper runs, then the webhook-events worker
    result = stack.handlers["dispatch.sweeper"].handler({}, LambdaContext())
    run_webhook_events(stack)

    # then it was sent
    assert result["webhook_messages"] == 1
    (item,) = receiver.items("a")
    assert item["headers"]["webhook-id"] == stored["id"]
