"""`herald batch send` and `herald stats`: a running Herald's API, from a terminal.

The API URL and key come from flags or the environment (HERALD_API_URL, HERALD_API_KEY), so
the same commands work against `herald dev` and a deployed stack.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

DEFAULT_URL = "http://127.0.0.1:8000"
# The recipient fields a CSV column may name; every other column is a template variable.
RECIPIENT_COLUMNS = ("user_id", "email", "phone", "webhook_url", "locale")
CHUNK_SIZE = 10_000
IN_FLIGHT = ("queued", "deferred", "sending")
FINAL = ("completed", "canceled")

BATCH_EXAMPLES = """examples:
  herald batch send --template welcome --csv people.csv
  herald batch send --template digest --csv people.csv --var week=49 --category digest
  herald batch send --template launch --csv people.csv --per-second 50
  HERALD_API_URL=https://api.example.com HERALD_API_KEY=hk_... \\
    herald batch send --template launch --csv customers.csv --channel email

The CSV has a header row: user_id, email, phone, webhook_url and locale are recipient
fields; every other column is a variable of that recipient (over --var's).
"""
STATS_EXAMPLES = """examples:
  herald stats
  herald stats --granularity day --since 2026-11-01T00:00:00Z --channel email
  herald stats --category marketing
"""


class ApiError(RuntimeError):
    """Herald answered with an error; the message is its own."""


def add_commands(commands: Any) -> None:
    """Register `batch send` and `stats` on the `herald` parser."""
    batch = commands.add_parser("batch", help="send to many recipients from a CSV")
    batch_commands = batch.add_subparsers(dest="batch_command", required=True)
    send = batch_commands.add_parser(
        "send",
        help="upload a CSV as a batch in chunks, start it, and follow its progress",
        epilog=BATCH_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _connection_flags(send)
    send.add_argument("--template", required=True, help="the template key to send")
    send.add_argument("--csv", required=True, type=Path, help="recipients, one per row")
    send.add_argument(
        "--var", action="append", default=[], metavar="KEY=VALUE", help="a batch variable"
    )
    send.add_argument("--channel", action="append", help="send on this channel only")
    send.add_argument("--category", help="the category preferences are checked against")
    send.add_argument(
        "--per-second", type=int, help="throttle: about this many sends a second (1-10,000)"
    )
    send.add_argument("--chunk-size", type=int, default=CHUNK_SIZE, help="recipients per upload")
    send.add_argument("--no-wait", action="store_true", help="start the batch and return")
    send.set_defaults(run=batch_send)

    stats = commands.add_parser(
        "stats",
        help="print delivery counts, rates and latency per hour or day",
        epilog=STATS_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _connection_flags(stats)
    stats.add_argument("--since", help="ISO 8601 instant (default: a day or 30 days back)")
    stats.add_argument("--until", help="ISO 8601 instant (default: now)")
    stats.add_argument("--granularity", choices=("hour", "day"), default="hour")
    stats.add_argument("--channel")
    stats.add_argument("--category")
    stats.set_defaults(run=show_stats)


def _connection_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api-url",
        default=os.environ.get("HERALD_API_URL", DEFAULT_URL),
        help=f"Herald's API (env HERALD_API_URL, default {DEFAULT_URL})",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("HERALD_API_KEY"),
        help="an API key (env HERALD_API_KEY; default: the key `herald dev` wrote in .herald/)",
    )


def _client(args: argparse.Namespace) -> httpx.Client:
    key = args.api_key
    if not key:
        dev_key = Path(os.environ.get("HERALD_HOME", ".herald")) / "dev-api-key"
        if not dev_key.exists():
            raise ApiError("no API key: give --api-key or set HERALD_API_KEY")
        key = dev_key.read_text().strip()
    return httpx.Client(
        base_url=args.api_url.rstrip("/"), headers={"Authorization": f"Bearer {key}"}, timeout=60
    )


def _call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    """One API call, retried on transport errors and 5xx (every write here is idempotent)."""
    for attempt in range(4):
        try:
            response = client.request(method, path, **kwargs)
        except httpx.TransportError:
            if attempt == 3:
                raise
        else:
            if response.status_code < 500 or attempt == 3:
                break
        time.sleep(0.5 * 2**attempt)
    if response.status_code >= 400:
        raise ApiError(f"{method} {path}: {response.status_code} {response.text}")
    return response.json()


def read_recipients(path: Path) -> list[dict[str, Any]]:
    """The CSV's rows as batch recipients: recipient fields, the rest as variables."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not set(reader.fieldnames) & set(RECIPIENT_COLUMNS[:4]):
            raise ApiError(f"{path}: the header needs one of {', '.join(RECIPIENT_COLUMNS[:4])}")
        recipients = []
        for row in reader:
            recipient: dict[str, Any] = {
                k: v for k, v in row.items() if k in RECIPIENT_COLUMNS and v
            }
            variables = {k: v for k, v in row.items() if k not in RECIPIENT_COLUMNS and k}
            if variables:
                recipient["variables"] = variables
            recipients.append(recipient)
    return recipients


def _chunks(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _variables(pairs: list[str]) -> dict[str, str]:
    variables = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ApiError(f"--var {pair!r}: expected KEY=VALUE")
        variables[key] = value
    return variables


def batch_send(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    recipients = read_recipients(args.csv)
    if not recipients:
        raise ApiError(f"{args.csv}: no recipients")
    chunk_size = max(1, min(args.chunk_size, CHUNK_SIZE))
    body: dict[str, Any] = {
        "template": args.template,
        "variables": _variables(args.var),
        "start": False,
    }
    if args.channel:
        body["channels"] = args.channel
    if args.category:
        body["category"] = args.category
    if args.per_second is not None:
        body["throttle"] = {"per_second": args.per_second}
    with _client(args) as client:
        batch = _call(client, "POST", "/v1/batches", json=body)
        batch_id = batch["id"]
        duplicates = 0
        with Progress(
            TextColumn("uploading"), BarColumn(), MofNCompleteColumn(), console=console
        ) as progress:
            task = progress.add_task("upload", total=len(recipients))
            for number, chunk in enumerate(_chunks(recipients, chunk_size)):
                added = _call(
                    client,
                    "POST",
                    f"/v1/batches/{batch_id}/recipients",
                    json={"recipients": chunk},
                    # A retried upload of the same chunk adds nothing.
                    headers={"Idempotency-Key": f"{batch_id}-chunk-{number}"},
                )
                duplicates += len(added["duplicates"])
                progress.advance(task, len(chunk))
        started = _call(client, "POST", f"/v1/batches/{batch_id}/start")
        console.print(
            f"batch {batch_id}: {started['total']} recipients"
            + (f", {duplicates} duplicates left out" if duplicates else "")
        )
        if args.no_wait:
            print(batch_id)
            return 0
        final = _follow(client, console, batch_id, started["total"])
    print(f"{batch_id} {final['status']} " + _summary(final["counts"]))
    return 0 if final["status"] == "completed" else 1


def _follow(client: httpx.Client, console: Console, batch_id: str, total: int) -> Any:
    """Show the batch's counts until it completes or is canceled."""
    with Progress(
        TextColumn("[bold]{task.fields[status]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("batch", total=total, status="processing", counts="")
        while True:
            batch = _call(client, "GET", f"/v1/batches/{batch_id}")
            counts = batch["counts"]
            planned = sum(counts.values())
            done = planned - sum(counts.get(s, 0) for s in IN_FLIGHT)
            # A recipient has a delivery per channel: the bar counts deliveries once planned.
            progress.update(
                task,
                total=max(total, planned),
                completed=done,
                status=batch["status"],
                counts=_summary(counts),
            )
            if batch["status"] in FINAL:
                return batch
            time.sleep(1)


def _summary(counts: dict[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in counts.items() if v)


def show_stats(args: argparse.Namespace) -> int:
    query = {
        k: v
        for k, v in (
            ("since", args.since),
            ("until", args.until),
            ("granularity", args.granularity),
            ("channel", args.channel),
            ("category", args.category),
        )
        if v
    }
    with _client(args) as client:
        stats = _call(client, "GET", "/v1/stats", params=query)
    table = Table(title=f"Herald deliveries {stats['since']} .. {stats['until']}")
    for column in (
        "start",
        "channel",
        "total",
        "sent",
        "delivered",
        "failed",
        "bounced",
        "skipped",
        "delivery",
        "bounce",
        "p50 s",
        "p90 s",
        "p99 s",
    ):
        table.add_column(column, justify="left" if column in ("start", "channel") else "right")
    for bucket in stats["buckets"]:
        counts, rates, latency = (
            bucket["counts"],
            bucket["rates"],
            bucket["accept_to_sent_seconds"],
        )
        table.add_row(
            bucket["start"],
            bucket["channel"],
            str(bucket["total"]),
            *(str(counts[s]) for s in ("sent", "delivered", "failed", "bounced", "skipped")),
            *(_percent(rates[r]) for r in ("delivery", "bounce")),
            *(_number(latency[p]) for p in ("p50", "p90", "p99")),
        )
    # Piped (to a file, a test), rich would fold the table to 80 columns.
    Console(width=None if sys.stdout.isatty() else 160).print(table)
    return 0


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def run(args: argparse.Namespace) -> int:
    """Run a client command; an API error is a message and exit status 2, not a traceback."""
    try:
        return int(args.run(args))
    except (ApiError, httpx.HTTPError, OSError) as exc:
        print(f"herald: {exc}", file=sys.stderr)
        return 2
