"""Push and web push throughput per worker, beside the bare library doing the same sends.

Each of `USERS` users has one Android token and one web push subscription (real keys, made
by the simulator). Herald's figure is one push worker (or web push worker) draining the
deliveries of one notification to all of them: claim, compose, send through the library,
record, per device. The floor is the same library sending the same messages from a pool of
the same size (`send_concurrency`), nothing else: the ratio is what Herald adds per push.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

USERS = 300
PROVIDER_LATENCY_MS = 100


class PushBench(Protocol):
    handlers: dict[str, Any]
    resources: Any
    simulator: Any

    def call_api(self, body: dict[str, Any]) -> dict[str, Any]: ...

    def drain(self, queue: Any, module: str) -> int: ...


def bench_push(bench: PushBench, tenant_id: str) -> None:
    """Print push and web push rates at no provider latency and at 100 ms, with the floor."""
    subscriptions = _users_with_devices(bench, tenant_id)
    for latency in (0, PROVIDER_LATENCY_MS):
        bench.simulator.set_latency(latency)
        for channel, queue, module in (
            ("push", bench.resources.push, "workers.push_worker"),
            ("web_push", bench.resources.web_push, "workers.web_push_worker"),
        ):
            herald = _herald_seconds(bench, channel, queue, module)
            floor = _library_seconds(bench, channel, subscriptions)
            label = "Push (firebase-admin)" if channel == "push" else "Web push (pywebpush)"
            print(
                f"{label}, {USERS} devices, {latency} ms provider latency: "
                f"{USERS / herald:,.0f}/s on one worker; bare library {USERS / floor:,.0f}/s; "
                f"Herald/library time per push {herald / floor:.2f}x"
            )
    bench.simulator.set_latency(0)


def _users_with_devices(bench: PushBench, tenant_id: str) -> list[dict[str, Any]]:
    from herald.db.connection import Database

    subscriptions = [bench.simulator.create_web_push_subscription() for _ in range(USERS)]
    conn = Database(os.environ["DATABASE_URL"]).connection()
    user_ids = [f"bench-push-{i}" for i in range(USERS)]
    conn.execute(
        "INSERT INTO users (tenant_id, user_id) SELECT %s, unnest(%s::text[])",
        (tenant_id, user_ids),
    )
    conn.execute(
        "INSERT INTO devices (id, tenant_id, user_id, platform, address, p256dh, auth)"
        " SELECT 'dev_a' || u, %(t)s, u, 'android', 'bench-token-' || u, NULL, NULL"
        "   FROM unnest(%(users)s::text[]) AS u"
        " UNION ALL"
        " SELECT 'dev_w' || s.u, %(t)s, s.u, 'web', s.endpoint, s.p256dh, s.auth"
        "   FROM unnest(%(users)s::text[], %(endpoints)s::text[], %(p256dh)s::text[],"
        "               %(auth)s::text[]) AS s(u, endpoint, p256dh, auth)",
        {
            "t": tenant_id,
            "users": user_ids,
            "endpoints": [s["endpoint"] for s in subscriptions],
            "p256dh": [s["keys"]["p256dh"] for s in subscriptions],
            "auth": [s["keys"]["auth"] for s in subscriptions],
        },
    )
    return subscriptions


def _herald_seconds(bench: PushBench, channel: str, queue: Any, module: str) -> float:
    content = {"title": "Benchmark", "body": "Hello", "data": {"n": "1"}}
    if channel == "web_push":
        content = {"title": "Benchmark", "body": "Hello", "url": "https://example.com/"}
    bench.simulator.outbox.clear()
    bench.call_api(
        {
            "recipients": [{"user_id": f"bench-push-{i}"} for i in range(USERS)],
            "content": {channel: content},
        }
    )
    bench.drain(bench.resources.dispatch, "dispatch.handler")
    started = time.perf_counter()
    bench.drain(queue, module)
    elapsed = time.perf_counter() - started
    assert len(bench.simulator.outbox.list()) == USERS
    return elapsed


def _library_seconds(bench: PushBench, channel: str, subscriptions: list[dict[str, Any]]) -> float:
    from herald.settings import Settings

    pool = ThreadPoolExecutor(max_workers=Settings().send_concurrency)
    bench.simulator.outbox.clear()
    if channel == "push":
        from firebase_admin import messaging

        worker = bench.handlers["workers.push_worker"]
        app = worker._sender()._app
        send = lambda i: messaging.send(  # noqa: E731
            messaging.Message(
                token=f"bench-token-{i}",
                notification=messaging.Notification(title="Benchmark", body="Hello"),
                data={"n": "1"},
            ),
            app=app,
        )
    else:
        from py_vapid import Vapid02
        from pywebpush import webpush

        worker = bench.handlers["workers.web_push_worker"]
        key: Vapid02 = worker._sender()._vapid
        payload = json.dumps({"title": "Benchmark", "body": "Hello"})
        send = lambda i: webpush(  # noqa: E731
            subscriptions[i],
            data=payload,
            vapid_private_key=key,
            vapid_claims={"sub": "mailto:bench@example.com"},
            ttl=86400,
        )
    started = time.perf_counter()
    list(pool.map(send, range(USERS)))
    elapsed = time.perf_counter() - started
    pool.shutdown()
    assert len(bench.simulator.outbox.list()) == USERS
    return elapsed
