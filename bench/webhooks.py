"""Webhook figures: `webhook` channel sends per second on one worker, and what fanning one
status event out to ten endpoints costs, each beside the same POSTs made bare (signed with
`standardwebhooks`, sent with `http.client`, as many at once) to the same local sink."""

from __future__ import annotations

import http.client
import json
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from herald.channels.webhook_http import signature_headers
from herald.services.webhook_endpoints import new_secret

from local.http import LocalHttpServer
from local.simulator.webhook_sink import WebhookSink

if TYPE_CHECKING:
    from bench.__main__ import Bench

CHANNEL_SENDS = 1_000
ENDPOINTS = 10
EVENTS = 50
CONCURRENCY = 16  # a worker's sends in flight (HERALD_SEND_CONCURRENCY)


def _bare_posts(port: int, count: int, secret: str) -> float:
    """Seconds for `count` signed POSTs to the sink, CONCURRENCY at a time: the floor."""
    body = json.dumps({"text": "hello"})

    def post(i: int) -> None:
        headers = signature_headers(f"msg_{i}", datetime.now(UTC), body, [secret])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        connection.request("POST", "/_dev/webhook-sink/floor", body=body.encode(), headers=headers)
        response = connection.getresponse()
        response.read(1024)
        connection.close()
        assert response.status == 200

    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(post, range(count)))
    return time.perf_counter() - started


def bench_webhooks(bench: Bench) -> None:
    sink = WebhookSink()
    server = LocalHttpServer("127.0.0.1", 0, sink.route)
    server.start()
    try:
        _channel(bench, server.port, sink)
        _fan_out(bench, server.port, sink)
    finally:
        server.stop()


def _channel(bench: Bench, port: int, sink: WebhookSink) -> None:
    url = f"http://127.0.0.1:{port}/_dev/webhook-sink/channel"
    for start in range(0, CHANNEL_SENDS, 500):
        bench.call_api(
            {
                "recipients": [{"webhook_url": url}] * min(500, CHANNEL_SENDS - start),
                "content": {"webhook": {"body": {"text": "Deploy finished"}}},
            }
        )
    bench.drain(bench.resources.dispatch, "dispatch.handler")
    started = time.perf_counter()
    bench.drain(bench.resources.webhook, "workers.webhook_worker")
    elapsed = time.perf_counter() - started
    assert len(sink.items("channel")) == CHANNEL_SENDS, len(sink.items("channel"))
    floor = _bare_posts(port, CHANNEL_SENDS, new_secret())
    print(
        f"Webhook channel, {CHANNEL_SENDS} signed POSTs to the local sink: {elapsed:.1f} s, "
        f"{CHANNEL_SENDS / elapsed:,.0f} deliveries/s on one worker; bare signed POSTs "
        f"{CHANNEL_SENDS / floor:,.0f}/s; ratio {floor / elapsed:.2f}"
    )


def _fan_out(bench: Bench, port: int, sink: WebhookSink) -> None:
    from herald.channels.url_guard import UrlPolicy
    from herald.db.connection import Database
    from herald.models.webhooks import WebhookEndpointIn
    from herald.services.tenants import create_tenant
    from herald.services.webhook_endpoints import create_endpoint

    from local.lambda_context import LambdaContext

    db = Database(os.environ["DATABASE_URL"])
    # A tenant of its own: no event of the earlier figures reaches its endpoints.
    tenant_id, _ = create_tenant(db, "bench-webhooks")
    for i in range(ENDPOINTS):
        create_endpoint(
            db,
            tenant_id,
            WebhookEndpointIn(
                url=f"http://127.0.0.1:{port}/_dev/webhook-sink/e{i}",
                events=["delivery.delivered"],
            ),
            UrlPolicy(allow_local_sink=True),
            idempotency_key=None,
        )
    worker = bench.handlers["workers.webhook_events_worker"]
    timings = []
    for n in range(EVENTS):
        event = {
            "type": "delivery.delivered",
            "tenant_id": tenant_id,
            "delivery_id": f"dlv_{n}",
            "notification_id": "ntf_bench",
            "channel": "email",
            "status": "delivered",
            "at": datetime.now(UTC).isoformat(),
        }
        record: dict[str, Any] = {
            "messageId": f"bench-{n}",
            "receiptHandle": "r",
            "body": json.dumps(event),
            "attributes": {},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": bench.resources.webhook_events.arn,
            "awsRegion": "us-east-1",
        }
        started = time.perf_counter()
        result = worker.handler({"Records": [record]}, LambdaContext("webhook-events"))
        timings.append((time.perf_counter() - started) * 1000)
        assert result == {"batchItemFailures": []}, result
    assert all(len(sink.items(f"e{i}")) == EVENTS for i in range(ENDPOINTS))
    floors = [_bare_posts(port, ENDPOINTS, new_secret()) * 1000 for _ in range(EVENTS)]
    herald_ms, floor_ms = statistics.median(timings), statistics.median(floors)
    print(
        f"One status event fanned out to {ENDPOINTS} endpoints (store {ENDPOINTS} messages, "
        f"{ENDPOINTS} signed POSTs, {ENDPOINTS} attempt logs), median of {EVENTS}: "
        f"{herald_ms:.1f} ms; the {ENDPOINTS} bare signed POSTs {floor_ms:.1f} ms; "
        f"ratio {herald_ms / floor_ms:.1f}"
    )
