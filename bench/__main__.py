"""Pipeline benchmark on the local stack: real handlers, embedded PostgreSQL, moto, simulator.

Prints: API accept latency, dispatch rate (deliveries inserted and enqueued per second),
email send rate through the real `sendgrid` client, SMS send rate through the real `twilio`
client beside the bare client's own time per call, push and web push rates through
`firebase-admin` and `pywebpush` beside the bare libraries, in-app stores and inbox counts,
webhook send and fan-out rates beside bare signed POSTs, what a delivery uses and costs in AWS
(bench/costs.py), and handler import (cold start) times beside a bare Powertools import.
moto and the simulator stand in for AWS and SendGrid on loopback, so the rates measure
Herald's own code and database work, not network latency to real providers.
"""

from __future__ import annotations

import base64
import compileall
import json
import logging
import os
import py_compile
import shutil
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

from bench import costs
from bench.batches import BATCH, bench_batches
from bench.inbox import bench_inbox
from bench.push import bench_push
from bench.sms import TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, bench_sms, twilio_secret
from bench.templates import bench_template_renders
from bench.webhooks import bench_webhooks

ACCEPTS = 300
FANOUT = 1_000  # the most recipients one notification takes
PROVIDER_LATENCY_MS = 100
HANDLERS = (
    "api.handler",
    "dispatch.handler",
    "workers.email_worker",
    "workers.sms_worker",
    "workers.push_worker",
    "workers.web_push_worker",
    "webhooks.handler",
)
IMPORT_RUNS = 9
# The API handler's import before issue 16 (commit 643fa80), median of 11 fresh interpreters
# interleaved with a bare `import aws_lambda_powertools`, in this benchmark's environment on
# the 2-core development machine while it was quiet: the ratio to the floor is what compares
# across runs (a loaded machine slows small imports more, so compare quiet runs).
BASELINE_API_IMPORT_MS, BASELINE_FLOOR_MS = 719.0, 28.0
REPO_ROOT = Path(__file__).resolve().parent.parent
# What `python -m bench [section ...]` runs (all when none is named): every pipeline figure
# (rates, costs, renders), and the handlers' import times.
SECTIONS = ("pipeline", "imports")
COST_DELIVERIES = 200
# Function name (as in infra/constants.py) and memory, by handler module.
FUNCTIONS = {
    "api.handler": ("api", 512),
    "dispatch.handler": ("dispatch", 512),
    "workers.email_worker": ("email-worker", 512),
    "workers.sms_worker": ("sms-worker", 512),
    "workers.push_worker": ("push-worker", 512),
    "workers.web_push_worker": ("web-push-worker", 512),
    "workers.in_app_worker": ("in-app-worker", 512),
    "workers.webhook_events_worker": ("webhook-events-worker", 512),
    "workers.webhook_worker": ("webhook-worker", 512),
    "webhooks.handler": ("webhooks", 256),
}


