"""EventBridge Scheduler's firing, which moto leaves out: it stores schedules, never runs them.

Only one-time `at()` schedules are fired, which is what Herald creates, into SQS queues or the
local functions given by ARN (the sweeper: Lambda targets are invoked asynchronously in AWS,
here in the emulator's thread); a `rate()` or `cron()` schedule, or another target, is
reported once and left alone.
Gaps in moto 5.2.5 handled here: `ActionAfterCompletion` comes back null when it was not given
(AWS says "NONE"); `update_schedule` without `State` leaves it null (AWS: "ENABLED"), so the
state is read from `get_schedule` with null taken as enabled, not filtered on when listing; and
nothing marks a fired schedule as done, so fired schedules that stay are remembered (by name
and last modification) instead.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo

from botocore.exceptions import ClientError

from local.pollers import SQSClient

logger = logging.getLogger(__name__)

EventBridgeSchedulerClient: TypeAlias = Any  # untyped boto3 client

AT_EXPRESSION = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")


@dataclass(frozen=True)
class _OneTimeSchedule:
    due_at: datetime  # aware
    target: dict[str, Any]
    delete_after: bool
    enabled: bool


class SchedulerEmulator:
    """Fires due one-time schedules of one schedule group into their SQS queues."""

    def __init__(
        self,
        scheduler: EventBridgeSchedulerClient,
        sqs: SQSClient,
        group_name: str,
        poll_interval: float = 0.25,
        functions: Mapping[str, Callable[[dict[str, Any]], Any]] | None = None,
    ) -> None:
        self._scheduler = scheduler
        self._functions = dict(functions or {})
        self._sqs = sqs
        self._group_name = group_name
        self._poll_interval = poll_interval
        # get_schedule is needed for the expression (summaries don't carry it), so parsed
        # schedules are cached by (name, LastModificationDate) and fetched once per version.
        self._parsed: dict[tuple[str, Any], _OneTimeSchedule | None] = {}
        self._fired: set[tuple[str, Any]] = set()
        self._queue_urls: dict[str, str] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Check for due schedules every `poll_interval` seconds in a daemon thread."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the current check."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def fire_due(self, now: datetime | None = None) -> int:
        """Deliver every enabled schedule due by `now` (default: now); returns how many fired."""
        now = now or datetime.now(UTC)
        summaries = self._summaries()
        listed = {(s["Name"], s.get("LastModificationDate")) for s in summaries}
        # Forget schedules that are gone (deleted, cancelled or modified) so caches stay small.
        self._parsed = {k: v for k, v in self._parsed.items() if k in listed}
        self._fired &= listed
        fired = 0
        for key in listed - self._fired:
            schedule = self._parse(key)
            if schedule is None or not schedule.enabled or schedule.due_at > now:
                continue
            if self._fire(key[0], schedule):
                fired += 1
                self._fired.add(key)
        return fired

    def _run(self) -> None:
        while not self._stopping.wait(self._poll_interval):
            try:
                self.fire_due()
            except Exception:
                logger.exception("firing schedules of %s failed", self._group_name)

    def _summaries(self) -> list[dict[str, Any]]:
        paginator = self._scheduler.get_paginator("list_schedules")
        pages = paginator.paginate(GroupName=self._group_name)
        return [summary for page in pages for summary in page.get("Schedules", [])]

    def _parse(self, key: tuple[str, Any]) -> _OneTimeSchedule | None:
        if key not in self._parsed:
            try:
                schedule = self._scheduler.get_schedule(GroupName=self._group_name, Name=key[0])
            except ClientError as error:
                if error.response["Error"]["Code"] == "ResourceNotFoundException":
                    return None  # deleted since it was listed
                raise
            parsed = _one_time_schedule(schedule, self._functions)
            if parsed is None:
                # Logged once per version: the emulator checks several times a second.
                logger.warning(
                    "schedule %s (%s -> %s) is not fired locally: only at() schedules "
                    "targeting SQS or a local function are",
                    key[0],
                    schedule["ScheduleExpression"],
                    schedule["Target"]["Arn"],
                )
            self._parsed[key] = parsed
        return self._parsed[key]

    def _fire(self, name: str, schedule: _OneTimeSchedule) -> bool:
        """Deliver the target input; False leaves the schedule to be retried next check."""
        target = schedule.target
        if "Input" not in target:
            logger.error("schedule %s has no Input: nothing to deliver", name)
            return True
        function = self._functions.get(target["Arn"])
        if function is not None:
            # An asynchronous invocation: accepted, whatever the function then does.
            try:
                function(json.loads(target["Input"]))
            except Exception:
                logger.exception("%s, invoked by schedule %s, failed", target["Arn"], name)
            self._delete_after(name, schedule)
            return True
        params: dict[str, Any] = {"MessageBody": target["Input"]}
        group_id = target.get("SqsParameters", {}).get("MessageGroupId")
        if group_id:
            params["MessageGroupId"] = group_id
        try:
            self._sqs.send_message(QueueUrl=self._queue_url(target["Arn"]), **params)
        except ClientError:
            logger.exception("schedule %s could not be delivered; will retry", name)
            return False
        logger.debug("fired schedule %s into %s", name, target["Arn"])
        self._delete_after(name, schedule)
        return True

    def _delete_after(self, name: str, schedule: _OneTimeSchedule) -> None:
        if schedule.delete_after:
            try:
                self._scheduler.delete_schedule(GroupName=self._group_name, Name=name)
            except ClientError:
                logger.exception("fired schedule %s could not be deleted", name)

    def _queue_url(self, queue_arn: str) -> str:
        name = queue_arn.rsplit(":", 1)[-1]
        if name not in self._queue_urls:
            self._queue_urls[name] = self._sqs.get_queue_url(QueueName=name)["QueueUrl"]
        return self._queue_urls[name]


def _one_time_schedule(
    schedule: dict[str, Any], functions: Mapping[str, object]
) -> _OneTimeSchedule | None:
    """The parsed schedule, or None for what the emulator doesn't fire."""
    match = AT_EXPRESSION.match(schedule["ScheduleExpression"])
    target = schedule["Target"]
    if match is None or not (":sqs:" in target["Arn"] or target["Arn"] in functions):
        return None
    zone = ZoneInfo(schedule.get("ScheduleExpressionTimezone") or "UTC")
    due_at = datetime.fromisoformat(match.group(1)).replace(tzinfo=zone)
    # moto returns null for an unset ActionAfterCompletion, AWS "NONE": both keep the schedule.
    delete_after = schedule.get("ActionAfterCompletion") == "DELETE"
    enabled = schedule.get("State") in ("ENABLED", None)  # null: see the module docstring
    return _OneTimeSchedule(due_at, target, delete_after, enabled)
