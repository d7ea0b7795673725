"""Batches of 50,000: accepting the recipients at the API beside a bare COPY of the same rows,
planning them in slices, sending what a time budget allows, and GET /v1/stats over them."""

from __future__ import annotations

import json
import os
import time
from typing import Any

BATCH = 50_000
CHUNK = 10_000
# The email worker is driven for this long; the rest of the batch is left unsent (said so).
SEND_BUDGET_SECONDS = 60.0


def _event(bench: Any, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
    event: dict[str, Any] = bench.api_event(body or {})
    event["rawPath"] = path
    event["requestContext"]["http"].update(method=method, path=path)
    if body is None:
        event["body"] = None
    return event


def _call(bench: Any, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    from local.lambda_context import LambdaContext

    response = bench.handler("api.handler")(_event(bench, method, path, body), LambdaContext("api"))
    assert response["statusCode"] < 300, response
    return json.loads(response["body"])


def _people(start: int, count: int) -> list[dict[str, Any]]:
    return [
        {"email": f"b{i}@example.com", "variables": {"code": f"C{i}"}}
        for i in range(start, start + count)
    ]


def bench_batches(bench: Any) -> None:
    import psycopg

    _call(
        bench,
        "POST",
        "/v1/templates",
        {
            "key": "bench_batch",
            "name": "Bench",
            "channels": {"email": {"subject": "Hi", "text": "Code {{ code }}"}},
        },
    )
    people = _people(0, BATCH)
    inline = {"template": "bench_batch", "recipients": people, "start": False}
    size = len(json.dumps(inline).encode())
    started = time.perf_counter()
    created = _call(bench, "POST", "/v1/batches", inline)
    accepted = time.perf_counter() - started
    print(
        f"Batch of {BATCH:,} recipients accepted inline ({size / 1e6:.1f} MB body, Lambda takes"
        f" 6 MB): {accepted * 1000:.0f} ms, {BATCH / accepted:,.0f} recipients/s"
    )

    # The floor: the same rows COPYed into a bare table, nothing else.
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(
            "CREATE TEMP TABLE floor (batch_id text, idx int, recipient jsonb, variables jsonb,"
            " identity text)"
        )
        started = time.perf_counter()
        with conn.cursor().copy(
            "COPY floor (batch_id, idx, recipient, variables, identity) FROM STDIN"
        ) as copy:
            for i, person in enumerate(people):
                copy.write_row(
                    (
                        "bat",
                        i,
                        json.dumps({"email": person["email"]}),
                        json.dumps(person["variables"]),
                        f"email:{person['email']}",
                    )
                )
        floor = time.perf_counter() - started
    print(
        f"  floor: COPY of the same {BATCH:,} rows into a bare table: {floor * 1000:.0f} ms;"
        f" the API takes {accepted / floor:.1f}x (parse, validate, dedupe, index)"
    )

    chunked = _call(bench, "POST", "/v1/batches", {"template": "bench_batch", "start": False})
    started = time.perf_counter()
    for first in range(0, BATCH, CHUNK):
        _call(
            bench,
            "POST",
            f"/v1/batches/{chunked['id']}/recipients",
            {"recipients": _people(first, CHUNK)},
        )
    uploaded = time.perf_counter() - started
    print(
        f"Batch of {BATCH:,} in {BATCH // CHUNK} chunks of {CHUNK:,}: {uploaded * 1000:.0f} ms,"
        f" {BATCH / uploaded:,.0f} recipients/s"
    )
    _call(bench, "POST", f"/v1/batches/{chunked['id']}/cancel")
    _drive(bench, created["id"])


def _drive(bench: Any, batch_id: str) -> None:
    """Start the batch, plan it, send what the budget allows, then read it and the stats."""
    from herald.db.connection import Database

    from local.lambda_context import LocalFunction
    from local.pollers import QueuePoller

    # Start the inline batch: it is cut into slices, one dispatch message each.
    bench.simulator.outbox.clear()
    started = time.perf_counter()
    _call(bench, "POST", f"/v1/batches/{batch_id}/start", None)
    start_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    bench.drain(bench.resources.dispatch, "dispatch.handler")
    dispatched = time.perf_counter() - started
    print(
        f"Start (slices cut and enqueued): {start_ms:.0f} ms; dispatch of the {BATCH:,}"
        f" (500-recipient slices, bulk insert, 50 deliveries per message): {dispatched:.1f} s,"
        f" {BATCH / dispatched:,.0f} deliveries/s on one dispatcher"
    )

    module = "workers.email_worker"
    worker = LocalFunction(module, bench.handler(module), 60)
    queue = bench.resources.email
    poller = QueuePoller(bench.sqs, queue.url, queue.arn, worker, wait_seconds=0)
    started = time.perf_counter()
    while time.perf_counter() - started < SEND_BUDGET_SECONDS and poller.poll_once():
        pass
    elapsed = time.perf_counter() - started
    sent = len(bench.simulator.outbox.list())
    print(
        f"Email worker on the batch, {SEND_BUDGET_SECONDS:.0f} s budget: {sent:,} of {BATCH:,}"
        f" sent, {sent / elapsed:,.0f} emails/s on one worker (the rest of the batch is NOT"
        " driven here: moto slows on a queue this deep, so no full end-to-end time is claimed)"
    )
    db = Database(os.environ["DATABASE_URL"])
    started = time.perf_counter()
    got = _call(bench, "GET", f"/v1/batches/{batch_id}", None)
    read_ms = (time.perf_counter() - started) * 1000
    print(
        f"GET /v1/batches/{{id}} at {BATCH:,} deliveries (counts from the deliveries):"
        f" {read_ms:.0f} ms, counts {dict((k, v) for k, v in got['counts'].items() if v)}"
    )
    total = db.connection().execute("SELECT count(*) AS n FROM deliveries").fetchone()
    started = time.perf_counter()
    _call(bench, "GET", "/v1/stats", None)
    stats_ms = (time.perf_counter() - started) * 1000
    print(
        f"GET /v1/stats over {total['n'] if total else 0:,} deliveries: {stats_ms:.0f} ms"
        " (not measured at a million deliveries)"
    )
    _call(bench, "POST", f"/v1/batches/{batch_id}/cancel")
