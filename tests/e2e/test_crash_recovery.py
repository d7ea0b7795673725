"""`herald dev` killed outright (SIGKILL) mid-send, then started again: the work goes on at once.

moto keeps its queues in memory, so the restart finds them empty; the deliveries the killed
run held must not wait for the sweeper's grace (15 minutes) nor for their workers' leases.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import LocalHerald, start_herald, wait_for

RECIPIENTS_PER_NOTIFICATION = 40
NOTIFICATIONS = 3
# Slow provider calls, so that the kill lands while sends are in flight.
SLOW = {"HERALD_SIMULATOR_LATENCY_MS": "1500"}
IN_FLIGHT = {"queued", "deferred", "sending"}


def _send(herald: LocalHerald, batch: int) -> str:
    recipients = [
        {"email": f"crash-{batch}-{i}@example.com"} for i in range(RECIPIENTS_PER_NOTIFICATION)
    ]
    body = {
        "recipients": recipients,
        "content": {"email": {"subject": f"Crash test {batch}", "text": "Still coming."}},
    }
    response = herald.client().post("/v1/notifications", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def _deliveries(herald: LocalHerald, ids: list[str]) -> list[dict[str, Any]]:
    with herald.client() as client:
        return [d for i in ids for d in client.get(f"/v1/notifications/{i}").json()["deliveries"]]


def _sent_to(herald: LocalHerald) -> list[str]:
    return [m["to"] for m in httpx.get(f"{herald.url}/_dev/outbox", timeout=10).json()]


def test_after_sigkill_a_restart_finishes_every_delivery_without_sending_twice(
    herald_home: Path,
) -> None:
    # given a run killed outright while it sends 120 emails slowly
    home = herald_home / "crash"
    first = start_herald(home, env=SLOW)
    ids = [_send(first, batch) for batch in range(NOTIFICATIONS)]
    wait_for(lambda: len(_sent_to(first)) >= 10, timeout=60)
    before_kill = {d["recipient"]["email"]: d["status"] for d in _deliveries(first, ids)}
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(timeout=10)
    assert IN_FLIGHT & set(before_kill.values()), "the kill came after every send"

    # when it is started again on the same data
    started = time.monotonic()
    second = start_herald(home)
    try:
        deliveries = wait_for(
            lambda: (
                (ds := _deliveries(second, ids))
                and not any(d["status"] in IN_FLIGHT for d in ds)
                and ds
            ),
            timeout=60,
        )
        finished_after = time.monotonic() - started
        # the outbox is kept under HERALD_HOME: it lists what both runs sent
        sent = Counter(_sent_to(second))
    finally:
        exit_code = second.stop()

    # then every delivery ended within a minute of the restart
    assert len(deliveries) == NOTIFICATIONS * RECIPIENTS_PER_NOTIFICATION
    assert {d["status"] for d in deliveries} <= {"sent", "delivered"}, deliveries
    assert finished_after < 60
    # no address got a second email, but for those the killed run had not recorded as sent
    # (one whose provider call the kill cut off may go again), and none a third
    recorded_sent = {a for a, status in before_kill.items() if status in ("sent", "delivered")}
    assert recorded_sent and recorded_sent <= set(sent), "the killed run's sends are listed"
    twice = {address for address, times in sent.items() if times > 1}
    assert not twice & recorded_sent
    assert max(sent.values()) <= 2
    assert set(sent) >= {d["recipient"]["email"] for d in deliveries}
    # and the clean stop after the crash stopped PostgreSQL too (no stale handle kept it)
    assert exit_code == 0
    assert not (home / "pg" / "postmaster.pid").exists()