@dataclass
class Bench:
    handlers: dict[str, ModuleType]
    api_key: str
    resources: Any
    simulator: Any
    sqs: Any
    signing_key: Any
    meter: costs.Meter
    tenant_id: str
    postgres: Any
    # The local stand-in for the inbox's API Gateway WebSocket API.
    websocket: Any

    def handler(self, module: str) -> Any:
        """The module's handler, metered as its function (counts only while recording)."""
        return self.meter.wrap(FUNCTIONS[module][0], self.handlers[module].handler)

    def call_api(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /v1/notifications, which must answer 202."""
        response = self.request("POST", "/v1/notifications", body)
        assert response["statusCode"] == 202, response
        return response

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One call to the API function, as API Gateway makes it; its response."""
        from local.lambda_context import LambdaContext

        event = self.api_event(body, method=method, path=path)
        response: dict[str, Any] = self.handler("api.handler")(event, LambdaContext("api"))
        return response

    def api_event(
        self,
        body: dict[str, Any] | None,
        *,
        method: str = "POST",
        path: str = "/v1/notifications",
    ) -> dict[str, Any]:
        """A request as API Gateway (payload 2.0) hands it to the function."""
        return {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": "",
            "isBase64Encoded": False,
            "body": json.dumps(body) if body is not None else None,
            "headers": {
                "authorization": f"Bearer {self.api_key}",
                "content-type": "application/json",
            },
            "requestContext": {
                "http": {"method": method, "path": path, "sourceIp": "127.0.0.1"},
                "requestId": "bench",
                "stage": "$default",
            },
        }

    def drain(self, queue: Any, module: str) -> int:
        from local.lambda_context import LocalFunction
        from local.pollers import QueuePoller

        function = LocalFunction(module, self.handler(module), 60)
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
    from herald.aws.clients import session
    from herald.db.connection import Database
    from herald.db.migrate import migrate
    from herald.services.tenants import create_tenant
    from moto.server import ThreadedMotoServer

    from local.aws_resources import REGION, free_port, provision
    from local.functions import function_environment, import_handlers
    from local.postgres import start_embedded
    from local.simulator import ProviderSimulator
    from local.websocket import WebSocketGateway

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Every AWS call the handlers and the pollers (clients of the same session) make.
    meter = costs.Meter()
    meter.attach(session())
    postgres, database_url = start_embedded(Path(tempfile.mkdtemp(prefix="hbench")))
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
    simulator = ProviderSimulator(
        sendgrid_api_key="SG.bench",
        sendgrid_signing_key=signing_key,
        twilio_account_sid=TWILIO_ACCOUNT_SID,
        twilio_auth_token=TWILIO_AUTH_TOKEN,
    )
    simulator.start()
    resources = provision(
        {
            "sendgrid_api_key": "SG.bench",
            "sendgrid_webhook_public_key": simulator.sendgrid_public_key,
            **twilio_secret(),
            "fcm_service_account": simulator.fcm_service_account(),
        },
        # The webhook figures invoke the events worker directly; subscribed, moto would add
        # its own delivery to every publish of every other figure (see provision).
        webhook_events_subscription=False,
    )
    websocket_port, management_port = free_port(), free_port()
    os.environ.update(
        function_environment(
            resources,
            database_url,
            sendgrid_api_host=simulator.url,
            log_level="ERROR",
            twilio_api_base_url=simulator.url,
            simulator_url=simulator.url,
            websocket_url=f"ws://127.0.0.1:{websocket_port}",
            websocket_management_url=f"http://127.0.0.1:{management_port}",
        )
    )
    handlers = {
        name.removeprefix("functions."): module for name, module in import_handlers().items()
    }
    websocket = WebSocketGateway.started(
        "127.0.0.1", websocket_port, management_port, handlers["realtime.handler"].handler
    )
    tenant_id, key = create_tenant(Database(database_url), "bench")
    return Bench(
        handlers,
        key.key,
        resources,
        simulator,
        session().create_client("sqs", region_name=REGION),
        signing_key,
        meter,
        tenant_id,
        postgres,
        websocket,
    )


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
    applied, elapsed = post_delivered(bench)
    print(
        f"SendGrid callback with {applied} delivered events (verify, apply, publish): "
        f"{elapsed * 1000:.0f} ms, {applied / elapsed:,.0f} events/s"
    )


def post_delivered(bench: Bench, since: float = 0.0) -> tuple[int, float]:
    """Post `delivered` for the emails sent since `since` (epoch seconds, at most FANOUT) in one
    Event Webhook request; returns the events applied and the handler's time."""
    from herald.db.connection import Database

    from local.lambda_context import LambdaContext

    rows = (
        Database(os.environ["DATABASE_URL"])
        .connection()
        .execute(
            "SELECT id, tenant_id, address FROM deliveries"
            " WHERE status = 'sent' AND created_at >= to_timestamp(%s) LIMIT %s",
            (since, FANOUT),
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
    response = bench.handler("webhooks.handler")(event, LambdaContext("webhooks"))
    elapsed = time.perf_counter() - started
    assert response["statusCode"] == 200 and json.loads(response["body"])["applied"] == len(rows)
    return len(rows), elapsed


def delivery_costs(bench: Bench) -> None:
    """Meter single-recipient notifications through the whole pipeline, provider latency
    included, and price what they used (bench/costs.py)."""
    bench.simulator.set_latency(PROVIDER_LATENCY_MS)
    since = time.time() - 1
    bench.meter.start()
    for i in range(COST_DELIVERIES):
        bench.call_api(email(1))
        if i % 50 == 49:  # keep moto's queue shallow
            bench.drain(bench.resources.dispatch, "dispatch.handler")
    bench.drain(bench.resources.dispatch, "dispatch.handler")
    bench.drain(bench.resources.email, "workers.email_worker")
    events, _ = post_delivered(bench, since)
    bench.meter.stop()
    bench.simulator.set_latency(0)
    assert events == COST_DELIVERIES, events
    use = costs.per_delivery(
        bench.meter,
        COST_DELIVERIES,
        {name: memory for name, memory in FUNCTIONS.values()},
        webhook_events=events,
    )
    costs.report(use)


_IMPORT = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
# A cold environment's first accepted send: the import, then POST /v1/notifications against the
# benchmark's database and moto (what was deferred from the import is paid here).
_FIRST_SEND = """
import time
t = time.perf_counter()
import functions.api.handler as api
imported = time.perf_counter() - t
import json, os
from local.lambda_context import LambdaContext
event = json.loads(os.environ["BENCH_FIRST_SEND_EVENT"])
t = time.perf_counter()
response = api.handler(event, LambdaContext("api"))
sent = time.perf_counter() - t
assert response["statusCode"] == 202, response
print(imported, sent)
"""


def _run_timed(
    code: str, environment: dict[str, str] | None = None, cwd: Path | None = None
) -> list[float]:
    output = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(environment or {})},
        cwd=cwd,
    ).stdout
    return [float(value) * 1000 for value in output.split()]


def _code_as_deployed(root: Path, *, bytecode: bool) -> Path:
    """The functions' code and the `herald` package laid out as Lambda gets them (under
    `root`, which the timed interpreters run in): sources only, as before the assets shipped
    bytecode, or with bytecode, as infra/bundling.py compiles it for the runtime (here by this
    interpreter, standing in for the runtime's Python). Whatever this machine has cached in
    the working tree plays no part either way."""
    shutil.copytree(REPO_ROOT / "functions", root / "functions", ignore=_NO_BYTECODE)
    herald = REPO_ROOT / "layers" / "core" / "python" / "herald"
    shutil.copytree(herald, root / "herald", ignore=_NO_BYTECODE)
    if bytecode:
        unchecked = py_compile.PycInvalidationMode.UNCHECKED_HASH
        assert compileall.compile_dir(root, quiet=1, invalidation_mode=unchecked)
    return root


_NO_BYTECODE = shutil.ignore_patterns("__pycache__", "*.pyc")


def import_times(bench: Bench) -> None:
    print(
        f"\nHandler import time (the code's share of a cold start; fresh interpreters, "
        f"median of {IMPORT_RUNS}, interleaved with the floor):"
    )
    copies = Path(tempfile.mkdtemp(prefix="hbench-code"))
    shipped = _code_as_deployed(copies / "bytecode", bytecode=True)
    sources = _code_as_deployed(copies / "sources", bytecode=False)
    # Nothing the timed interpreters compile is written; `local` (for the first send) is found
    # in the repository, after the copy they run in.
    environment = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(REPO_ROOT)}
    floor_runs: list[float] = []
    runs: dict[str, list[float]] = {name: [] for name in HANDLERS}
    api_from_sources: list[float] = []
    first_sends: list[list[float]] = []
    event = json.dumps(bench.api_event(email(1)))
    for _ in range(IMPORT_RUNS):
        floor_runs.extend(_run_timed(_IMPORT.format(module="aws_lambda_powertools")))
        for name in HANDLERS:
            code = _IMPORT.format(module=f"functions.{name}")
            runs[name].extend(_run_timed(code, environment, shipped))
        code = _IMPORT.format(module="functions.api.handler")
        api_from_sources.extend(_run_timed(code, environment, sources))
        send_environment = {**environment, "BENCH_FIRST_SEND_EVENT": event}
        first_sends.append(_run_timed(_FIRST_SEND, send_environment, shipped))
    shutil.rmtree(copies)
    floor = statistics.median(floor_runs)
    print(f"  floor: import aws_lambda_powertools      {floor:6.0f} ms")
    print("  with the bytecode the assets ship:")
    for name in HANDLERS:
        median = statistics.median(runs[name])
        print(f"  functions.{name:28} {median:6.0f} ms  {median / floor:5.1f}x the floor")
    before = BASELINE_API_IMPORT_MS / BASELINE_FLOOR_MS
    print(
        f"  API import before issue 16: {before:.1f}x the floor "
        f"({BASELINE_API_IMPORT_MS:.0f} ms / {BASELINE_FLOOR_MS:.0f} ms, from sources)"
    )
    api_runs = {"as shipped": runs["api.handler"], "from sources": api_from_sources}
    for label, api in api_runs.items():
        median = statistics.median(api)
        print(
            f"  API import {label:12}: {median:4.0f} ms, {median / floor:4.1f}x the floor, "
            f"{median / floor / before:.2f} of before"
        )
    imported = statistics.median(run[0] for run in first_sends)
    sent = statistics.median(run[1] for run in first_sends)
    print(
        f"  A cold API's first POST /v1/notifications: import {imported:.0f} ms, then the "
        f"request {sent:.0f} ms (clients made and the database connected on first use)"
    )


