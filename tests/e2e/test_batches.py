"""`herald batch send` and `herald stats` against a running `herald dev`: a CSV of a few
thousand recipients uploaded in chunks, sent through the pipeline, counted to completion.

A Herald of their own: the callbacks and events of thousands of sends would still be
draining when the shared instance's other tests wait seconds for theirs."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.e2e.conftest import LocalHerald, start_herald

HERALD = Path(sys.executable).with_name("herald")
TEMPLATE = {
    "key": "launch",
    "name": "Launch",
    "channels": {"email": {"subject": "{{ product }} is out", "text": "Hi {{ first }}."}},
}


@pytest.fixture(scope="module")
def own_herald(herald_home: Path) -> Iterator[LocalHerald]:
    running = start_herald(herald_home / "batches")
    yield running
    if running.process.poll() is None:
        running.stop()


def _run(herald: LocalHerald, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HERALD), *args],
        env={**os.environ, "HERALD_API_URL": herald.url, "HERALD_API_KEY": herald.key},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_batch_send_uploads_a_csv_in_chunks_and_follows_it_to_completion(
    own_herald: LocalHerald, tmp_path: Path
) -> None:
    herald = own_herald
    # given a template and a CSV of 2,000 people (one twice)
    with herald.client() as client:
        assert client.post("/v1/templates", json=TEMPLATE).status_code == 201
    people = tmp_path / "people.csv"
    with people.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "first"])
        writer.writerows([f"cli{i}@example.com", f"N{i}"] for i in range(2000))
        writer.writerow(["cli3@example.com", "again"])

    # when
    result = _run(
        herald,
        "batch",
        "send",
        "--template",
        "launch",
        "--csv",
        str(people),
        "--var",
        "product=Herald",
        "--chunk-size",
        "1000",
    )

    # then
    assert result.returncode == 0, result.stderr
    batch_id, status, counts = result.stdout.split(maxsplit=2)
    printed = dict(pair.split("=") for pair in counts.split())
    # the simulator calls back: some are delivered by the time the batch completes
    assert status == "completed" and set(printed) <= {"sent", "delivered"}
    assert sum(int(n) for n in printed.values()) == 2000
    assert "1 duplicates left out" in result.stderr
    with herald.client() as client:
        batch = client.get(f"/v1/batches/{batch_id}").json()
        sent = client.get("/_dev/outbox").json()
    assert batch["total"] == 2000
    assert batch["counts"]["sent"] + batch["counts"]["delivered"] == 2000
    mine = [m for m in sent if m["to"].startswith("cli")]
    assert len(mine) == 2000
    assert {m["subject"] for m in mine} == {"Herald is out"}
    assert next(m for m in mine if m["to"] == "cli3@example.com")["text"] == "Hi N3."

    # and the stats table shows them
    table = _run(herald, "stats", "--channel", "email")
    with herald.client() as client:
        stats = client.get("/v1/stats", params={"channel": "email"}).json()
    assert table.returncode == 0, table.stderr
    assert [b["channel"] for b in stats["buckets"]] == ["email"]
    row = next(line for line in table.stdout.splitlines() if " email " in line)
    assert f" {stats['buckets'][0]['total']} " in row


def test_a_throttled_batch_goes_out_in_waves(own_herald: LocalHerald, tmp_path: Path) -> None:
    herald = own_herald
    # given a CSV of 60 people
    with herald.client() as client:
        client.post("/v1/templates", json=TEMPLATE)
    people = tmp_path / "wave.csv"
    with people.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "first"])
        writer.writerows([f"wave{i}@example.com", f"W{i}"] for i in range(60))

    # when it is sent at 20 a second
    result = _run(
        herald, "batch", "send", "--template", "launch", "--csv", str(people),
        "--var", "product=Herald", "--per-second", "20",
    )  # fmt: skip

    # then it completes, and the sends the pipeline recorded span the three waves
    assert result.returncode == 0, result.stderr
    batch_id, status, _ = result.stdout.split(maxsplit=2)
    with herald.client() as client:
        batch = client.get(f"/v1/batches/{batch_id}").json()
        notification = client.get(f"/v1/notifications/{batch['notification_id']}").json()
    assert status == "completed" and batch["throttle"] == {"per_second": 20}
    # each delivery's first `sent`: the worker's (a provider callback may report it again)
    sent = sorted(
        next(datetime.fromisoformat(e["at"]) for e in d["events"] if e["status"] == "sent")
        for d in notification["deliveries"]
    )
    assert len(sent) == 60 and (sent[-1] - sent[0]).total_seconds() >= 1.5


def test_client_commands_explain_themselves(own_herald: LocalHerald) -> None:
    herald = own_herald
    # when
    batch_help = _run(herald, "batch", "send", "--help")
    stats_help = _run(herald, "stats", "--help")
    no_template = _run(herald, "batch", "send", "--template", "nope", "--csv", "/nonexistent")

    # then
    assert "herald batch send --template welcome --csv people.csv" in batch_help.stdout
    assert "herald stats --granularity day" in stats_help.stdout
    assert no_template.returncode == 2 and "herald:" in no_template.stderr
