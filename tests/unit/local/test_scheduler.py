"""Firing EventBridge Scheduler's one-time schedules, which moto only stores."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local.scheduler import SchedulerEmulator
from tests.unit.local.conftest import REGION, Queue

ROLE_ARN = "arn:aws:iam::123456789012:role/herald-scheduler"
# 09:00 in Paris in January is 08:00 UTC.
DUE_UTC = datetime(2030, 1, 1, 8, 0, 0, tzinfo=UTC)


@pytest.fixture
def scheduler(aws: str) -> Any:
    return boto3.client("scheduler", region_name=REGION)


@pytest.fixture
def group(scheduler: Any) -> str:
    name = f"test-{uuid.uuid4().hex[:12]}"
    scheduler.create_schedule_group(Name=name)
    return name


def _schedule(scheduler: Any, group: str, queue: Queue, **overrides: Any) -> str:
    name = f"s-{uuid.uuid4().hex[:12]}"
    params: dict[str, Any] = {
        "Name": name,
        "GroupName": group,
        "ScheduleExpression": "at(2030-01-01T09:00:00)",
        "ScheduleExpressionTimezone": "Europe/Paris",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {"Arn": queue.arn, "RoleArn": ROLE_ARN, "Input": json.dumps({"id": name})},
        **overrides,
    }
    scheduler.create_schedule(**params)
    return name


def _bodies(sqs: Any, queue: Queue) -> list[str]:
    messages = sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10)
    return [m["Body"] for m in messages.get("Messages", [])]


def test_at_schedule_fires_when_due_then_is_deleted(scheduler: Any, sqs: Any, group: str) -> None:
    # given
    queue = Queue(sqs, visibility_timeout=30)
    name = _schedule(scheduler, group, queue, ActionAfterCompletion="DELETE")
    emulator = SchedulerEmulator(scheduler, sqs, group)

    # when: one second early
    early = emulator.fire_due(now=DUE_UTC.replace(second=0, minute=59, hour=7))

    # then
    assert early == 0
    assert _bodies(sqs, queue) == []

    # when: due
    fired = emulator.fire_due(now=DUE_UTC)

    # then
    assert fired == 1
    assert _bodies(sqs, queue) == [json.dumps({"id": name})]
    with pytest.raises(ClientError) as error:
        scheduler.get_schedule(GroupName=group, Name=name)
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert emulator.fire_due(now=DUE_UTC) == 0


def test_kept_schedule_fires_only_once(scheduler: Any, sqs: Any, group: str) -> None:
    # given: no ActionAfterCompletion, which moto returns as null
    queue = Queue(sqs, visibility_timeout=30)
    name = _schedule(scheduler, group, queue)
    emulator = SchedulerEmulator(scheduler, sqs, group)

    # when
    fired = [emulator.fire_due(now=DUE_UTC), emulator.fire_due(now=DUE_UTC)]

    # then
    assert fired == [1, 0]
    assert len(_bodies(sqs, queue)) == 1
    assert scheduler.get_schedule(GroupName=group, Name=name)["Name"] == name


@pytest.mark.parametrize(
    "overrides",
    [{"ScheduleExpression": "rate(5 minutes)"}, {"State": "DISABLED"}],
    ids=["rate", "disabled"],
)
def test_recurring_and_disabled_schedules_are_not_fired(
    scheduler: Any, sqs: Any, group: str, overrides: dict[str, Any]
) -> None:
    # given
    queue = Queue(sqs, visibility_timeout=30)
    _schedule(scheduler, group, queue, **overrides)
    emulator = SchedulerEmulator(scheduler, sqs, group)

    # when
    fired = emulator.fire_due(now=DUE_UTC)

    # then
    assert fired == 0
    assert _bodies(sqs, queue) == []


def test_started_emulator_fires_past_schedules(scheduler: Any, sqs: Any, group: str) -> None:
    # given
    queue = Queue(sqs, visibility_timeout=30)
    past = "at(2020-01-01T00:00:00)"
    _schedule(scheduler, group, queue, ScheduleExpression=past, ActionAfterCompletion="DELETE")
    emulator = SchedulerEmulator(scheduler, sqs, group, poll_interval=0.05)

    # when
    emulator.start()
    response = sqs.receive_message(QueueUrl=queue.url, WaitTimeSeconds=2)
    emulator.stop()

    # then
    assert len(response.get("Messages", [])) == 1


def test_updated_schedule_fires_at_its_new_time(scheduler: Any, sqs: Any, group: str) -> None:
    # given: rescheduled without State, which moto then returns as null
    queue = Queue(sqs, visibility_timeout=30)
    name = _schedule(scheduler, group, queue)
    emulator = SchedulerEmulator(scheduler, sqs, group)
    assert emulator.fire_due(now=DUE_UTC.replace(year=2029)) == 0
    scheduler.update_schedule(
        Name=name,
        GroupName=group,
        ScheduleExpression="at(2028-06-01T00:00:00)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": queue.arn, "RoleArn": ROLE_ARN, "Input": "rescheduled"},
        ActionAfterCompletion="DELETE",
    )

    # when
    fired = emulator.fire_due(now=DUE_UTC.replace(year=2029))

    # then
    assert fired == 1
    assert _bodies(sqs, queue) == ["rescheduled"]


def test_a_schedule_targeting_a_local_function_invokes_it_with_its_input(
    scheduler: Any, sqs: Any, group: str
) -> None:
    # given the sweeper's kind of schedule: a Lambda target
    function_arn = "arn:aws:lambda:us-east-1:123456789012:function:herald-sweeper"
    events: list[dict[str, Any]] = []
    scheduler.create_schedule(
        Name="sweep-1",
        GroupName=group,
        ScheduleExpression="at(2030-01-01T08:00:00)",
        FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="DELETE",
        Target={"Arn": function_arn, "RoleArn": ROLE_ARN, "Input": '{"slot": 1}'},
    )
    emulator = SchedulerEmulator(scheduler, sqs, group, functions={function_arn: events.append})

    # when
    fired = emulator.fire_due(now=DUE_UTC)

    # then
    assert fired == 1
    assert events == [{"slot": 1}]
    assert scheduler.list_schedules(GroupName=group)["Schedules"] == []