def main() -> None:
    """Every figure, or only the named sections (`python -m bench imports`)."""
    import argparse

    parser = argparse.ArgumentParser(description="Herald's benchmark figures (make bench)")
    parser.add_argument(
        "sections", nargs="*", help=f"only these sections, of {', '.join(SECTIONS)} (default: all)"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=BATCH,
        help=f"recipients of the end-to-end batch (default {BATCH:,})",
    )
    args = parser.parse_args()
    sections: list[str] = args.sections
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"no such section: {', '.join(sorted(unknown))} (sections: {SECTIONS})")
    print(
        f"Herald pipeline benchmark, {time.strftime('%Y-%m-%d')}, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} cores\n"
    )
    bench = start()
    try:
        if "pipeline" in sections or not sections:
            accept_latency(bench)
            fan_out(bench)
            callback(bench)
            bench_sms(bench)
            delivery_costs(bench)
            print()
            bench_push(bench, bench.tenant_id)
            bench_inbox(bench)
            bench_webhooks(bench)
            print()
            bench_batches(bench, args.batch_size)
        bench.simulator.stop()
        bench.websocket.stop()
        if "pipeline" in sections or not sections:
            print()
            bench_template_renders()
        if "imports" in sections or not sections:
            import_times(bench)
    finally:
        # The embedded PostgreSQL is a server process of its own: never leave it running.
        bench.postgres.cleanup()


if __name__ == "__main__":
    main()
