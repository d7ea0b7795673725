"""SMS worker throughput, beside a floor measured in the same run: the bare `twilio` client
calling the same simulator, one call at a time and as many at once as the worker sends."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.__main__ import Bench

SMS_COUNT = 1_000
FLOOR_CALLS = 300
PROVIDER_LATENCY_MS = 100
TWILIO_ACCOUNT_SID = "AC" + "b" * 32
TWILIO_AUTH_TOKEN = "bench-twilio-auth-token"  # noqa: S105 - the local simulator's
SMS_FROM = "+15005550006"


def twilio_secret() -> dict[str, str]:
    """The provider secret's Twilio keys for the simulator the bench starts."""
    return {
        "twilio_account_sid": TWILIO_ACCOUNT_SID,
        "twilio_auth_token": TWILIO_AUTH_TOKEN,
        "twilio_from_number": SMS_FROM,
    }


def sms(recipients: int) -> dict[str, Any]:
    # Lines 1000-1999: none ends in a failure-injection suffix (0303, 0429, 0500).
    return {
        "recipients": [
            {"phone": f"+1415{300 + i // 1000}{1000 + i % 1000}"} for i in range(recipients)
        ],
        "content": {"sms": {"text": "Your order shipped. Track it at https://example.com/t/1"}},
    }


def bench_sms(bench: Bench) -> None:
    """Print SMS worker throughput without and with provider latency, and its ratio to the
    bare client's time per message."""
    from herald.settings import Settings

    concurrency = Settings().send_concurrency
    for latency in (0, PROVIDER_LATENCY_MS):
        bench.simulator.set_latency(latency)
        floor_serial = _bare_seconds_per_call(bench, 1, calls=_floor_calls(latency))
        floor_parallel = _bare_seconds_per_call(bench, concurrency, calls=FLOOR_CALLS)
        herald = _worker_seconds_per_sms(bench)
        label = f"{latency} ms provider latency" if latency else "no provider latency"
        print(
            f"SMS worker, {SMS_COUNT} SMS via the twilio client to the simulator, {label}: "
            f"{1 / herald:,.0f} SMS/s on one worker ({herald * 1000:.2f} ms per SMS)"
        )
        print(
            f"  floor, bare twilio client: {floor_serial * 1000:.2f} ms per call one at a time "
            f"(Herald x{herald / floor_serial:.2f}); {floor_parallel * 1000:.2f} ms per call "
            f"with {concurrency} at once (Herald x{herald / floor_parallel:.2f})"
        )
    bench.simulator.set_latency(0)


def _floor_calls(latency_ms: int) -> int:
    # One at a time at 100 ms a call, 300 calls would take half a minute: 30 tell as much.
    return 30 if latency_ms else FLOOR_CALLS


def _worker_seconds_per_sms(bench: Bench) -> float:
    bench.simulator.outbox.clear()
    bench.call_api(sms(SMS_COUNT))
    bench.drain(bench.resources.dispatch, "dispatch.handler")
    started = time.perf_counter()
    bench.drain(bench.resources.sms, "workers.sms_worker")
    elapsed = time.perf_counter() - started
    sent = len(bench.simulator.outbox.list())
    assert sent == SMS_COUNT, f"{sent} of {SMS_COUNT} SMS reached the simulator"
    return elapsed / SMS_COUNT


def _bare_seconds_per_call(bench: Bench, concurrency: int, *, calls: int) -> float:
    """The bare client's time per message: `Client.messages.create`, nothing else."""
    from herald.channels.twilio_messages import RedirectedHttpClient
    from twilio.rest import Client

    client = Client(
        TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, http_client=RedirectedHttpClient(bench.simulator.url)
    )

    def create(i: int) -> None:
        client.messages.create(
            to=f"+1415299{1000 + i % 1000}",
            from_=SMS_FROM,
            body="Your order shipped. Track it at https://example.com/t/1",
            status_callback="https://herald.example.com/v1/callbacks/twilio/status",
        )

    create(0)  # warm the connection pool
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(create, range(calls)))
    elapsed = time.perf_counter() - started
    bench.simulator.outbox.clear()
    return elapsed / calls
