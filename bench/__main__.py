"""Pipeline benchmark on the local stack: real handlers, embedded PostgreSQL, moto, simulator.

Prints: API accept latency, dispatch rate (deliveries inserted and enqueued per second),
email send rate through the real `sendgrid` client, webhook send and fan-out rates, and
handler import (cold start) times.
moto and the simulator stand in for AWS and SendGrid on loopback, so the rates measure
Herald's own code and database work, not network latency to real providers.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from bench.templates import bench_template_renders
from bench.webhooks import bench_webhooks

ACCEPTS = 300
FANOUT = 1_000  # the most recipients one notification takes
PROVIDER_LATENCY_MS = 100
HANDLERS = ("api.handler", "dispatch.handler", "workers.email_worker", "webhooks.handler")


@dataclass
class Bench:
    handlers: dict[str, ModuleType]
    api_key: str
    resources: Any
    simulator: Any
    sqs: Any
    signing_key: Any

    def call_api(self, body: dict[str, Any]) -> dict[str, Any]:
        from local.lambda_context import LambdaContext

        event = {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": "/v1/notifications",
            "rawQueryString": "",
            "isBase64Encoded": False,
            "body": json.dumps(body),
            "headers": {
                "authorization": f"Bearer {self.api_key}",
                "content-type": "application/json",
            },
            "requestContext": {
                "http": {"method": "POST", "path": "/v1/notifications", "sourceIp": "127.0.0.1"},
                "requestId": "bench",
                "stage": "$default",
            },
        }
        response: dict[str, Any] = self.handlers["api.handler"].handler(event, LambdaContext("api"))
        assert response["statusCode"] == 202, response
        return response

    def drain(self, queue: Any, module: str) -> int:
        from local.lambda_context import LocalFunction
        from local.pollers import QueuePoller

        function = LocalFunction(module, self.handlers[module].handler, 60)
        poller = QueuePoller(self.sqs, queue.url, queue.arn, function, wait_seconds=0)
        total = 0
        while received := poller.poll_once():
            total += received
        return total


def email(recipients: int) -> dict[str, Any]:
    return {
        "recipients": [{"email": f"user{i}@example.com"} for i in range(recipients)],
        "content": {"email": {"subject": "Benchmark", "text": "Hello", "html": "<p>Hello</p>"}},
    }


def start() -> Bench:
    import boto3
    from herald.db.connection import Database
    from herald.db.migrate import migrate
    from herald.services.tenants import create_tenant
    from moto.server import ThreadedMotoServer

    from local.aws_resources import REGION, free_port, provision
    from local.functions import function_environment, import_handlers
    from local.postgres import start_embedded
    from local.simulator import ProviderSimulator

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    _, database_url = start_embedded(Path(tempfile.mkdtemp(prefix="hbench")))
    migrate(database_url)
    port = free_port()
    ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False).start()
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": REGION,
        }
    )
    signing_key = ec.generate_private_key(ec.SECP256R1())
    simulator = ProviderSimulator(sendgrid_api_key="SG.bench", sendgrid_signing_key=signing_key)
    simulator.start()
    resources = provision(
        {
            "sendgrid_api_key": "SG.bench",
            "sendgrid_webhook_public_key": simulator.sendgrid_public_key,
        }
    )
    os.environ.update(
        function_environment(
            resources, database_url, sendgrid_api_host=simulator.url, log_level="ERROR"
        )
    )
    handlers = {
        name.removeprefix("functions."): module for name, module in import_handlers().items()
    }
    _, key = create_tenant(Database(database_url), "bench")
    _consume_webhook_events(resources, handlers)
    return Bench(
        handlers,
        key.key,
        resources,
        simulator,
        boto3.client("sqs", region_name=REGION),
        signing_key,
    )


def _consume_webhook_events(resources: Any, handlers: dict[str, ModuleType]) -> None:
    """Consume the webhook-events queue all along, as the local runtime does: left to grow,
    moto's SNS-to-SQS delivery slows every publish down (over a second at 1,000 messages),
    which would be moto's cost, not Herald's."""
    import boto3

    from local.aws_resources import REGION
    from local.lambda_context import LocalFunction
    from local.pollers import QueuePoller

    module = "workers.webhook_events_worker"
    QueuePoller(
        boto3.client("sqs", region_name=REGION),
        resources.webhook_events.url,
        resources.webhook_events.arn,
        LocalFunction(module, handlers[module].handler, 120),
    ).start()


def accept_latency(bench: Bench) -> None:
    bench.call_api(email(1))
    latencies = []
    for i in range(ACCEPTS):
        started = time.perf_counter()
        bench.call_api(email(1))
        latencies.append((time.perf_counter() - started) * 1000)
        if i % 50 == 49:  # keep moto's queue shallow
            bench.drain(bench.resources.dispatch, "dispatch.handler")
    bench.drain(bench.resources.dispatch, "dispatch.handler")
    bench.drain(bench.resources.email, "workers.email_worker")
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95)]
    print(
        f"API accept (POST /v1/notifications, warm, {ACCEPTS} requests): "
        f"p50 {statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms, "
        f"{1000 / statistics.mean(latencies):.0f} requests/s on one thread"
    )


def fan_out(bench: Bench) -> None:
    bench.simulator.outbox.clear()
    bench.call_api(email(FANOUT))
    started = time.perf_counter()
    bench.drain(bench.resources.dispatch, "dispatch.handler")
    dispatched = time.perf_counter() - started
    started = time.perf_counter()
    bench.drain(bench.resources.email, "workers.email_worker")
    sent = time.perf_counter() - started
    assert len(bench.simulator.outbox.list()) == FANOUT
    print(
        f"Dispatch of {FANOUT} recipients (bulk insert, 50 deliveries per message): "
        f"{dispatched * 1000:.0f} ms, {FANOUT / dispatched:,.0f} deliveries/s"
    )
    print(
        f"Email worker, {FANOUT} emails via the sendgrid client to the simulator: "
        f"{sent:.1f} s, {FANOUT / sent:,.0f} emails/s on one worker"
    )
    # What a real provider looks like: every call takes a while.
    bench.simulator.set_latency(PROVIDER_LATENCY_MS)
    bench.call_api(email(FANOUT))
    bench.drain(bench.resources.dispatch, "dispatch.handler")
    started = time.perf_counter()
    bench.drain(bench.resources.email, "workers.email_worker")
    sent = time.perf_counter() - started
    bench.simulator.set_latency(0)
    print(
        f"Email worker, {FANOUT} emails with {PROVIDER_LATENCY_MS} ms provider latency: "
        f"{sent:.1f} s, {FANOUT / sent:,.0f} emails/s on one worker"
    )


def callback(bench: Bench) -> None:
    """One SendGrid Event Webhook post carrying a `delivered` event for every email sent."""
    from herald.db.connection import Database

    from local.lambda_context import LambdaContext

    rows = (
        Database(os.environ["DATABASE_URL"])
        .connection()
        .execute(
            "SELECT id, tenant_id, address FROM deliveries WHERE status = 'sent' LIMIT %s",
            (FANOUT,),
        )
        .fetchall()
    )
    now = int(time.time())
    payload = json.dumps(
        [
            {
                "email": r["address"],
                "timestamp": now,
                "event": "delivered",
                "sg_event_id": f"e{i}",
                "delivery_id": r["id"],
                "tenant_id": r["tenant_id"],
            }
            for i, r in enumerate(rows)
        ]
    )
    signature = bench.signing_key.sign((str(now) + payload).encode(), ec.ECDSA(hashes.SHA256()))
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/v1/callbacks/sendgrid",
        "rawQueryString": "",
        "isBase64Encoded": False,
        "body": payload,
        "headers": {
            "content-type": "application/json",
            "x-twilio-email-event-webhook-signature": base64.b64encode(signature).decode(),
            "x-twilio-email-event-webhook-timestamp": str(now),
        },
        "requestContext": {
            "http": {"method": "POST", "path": "/v1/callbacks/sendgrid", "sourceIp": "127.0.0.1"},
            "requestId": "bench",
            "stage": "$default",
        },
    }
    started = time.perf_counter()
    response = bench.handlers["webhooks.handler"].handler(event, LambdaContext("webhooks"))
    elapsed = time.perf_counter() - started
    assert response["statusCode"] == 200 and json.loads(response["body"])["applied"] == len(rows)
    print(
        f"SendGrid callback with {len(rows)} delivered events (verify, apply, publish): "
        f"{elapsed * 1000:.0f} ms, {len(rows) / elapsed:,.0f} events/s"
    )


def import_times() -> None:
    print("\nHandler import time (cold start, fresh interpreter, median of 3):")
    for name in HANDLERS:
        code = (
            "import time; t = time.perf_counter(); "
            f"import functions.{name}; print(time.perf_counter() - t)"
        )
        runs = [
            float(
                subprocess.run(
                    [sys.executable, "-c", code], capture_output=True, text=True, check=True
                ).stdout
            )
            * 1000
            for _ in range(3)
        ]
        print(f"  functions.{name:28} {statistics.median(runs):6.0f} ms")


def main() -> None:
    print(
        f"Herald pipeline benchmark, {time.strftime('%Y-%m-%d')}, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} cores\n"
    )
    bench = start()
    accept_latency(bench)
    fan_out(bench)
    callback(bench)
    bench_webhooks(bench)
    bench.simulator.stop()
    print()
    bench_template_renders()
    import_times()


if __name__ == "__main__":
    main()
