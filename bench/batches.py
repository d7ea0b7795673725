"""Batches of 50,000: accepting the recipients at the API beside a bare COPY of the same rows;
a transactional email's accept -> sent latency idle and while a batch drains on its bulk
lane; the batch end to end (start, dispatch, send to the simulator, callbacks) with Herald's
CPU and database work per delivery beside a floor; GET /v1/stats over a million deliveries.

The batch size is `--batch-size` (default 50,000, what the design is sized for).
"""

from __future__ import annotations

import base64
import json
import os
import resource
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BATCH = 50_000
CHUNK = 10_000
PROBES = 15  # transactional emails timed idle, then as many while the batch drains
CALLBACK_EVENTS = 1_000  # SendGrid posts its Event Webhook in batches of up to this many
FLOOR_CALLS = 2_000  # bare provider calls timed for the floor (its rate, scaled to the batch)
STATS_DELIVERIES = 1_000_000
WORKER_MEMORY_MB = 256  # what a worker's peak must stay under
WORKER_INVOCATIONS = 3  # invocations of each function measured in a process of its own
SEND_CONCURRENCY = 16  # Settings.send_concurrency: the worker's provider calls in flight
# Threads that run Herald's code in this process (pollers invoking handlers, the email
# worker's provider calls); moto's and the simulator's request threads are not Herald's.
HERALD_THREADS = ("MainThread", "poller-", "send")


