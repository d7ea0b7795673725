"""In-app inbox figures: a send reaching the user's open socket, the worker storing a
fan-out, and counts for a user with 100,000 items, each beside a floor measured in the same
run."""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from herald.aws.websocket import ConnectionPoster
from herald.db import inbox
from herald.db.connection import Database
from websockets.sync.client import ClientConnection, connect

ITEMS = 100_000
FANOUT = 1_000
REPEATS = 50
REALTIME_SENDS = 30


def _median_ms(call: Callable[[], Any]) -> float:
    call()
    runs = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        call()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs)


def _until(socket: ClientConnection, message_type: str) -> None:
    while json.loads(socket.recv(timeout=30))["type"] != message_type:
        pass


def bench_realtime(bench: Any) -> None:
    """From the API's accept of an in-app notification to its `inbox.counts` on the user's
    open socket, the queues drained at once (in `herald dev` and in AWS a poller's or
    Lambda's pickup adds to it); beside a bare PostToConnection to the same socket."""
    response = bench.request("POST", "/v1/users/realtime_user/inbox-token")
    assert response["statusCode"] == 200, response
    token = json.loads(response["body"])["token"]
    body = {
        "recipients": [{"user_id": "realtime_user"}],
        "content": {"in_app": {"title": "Benchmark", "body": "Hello"}},
    }
    poster = ConnectionPoster(os.environ["HERALD_WEBSOCKET_MANAGEMENT_URL"])
    db = Database(os.environ["DATABASE_URL"])
    with connect(f"{bench.websocket.url}/?token={token}") as socket:
        row = (
            db.connection()
            .execute("SELECT connection_id FROM inbox_connections WHERE user_id = 'realtime_user'")
            .fetchone()
        )
        assert row is not None
        sends, floors = [], []
        for _ in range(REALTIME_SENDS + 1):  # the first warms every path up
            started = time.perf_counter()
            bench.call_api(body)
            bench.drain(bench.resources.dispatch, "dispatch.handler")
            bench.drain(bench.resources.in_app, "workers.in_app_worker")
            _until(socket, "inbox.counts")
            sends.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            assert poster.post(row["connection_id"], {"type": "floor"})
            _until(socket, "floor")
            floors.append((time.perf_counter() - started) * 1000)
    db.close()
    sends, floors = sorted(sends[1:]), sorted(floors[1:])
    send_ms, floor_ms = statistics.median(sends), statistics.median(floors)
    print(
        f"Inbox realtime, {REALTIME_SENDS} sends, API accept to inbox.counts on the user's open "
        f"socket (dispatch and in-app worker run at once): median {send_ms:.1f} ms, "
        f"max {sends[-1]:.1f} ms; floor (one bare PostToConnection to the socket) "
        f"{floor_ms:.1f} ms, ratio {send_ms / floor_ms:.0f}x"
    )


def bench_inbox(bench: Any) -> None:
    """`bench` is bench.__main__.Bench: real handlers on the local stack."""
    bench_realtime(bench)
    bench.call_api(
        {
            "recipients": [{"user_id": f"fan_{i}"} for i in range(FANOUT)],
            "content": {"in_app": {"title": "Benchmark", "body": "Hello"}},
        }
    )
    bench.drain(bench.resources.dispatch, "dispatch.handler")
    dispatched = time.perf_counter()
    bench.drain(bench.resources.in_app, "workers.in_app_worker")
    stored = time.perf_counter() - dispatched
    db = Database(os.environ["DATABASE_URL"])
    conn = db.connection()
    tenant_id = conn.execute("SELECT id FROM tenants LIMIT 1").fetchone()["id"]  # type: ignore[index]
    # Floor: the same number of rows inserted by one bare statement, nothing else.
    floor_started = time.perf_counter()
    conn.execute(
        "INSERT INTO inbox_items (id, tenant_id, user_id, title, body)"
        " SELECT 'inb_F' || lpad(n::text, 25, '0'), %s, 'floor_' || n, 'Benchmark', 'Hello'"
        " FROM generate_series(1, %s) AS n",
        (tenant_id, FANOUT),
    )
    floor = time.perf_counter() - floor_started
    print(
        f"In-app worker, {FANOUT} items (one insert per 50-delivery message, events, "
        f"realtime lookup): {stored * 1000:.0f} ms, {FANOUT / stored:,.0f} items/s on one worker;"
        f" floor (one bare INSERT of {FANOUT} rows) {floor * 1000:.0f} ms, "
        f"ratio {stored / floor:.0f}x"
    )
    # A heavy user: 100,000 items, 80% read, 5% archived, a few snoozed; and a light one.
    conn.execute(
        "INSERT INTO inbox_items (id, tenant_id, user_id, title, body, read_at, seen_at,"
        "  archived_at, snoozed_until)"
        " SELECT 'inb_B' || lpad(n::text, 25, '0'), %s, 'heavy', 'title', 'body',"
        "  CASE WHEN n %% 5 <> 0 THEN now() END, CASE WHEN n %% 5 <> 0 THEN now() END,"
        "  CASE WHEN n %% 20 = 0 THEN now() END,"
        "  CASE WHEN n %% 1000 = 1 THEN now() + interval '1 day' END"
        " FROM generate_series(1, %s) AS n",
        (tenant_id, ITEMS),
    )
    conn.execute("VACUUM ANALYZE inbox_items")  # as autovacuum would, after a bulk load
    heavy = inbox.counts(conn, tenant_id, "heavy")
    counts_ms = _median_ms(lambda: inbox.counts(conn, tenant_id, "heavy"))
    light_ms = _median_ms(lambda: inbox.counts(conn, tenant_id, "fan_1"))
    floor_ms = _median_ms(lambda: conn.execute("SELECT 1").fetchone())
    print(
        f"Inbox counts, one user with {ITEMS:,} items ({heavy['unread']:,} unread, "
        f"{heavy['total']:,} shown), one statement: median {counts_ms:.2f} ms; "
        f"a user with 1 item {light_ms:.2f} ms; floor (SELECT 1 round trip) {floor_ms:.2f} ms, "
        f"ratio {counts_ms / floor_ms:.0f}x"
    )
    plan = "\n".join(
        row["QUERY PLAN"]
        for row in conn.execute(
            "EXPLAIN " + inbox.COUNTS.format(t="%(t)s", u="%(u)s"),
            {"t": tenant_id, "u": "heavy"},
        ).fetchall()
    )
    nodes = [line.strip().removeprefix("->").split("  (")[0].strip() for line in plan.splitlines()]
    print("  plan: " + "; ".join(node for node in nodes if "Scan" in node))
    db.close()
