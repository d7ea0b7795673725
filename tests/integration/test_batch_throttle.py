"""A throttled batch goes out in waves of `per_second` through real SQS delays (moto); cancel
still stops what has not been sent."""

from __future__ import annotations

import os
import time
from typing import Any

import psycopg

from tests.integration.conftest import Stack, Tenant
from tests.integration.pipeline import call_api, run_pipeline

CONTENT = {"email": {"subject": "Sale", "text": "It is on."}}


def _start(stack: Stack, tenant: Tenant, count: int, **extra: Any) -> str:
    body = {
        "content": CONTENT,
        "recipients": [{"email": f"t{i}@example.com"} for i in range(count)],
        **extra,
    }
    status, _, accepted = call_api(stack, "POST", "/v1/batches", key=tenant.key, body=body)
    assert status == 202, accepted
    return str(accepted["id"])


def _batch(stack: Stack, tenant: Tenant, batch_id: str) -> Any:
    status, _, batch = call_api(stack, "GET", f"/v1/batches/{batch_id}", key=tenant.key)
    assert status == 200
    return batch


def _drain(stack: Stack, tenant: Tenant, batch_id: str) -> Any:
    """Run the pipeline as messages become visible, until the batch is completed (the bound
    only keeps a broken build from hanging; nothing is timed by it)."""
    deadline = time.monotonic() + 60
    while (batch := _batch(stack, tenant, batch_id))["status"] == "processing":
        assert time.monotonic() < deadline, batch
        run_pipeline(stack)
        time.sleep(0.1)
    return batch


def _sends(notification_id: str) -> list[float]:
    """Seconds from the batch's start to each send, in order."""
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM d.sent_at - b.started_at)::float8 FROM deliveries d"
            " JOIN batches b ON b.notification_id = d.notification_id"
            " WHERE d.notification_id = %s AND d.sent_at IS NOT NULL ORDER BY d.sent_at",
            (notification_id,),
        ).fetchall()
    return [r[0] for r in rows]


def test_a_throttled_batch_spreads_its_sends_an_unthrottled_one_does_not(
    stack: Stack, tenant: Tenant
) -> None:
    # given a batch of 60 throttled to 20 a second, then one of 60 not throttled
    slow = _drain(stack, tenant, _start(stack, tenant, 60, throttle={"per_second": 20}))
    fast = _drain(stack, tenant, _start(stack, tenant, 60))

    # then the throttled one went out in three waves a second apart (none early), the
    # other at once
    assert slow["throttle"] == {"per_second": 20} and fast["throttle"] is None
    assert slow["counts"]["sent"] == fast["counts"]["sent"] == 60
    sends = _sends(slow["notification_id"])
    assert len(sends) == 60 and sends[-1] - sends[0] >= 1.5
    assert sends[20] >= 1.0 and sends[40] >= 2.0
    sends = _sends(fast["notification_id"])
    assert len(sends) == 60 and sends[-1] - sends[0] < 1.0


def test_cancel_stops_the_waves_not_sent_yet(stack: Stack, tenant: Tenant) -> None:
    # given a batch of 60 at 10 a second whose first wave went out
    batch_id = _start(stack, tenant, 60, throttle={"per_second": 10})
    run_pipeline(stack)

    # when it is canceled, and its delayed messages arrive
    status, _, _ = call_api(stack, "POST", f"/v1/batches/{batch_id}/cancel", key=tenant.key)
    time.sleep(6)
    run_pipeline(stack)

    # then only what was sent before the cancel was sent
    batch = _batch(stack, tenant, batch_id)
    assert status == 200 and batch["status"] == "canceled"
    counts = batch["counts"]
    assert counts["sent"] + counts["canceled"] == 60
    assert 10 <= counts["sent"] <= 30 and counts["canceled"] >= 30
    assert len(stack.simulator.outbox.list()) == counts["sent"]


def test_bad_throttles_are_refused_and_change_nothing(stack: Stack, tenant: Tenant) -> None:
    def create(throttle: Any) -> tuple[int, Any]:
        body = {"content": CONTENT, "recipients": [{"email": "a@example.com"}]}
        status, _, answer = call_api(
            stack, "POST", "/v1/batches", key=tenant.key, body={**body, "throttle": throttle}
        )
        return status, answer

    # when
    zero = create({"per_second": 0})
    too_fast = create({"per_second": 10_001})
    fractional = create({"per_second": 2.5})
    unknown = create({"per_minute": 5})

    # then out-of-range rates are a 422 naming the field, malformed ones a 400
    assert zero[0] == 422 and too_fast[0] == 422
    assert zero[1]["error"]["details"][0]["field"] == "throttle.per_second"
    assert "10,000" in too_fast[1]["error"]["message"]
    assert fractional[0] == 400 and unknown[0] == 400
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        row = conn.execute("SELECT count(*) FROM batches").fetchone()
    assert row is not None and row[0] == 0