def _event(bench: Any, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
    from urllib.parse import parse_qsl

    event: dict[str, Any] = bench.api_event(body or {})
    path, _, query = path.partition("?")
    event["rawPath"] = path
    event["rawQueryString"] = query
    if query:
        event["queryStringParameters"] = dict(parse_qsl(query))
    event["requestContext"]["http"].update(method=method, path=path)
    if body is None:
        event["body"] = None
    return event


def _invoke(bench: Any, event: dict[str, Any]) -> Any:
    from local.lambda_context import LambdaContext

    response = bench.handler("api.handler")(event, LambdaContext("api"))
    assert response["statusCode"] < 300, response
    return json.loads(response["body"])


def _call(bench: Any, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    return _invoke(bench, _event(bench, method, path, body))


def _people(start: int, count: int) -> list[dict[str, Any]]:
    return [
        {"email": f"b{i}@example.com", "variables": {"code": f"C{i}"}}
        for i in range(start, start + count)
    ]


def bench_batches(bench: Any, size: int = BATCH) -> None:
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
    _accept(bench)
    _end_to_end(bench, size)
    stats_at_a_million(bench)


def _accept(bench: Any) -> None:
    """50,000 recipients inline, timed from the event API Gateway hands the function (its
    body already a string) to the response, beside a bare COPY of the same rows."""
    import psycopg

    people = _people(0, BATCH)
    event = _event(bench, "POST", "/v1/batches", {"template": "bench_batch", "recipients": people})
    event["body"] = json.dumps({"template": "bench_batch", "recipients": people, "start": False})
    started = time.perf_counter()
    created = _invoke(bench, event)
    accepted = time.perf_counter() - started
    assert created["total"] == BATCH
    print(
        f"Batch of {BATCH:,} recipients accepted inline ({len(event['body']) / 1e6:.1f} MB body,"
        f" Lambda takes 6 MB): {accepted * 1000:.0f} ms, {BATCH / accepted:,.0f} recipients/s"
        f" (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
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
        f" the API takes {accepted / floor:.1f}x (parse, validate, dedupe, unique index)"
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
    for batch in (created, chunked):
        _call(bench, "POST", f"/v1/batches/{batch['id']}/cancel")


@dataclass
class _Meter:
    """What a stage costs: wall time, Herald's CPU (its threads), the process's CPU (with
    moto's and the simulator's), and the transactions the database committed."""

    wall: float = 0.0
    herald_cpu: float = 0.0
    process_cpu: float = 0.0
    transactions: int = 0


def _thread_cpu() -> dict[int, float]:
    """CPU seconds of each live thread of Herald's, by native id (from /proc)."""
    import threading as t

    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for thread in t.enumerate():
        if not thread.name.startswith(HERALD_THREADS) or thread.native_id is None:
            continue
        try:
            stat = Path(f"/proc/self/task/{thread.native_id}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        seconds[thread.native_id] = (int(fields[11]) + int(fields[12])) / ticks
    return seconds


def _transactions(conn: Any) -> int:
    row = conn.execute(
        "SELECT xact_commit + xact_rollback AS n FROM pg_stat_database"
        " WHERE datname = current_database()"
    ).fetchone()
    return int(row["n"])


@contextmanager
def _metered(conn: Any, meter: _Meter) -> Iterator[None]:
    """Measure the block into `meter`. Threads that end inside it (a stopped poller) are
    read just before by `_stop`, which adds their CPU itself."""
    # Other backends report their counters when idle (PostgreSQL 15+: within a second or
    # so of their last transaction): settle before reading.
    time.sleep(1.2)
    transactions = _transactions(conn)
    threads = _thread_cpu()
    process = time.process_time()
    started = time.perf_counter()
    yield
    meter.wall += time.perf_counter() - started
    meter.process_cpu += time.process_time() - process
    after = _thread_cpu()
    meter.herald_cpu += sum(after[t] - threads.get(t, 0.0) for t in after)
    time.sleep(1.2)
    # Less the two statements this reading itself commits.
    meter.transactions += _transactions(conn) - transactions - 1


class _Pollers:
    """The local runtime's event source mappings for this bench: the dispatch queue, the email
    queue, and the email bulk lane (the worker in an environment of its own)."""

    def __init__(self, bench: Any) -> None:
        from local.functions import another_environment
        from local.lambda_context import LocalFunction
        from local.pollers import QueuePoller

        resources = bench.resources
        bulk_module = another_environment(bench.handlers["workers.email_worker"])
        self.parts = [
            QueuePoller(
                bench.sqs,
                queue.url,
                queue.arn,
                LocalFunction(name, handler, 60),
                wait_seconds=1,
            )
            for queue, name, handler in (
                (resources.dispatch, "dispatch", bench.handler("dispatch.handler")),
                (resources.email, "email-worker", bench.handler("workers.email_worker")),
                (resources.bulk["email"], "email-worker-bulk", bulk_module.handler),
            )
        ]
        self.cpu_of_stopped = 0.0

    def start(self) -> None:
        for part in self.parts:
            part.start()

    def stop(self) -> None:
        before = _thread_cpu()
        for part in self.parts:
            part.request_stop()
        for part in self.parts:
            part.stop()
        after = _thread_cpu()
        self.cpu_of_stopped += sum(v for t, v in before.items() if t not in after)


def _probe(bench: Any, conn: Any, count: int, while_: Callable[[], bool]) -> list[float]:
    """Send transactional single-recipient emails one after the other (while `while_()`),
    each timed from accept to sent as the stats read it (the database's clock)."""
    latencies = []
    for i in range(count):
        if not while_():
            break
        accepted = _call(
            bench,
            "POST",
            "/v1/notifications",
            {
                "recipients": [{"email": f"receipt{time.time_ns()}@example.com"}],
                "content": {"email": {"subject": "Receipt", "text": f"Receipt {i}"}},
                "category": "transactional",
            },
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT extract(epoch FROM d.sent_at - n.created_at) AS s FROM deliveries d"
                " JOIN notifications n ON n.id = d.notification_id"
                " WHERE n.id = %s AND d.sent_at IS NOT NULL",
                (accepted["id"],),
            ).fetchone()
            if row is not None:
                latencies.append(float(row["s"]))
                break
            time.sleep(0.02)
        time.sleep(0.2)
    return latencies


def _latency(values: list[float]) -> str:
    if not values:
        return "none measured"
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return f"p50 {statistics.median(ordered) * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms"


def _in_flight(conn: Any, notification_id: str) -> int:
    row = conn.execute(
        "SELECT count(*) AS n FROM deliveries WHERE notification_id = %s"
        " AND status IN ('queued', 'sending', 'deferred')",
        (notification_id,),
    ).fetchone()
    return int(row["n"])


def _end_to_end(bench: Any, size: int) -> None:
    """One batch through every stage, each metered; a transactional probe idle and while it
    drains; then the floor of the same work."""
    import psycopg
    from psycopg.rows import dict_row

    conn = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, row_factory=dict_row)
    bench.simulator.outbox.clear()
    pollers = _Pollers(bench)
    pollers.start()
    idle = _probe(bench, conn, PROBES, lambda: True)

    pollers.stop()  # the stages below are timed one by one
    people = _people(0, size)

    started_all = time.perf_counter()
    accept, dispatch, send, callbacks = _Meter(), _Meter(), _Meter(), _Meter()
    with _metered(conn, accept):
        batch = _call(
            bench,
            "POST",
            "/v1/batches",
            {"template": "bench_batch", "recipients": people, "start": False},
        )
        _call(bench, "POST", f"/v1/batches/{batch['id']}/start")
    notification_id = _call(bench, "GET", f"/v1/batches/{batch['id']}")["notification_id"]
    with _metered(conn, dispatch):
        bench.drain(bench.resources.dispatch, "dispatch.handler")

    # The batch drains on the email bulk lane while transactional emails are sent.
    bench.simulator.outbox.clear()
    pollers = _Pollers(bench)
    unsent = _in_flight(conn, notification_id)
    tracemalloc.start()
    with _metered(conn, send):
        pollers.start()
        during = _probe(bench, conn, PROBES, lambda: _in_flight(conn, notification_id) > 0)
        while _in_flight(conn, notification_id) > 0:
            time.sleep(0.5)
        pollers.stop()
    send.herald_cpu += pollers.cpu_of_stopped
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # Counted in the database: the simulator's outbox keeps only the last 10,000.
    sent = unsent - _in_flight(conn, notification_id)
    with _metered(conn, callbacks):
        delivered = _post_delivered(bench, conn, notification_id)
    total = time.perf_counter() - started_all
    got = _call(bench, "GET", f"/v1/batches/{batch['id']}")
    conn.close()

    print(
        f"Batch of {size:,} end to end on one process ({total:.0f} s in all; the bulk lane's"
        f" worker, one environment, sends 16 at a time): status {got['status']},"
        f" {got['counts']['delivered']:,} delivered"
    )
    for name, meter, count in (
        ("accept + start", accept, size),
        ("dispatch (slices planned, queued)", dispatch, size),
        ("send (bulk lane, to the simulator)", send, sent),
        (f"callbacks (Event Webhook, {CALLBACK_EVENTS:,} a post)", callbacks, delivered),
    ):
        print(
            f"  {name:42} {meter.wall:7.1f} s {count / meter.wall:8,.0f}/s"
            f"  Herald CPU {meter.herald_cpu / count * 1000:5.2f} ms/delivery"
            f" (process {meter.process_cpu / count * 1000:5.2f})"
            f"  {meter.transactions:,} transactions ({meter.transactions / count:.3f}/delivery)"
        )
    meters = (accept, dispatch, send, callbacks)
    herald_cpu = sum(m.herald_cpu for m in meters)
    transactions = sum(m.transactions for m in meters)
    wall = sum(m.wall for m in meters)
    print(
        f"  all stages: {wall:.0f} s, {size / wall:,.0f} deliveries/s; Herald CPU"
        f" {herald_cpu / size * 1000:.2f} ms per delivery; {transactions / size:.2f} database"
        " transactions per delivery (pg_stat_database xact_commit: every autocommit statement"
        " is one, an explicit transaction one)"
    )
    print(
        f"  a transactional email, accept -> sent: idle {_latency(idle)}; while the batch"
        f" drains {_latency(during)} ({len(during)} sent on the normal lane meanwhile)"
    )
    floor = _floor(bench, size)
    print(
        f"  floor: COPY of {size:,} delivery rows + {size:,} bare sendgrid calls"
        f" ({SEND_CONCURRENCY} at a time, rate of {FLOOR_CALLS:,} scaled): {floor:.0f} s,"
        f" {size / floor:,.0f}/s; the pipeline runs at {floor / wall:.2f}x the floor's rate"
    )
    _print_memory(traced_peak, _worker_peaks(bench))


def _print_memory(traced_peak: int, peaks: dict[str, float]) -> None:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    traced = traced_peak / 2**20
    print(
        f"  memory: peak Python heap while the workers sent (tracemalloc: every function and"
        f" moto in this process) {traced:.0f} MB; this whole process's peak RSS {rss:.0f} MB"
        " (all functions, moto, the simulator, this bench's rows)"
    )
    for name, peak in peaks.items():
        verdict = "under" if peak < WORKER_MEMORY_MB else "NOT under"
        print(
            f"  {name}: peak RSS {peak:.0f} MB in an interpreter of its own ({verdict}"
            f" {WORKER_MEMORY_MB} MB), through {WORKER_INVOCATIONS} invocations of the batch"
        )


_WORKER = """
import importlib, sys
import boto3
from local.lambda_context import LocalFunction
from local.pollers import QueuePoller
module, url, arn, invocations = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
handler = importlib.import_module(module).handler
poller = QueuePoller(
    boto3.client("sqs", region_name="us-east-1"), url, arn, LocalFunction(module, handler, 60),
    wait_seconds=0,
)
for _ in range(invocations):
    poller.poll_once()
# VmHWM, not ru_maxrss: after fork and exec, ru_maxrss still holds the parent's peak.
status = open("/proc/self/status").read()
print(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
"""


def _worker_peaks(bench: Any) -> dict[str, float]:
    """Each function's peak memory in an interpreter of its own, as in Lambda, on a batch of
    its own (canceled afterwards): dispatch through its first invocations, then the email
    worker through its first on the bulk lane."""
    batch = _call(
        bench,
        "POST",
        "/v1/batches",
        {"template": "bench_batch", "recipients": _people(10**6, 10 * 500 * WORKER_INVOCATIONS)},
    )
    peaks = {
        "dispatch": _worker_peak_mb("functions.dispatch.handler", bench.resources.dispatch),
        "email worker, bulk lane": _worker_peak_mb(
            "functions.workers.email_worker", bench.resources.bulk["email"]
        ),
    }
    _call(bench, "POST", f"/v1/batches/{batch['id']}/cancel")
    return peaks


def _worker_peak_mb(module: str, queue: Any) -> float:
    """Peak resident memory of `module` run as one execution environment would: a fresh
    interpreter (its cold start) through WORKER_INVOCATIONS invocations from `queue`."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _WORKER, module, queue.url, queue.arn, str(WORKER_INVOCATIONS)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(out.split()[-1]) / 1024


def _post_delivered(bench: Any, conn: Any, notification_id: str) -> int:
    """SendGrid's Event Webhook: a `delivered` event for every email of the batch, in posts of
    CALLBACK_EVENTS, through the webhooks function."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from local.lambda_context import LambdaContext

    rows = conn.execute(
        "SELECT id, tenant_id, address FROM deliveries WHERE notification_id = %s"
        " AND status = 'sent'",
        (notification_id,),
    ).fetchall()
    handler = bench.handler("webhooks.handler")
    applied = 0
    for first in range(0, len(rows), CALLBACK_EVENTS):
        now = int(time.time())
        payload = json.dumps(
            [
                {
                    "email": r["address"],
                    "timestamp": now,
                    "event": "delivered",
                    "sg_event_id": f"e{first + i}",
                    "delivery_id": r["id"],
                    "tenant_id": r["tenant_id"],
                }
                for i, r in enumerate(rows[first : first + CALLBACK_EVENTS])
            ]
        )
        signature = bench.signing_key.sign((str(now) + payload).encode(), ec.ECDSA(hashes.SHA256()))
        event = _event(bench, "POST", "/v1/callbacks/sendgrid", None)
        event["body"] = payload
        event["headers"] = {
            "content-type": "application/json",
            "x-twilio-email-event-webhook-signature": base64.b64encode(signature).decode(),
            "x-twilio-email-event-webhook-timestamp": str(now),
        }
        response = handler(event, LambdaContext("webhooks"))
        assert response["statusCode"] == 200, response
        applied += int(json.loads(response["body"])["applied"])
    return applied


def _floor(bench: Any, size: int) -> float:
    """The same work at its barest: COPY the deliveries' rows, and the provider calls through
    the bare `sendgrid` client at the worker's concurrency (FLOOR_CALLS timed, scaled)."""
    import psycopg
    from sendgrid import SendGridAPIClient
    from sendgrid.helpers.mail import Mail

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(
            "CREATE TEMP TABLE floor_deliveries (id text, recipient jsonb, address text,"
            " status text)"
        )
        started = time.perf_counter()
        with conn.cursor().copy("COPY floor_deliveries FROM STDIN") as copy:
            for i in range(size):
                address = f"b{i}@example.com"
                copy.write_row((f"dlv_{i}", json.dumps({"email": address}), address, "queued"))
        copied = time.perf_counter() - started
    client = SendGridAPIClient(api_key="SG.bench", host=bench.simulator.url)

    def call(i: int) -> None:
        client.send(
            Mail(
                from_email="notifications@example.com",
                to_emails=f"floor{i}@example.com",
                subject="Hi",
                plain_text_content=f"Code C{i}",
            )
        )

    started = time.perf_counter()
    with ThreadPoolExecutor(SEND_CONCURRENCY) as pool:
        list(pool.map(call, range(FLOOR_CALLS)))
    per_call = (time.perf_counter() - started) / FLOOR_CALLS
    bench.simulator.outbox.clear()
    return copied + per_call * size


# The per-delivery query GET /v1/stats ran before the hourly rollup (migration 0014): the
# figure it is measured against, in the same run.
_DIRECT_STATS = (
    "SELECT date_trunc('day', d.created_at, 'UTC') AS start, d.channel, count(*),"
    " count(*) FILTER (WHERE d.status = 'delivered'),"
    " percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP"
    "   (ORDER BY extract(epoch FROM d.sent_at - n.created_at))"
    "   FILTER (WHERE d.sent_at IS NOT NULL)"
    " FROM deliveries d JOIN notifications n ON n.id = d.notification_id"
    " WHERE d.tenant_id = %s AND d.created_at >= now() - interval '30 days'"
    " GROUP BY 1, 2"
)


def stats_at_a_million(bench: Any) -> None:
    """GET /v1/stats over a tenant's million deliveries of the last day (generated in SQL),
    read from the hourly rollup, beside the per-delivery query it replaces and a bare count
    over the same index."""
    import psycopg
    from herald.db import stats
    from psycopg.rows import dict_row

    def pending(conn: Any) -> int:
        row = conn.execute("SELECT count(*) FROM delivery_stats_changes").fetchone()
        return int(row[0]) if row else 0

    def median_ms(path: str) -> tuple[float, Any]:
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            body = _call(bench, "GET", path, None)
            timings.append(time.perf_counter() - started)
        return statistics.median(timings) * 1000, body

    def once_ms(conn: Any, sql: str) -> float:
        started = time.perf_counter()
        conn.execute(sql, (bench.tenant_id,)).fetchall()
        return (time.perf_counter() - started) * 1000

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        # What the batch run before this left unfolded (the sweeper folds every 5 minutes).
        unfolded = pending(conn)
        unfolded_ms, _ = median_ms("/v1/stats?granularity=day")
        tenant = bench.tenant_id
        started = time.perf_counter()
        # A notification of 100 deliveries every 8.64 s over the last day; each sent 0-6 s
        # after its accept, spread over channels and statuses.
        spacing = 86_400 / (STATS_DELIVERIES // 100)
        conn.execute(
            "INSERT INTO notifications (id, tenant_id, status, channels, recipients, content,"
            " variables, recipient_count, created_at)"
            " SELECT 'ntf_stats_' || g, %s, 'completed', ARRAY['email'], '[]', '{}', '{}', 100,"
            "   now() - make_interval(secs => g * %s)"
            " FROM generate_series(1, %s) AS g",
            (tenant, spacing, STATS_DELIVERIES // 100),
        )
        conn.execute(
            "INSERT INTO deliveries (id, tenant_id, notification_id, recipient_index, channel,"
            " recipient, address, status, created_at, updated_at, sent_at)"
            " SELECT 'dlv_stats_' || g, %s, 'ntf_stats_' || (g / 100 + 1), g %% 100,"
            "   (ARRAY['email', 'sms', 'push'])[g %% 3 + 1], '{}', 'x@example.com',"
            "   (ARRAY['delivered', 'sent', 'failed', 'bounced', 'opened'])[g %% 5 + 1],"
            "   now() - make_interval(secs => (g / 100 + 1) * %s), now(),"
            "   now() - make_interval(secs => (g / 100 + 1) * %s - g %% 7)"
            " FROM generate_series(0, %s - 1) AS g",
            (tenant, spacing, spacing, STATS_DELIVERIES),
        )
        generated = time.perf_counter() - started
        started = time.perf_counter()
        with psycopg.connect(os.environ["DATABASE_URL"], row_factory=dict_row) as tx:
            folded = stats.fold(tx)
        fold_s = time.perf_counter() - started
        conn.execute("ANALYZE deliveries")
        conn.execute("ANALYZE notifications")
        count = conn.execute(
            "SELECT count(*) FROM deliveries WHERE tenant_id = %s", (tenant,)
        ).fetchone()
        by_day, body = median_ms("/v1/stats?granularity=day")
        by_hour, hourly = median_ms("/v1/stats")
        update_us, plain_us = _trigger_cost(conn)
        direct = once_ms(conn, _DIRECT_STATS)
        floor = once_ms(
            conn,
            "SELECT count(*) FROM deliveries WHERE tenant_id = %s"
            " AND created_at >= now() - interval '30 days'",
        )
    print(
        f"GET /v1/stats over {count[0] if count else 0:,} deliveries of the last day"
        f" (generated in {generated:.0f} s; {folded:,} pending stats changes folded in"
        f" {fold_s * 1000:.0f} ms): by day {by_day:.1f} ms ({len(body['buckets'])} buckets),"
        f" by hour {by_hour:.1f} ms ({len(hourly['buckets'])} buckets), medians of 3;"
        f" the per-delivery query it replaces {direct:.0f} ms ({direct / by_day:.0f}x the"
        f" rollup by day), a bare count(*) over the same index {floor:.0f} ms"
        f" ({floor / by_day:.0f}x); before the fold, with the batch's {unfolded:,} changes"
        f" unfolded: by day {unfolded_ms:.1f} ms"
    )
    print(
        f"  keeping it: a one-delivery status update (as a worker records a result) takes"
        f" {update_us:.0f} us with the stats trigger, {plain_us:.0f} us without it (same run,"
        f" mean of {4 * TRIGGER_PROBES:,}): +{update_us - plain_us:.0f} us a status move"
    )


TRIGGER_PROBES = 1_000


def _trigger_cost(conn: Any) -> tuple[float, float]:
    """Mean microseconds of a one-row status update, autocommit, with the stats trigger and
    with it disabled (interleaved, twice each); each run moves delivered -> opened and back,
    so the rollup ends where it began."""
    ids = [f"dlv_stats_{g}" for g in range(0, TRIGGER_PROBES * 5, 5)]  # delivered ones
    means: dict[bool, list[float]] = {True: [], False: []}
    for enabled in (False, True, False, True):
        if not enabled:
            conn.execute("ALTER TABLE deliveries DISABLE TRIGGER deliveries_stats_update")
        started = time.perf_counter()
        for status in ("opened", "delivered"):
            for delivery_id in ids:
                conn.execute(
                    "UPDATE deliveries SET status = %s, updated_at = now() WHERE id = %s",
                    (status, delivery_id),
                )
        means[enabled].append((time.perf_counter() - started) / (2 * len(ids)) * 1e6)
        conn.execute("ALTER TABLE deliveries ENABLE TRIGGER deliveries_stats_update")
    return statistics.mean(means[True]), statistics.mean(means[False])


def main() -> None:
    """`python -m bench.batches [--batch-size N] [--stats-only]`: only these figures."""
    import argparse

    from bench.__main__ import start

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch-size", type=int, default=BATCH)
    parser.add_argument("--stats-only", action="store_true", help="only GET /v1/stats at 1M")
    args = parser.parse_args()
    bench = start()
    try:
        if args.stats_only:
            stats_at_a_million(bench)
        else:
            bench_batches(bench, args.batch_size)
    finally:
        bench.postgres.cleanup()


if __name__ == "__main__":
    main()
