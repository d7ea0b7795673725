"""The sweeper runs only while work is in flight: accepted work arms a one-time schedule, the
sweeper renews it while anything is pending, and an idle Herald is left with none (so Aurora
can pause). Real handlers, real PostgreSQL, EventBridge Scheduler in moto."""

from __future__ import annotations

import importlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest
from herald.aws.sweeps import sweep_schedule
from herald.services.sweep_schedule import SCHEDULE_PREFIX, run_while_pending

from local.aws_resources import REGION, SCHEDULE_GROUP, SWEEPER_ARN
from tests.integration.conftest import LambdaContext, Stack, Tenant
from tests.integration.pipeline import (
    call_api,
    email_body,
    run_dispatch,
    run_email_worker,
    send_email,
)

INTERVAL = timedelta(minutes=5)
STALL_GRACE = timedelta(minutes=2)


def _sweeps() -> dict[str, dict[str, Any]]:
    """The sweep schedules in the Herald group, by name, with their details."""
    client = boto3.client("scheduler", region_name=REGION)
    names = [
        summary["Name"]
        for page in client.get_paginator("list_schedules").paginate(GroupName=SCHEDULE_GROUP)
        for summary in page["Schedules"]
        if summary["Name"].startswith(SCHEDULE_PREFIX)
    ]
    return {name: client.get_schedule(GroupName=SCHEDULE_GROUP, Name=name) for name in names}


def _due(schedule: dict[str, Any]) -> datetime:
    expression = schedule["ScheduleExpression"]
    return datetime.fromisoformat(expression.removeprefix("at(").removesuffix(")")).replace(
        tzinfo=UTC
    )


def _fire_sweeps() -> None:
    """What firing does to a sweep schedule (ActionAfterCompletion DELETE): it is gone."""
    client = boto3.client("scheduler", region_name=REGION)
    for name in _sweeps():
        client.delete_schedule(GroupName=SCHEDULE_GROUP, Name=name)


@pytest.fixture
def sweeper(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """A moto without sweep schedules, and handlers that remember no armed slot (as fresh
    execution environments would)."""
    _fire_sweeps()
    # Imported once the stack has set the functions' environment.
    api_dependencies = importlib.import_module("functions.api.dependencies")
    notification_routes = importlib.import_module("functions.api.routes.notifications")
    fresh = sweep_schedule(api_dependencies.settings, api_dependencies.scheduler)
    monkeypatch.setattr(
        notification_routes, "send_ports", replace(api_dependencies.send_ports, sweeps=fresh)
    )
    module = stack.handlers["dispatch.sweeper"]
    monkeypatch.setattr(
        module, "schedule", sweep_schedule(module.settings, api_dependencies.scheduler)
    )
    return module


def test_an_idle_herald_arms_no_sweep(sweeper: ModuleType) -> None:
    # given nothing in flight

    # when the sweeper runs (say, once at start)
    result = sweeper.handler({}, LambdaContext())

    # then it does not schedule itself again
    assert result["renewed"] is False
    assert _sweeps() == {}


def test_accepting_work_arms_one_sweep_after_the_stall_grace(
    stack: Stack, tenant: Tenant, sweeper: ModuleType
) -> None:
    # given
    before = datetime.now(UTC)

    # when two notifications are accepted
    for _ in range(2):
        status, _, _ = send_email(stack, tenant.key, ["ada@example.com"])
        assert status == 202

    # then one schedule invokes the sweeper, once, when the first could have stalled
    ((_, schedule),) = _sweeps().items()
    assert schedule["Target"]["Arn"] == SWEEPER_ARN
    assert json.loads(schedule["Target"]["Input"])["source"] == "herald.sweep"
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert (
        before + STALL_GRACE
        <= _due(schedule)
        <= before + STALL_GRACE + INTERVAL + timedelta(seconds=5)
    )


def test_a_later_send_arms_the_sweep_after_its_send_at(
    stack: Stack, tenant: Tenant, sweeper: ModuleType
) -> None:
    # given
    send_at = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0)

    # when
    status, _, _ = call_send_at(stack, tenant, send_at)

    # then: a lost schedule of the send itself is found by the sweep that follows it
    assert status == 202
    ((_, schedule),) = _sweeps().items()
    assert send_at + STALL_GRACE <= _due(schedule) <= send_at + STALL_GRACE + INTERVAL


def call_send_at(stack: Stack, tenant: Tenant, send_at: datetime) -> tuple[int, Any, Any]:
    body = email_body(["ada@example.com"], send_at=send_at.isoformat())
    return call_api(stack, "POST", "/v1/notifications", key=tenant.key, body=body)


def test_the_sweeper_renews_while_deliveries_are_pending_and_not_once_all_are_done(
    stack: Stack, tenant: Tenant, sweeper: ModuleType
) -> None:
    # given an accepted notification whose delivery is queued, not sent yet
    send_email(stack, tenant.key, ["ada@example.com"])
    run_dispatch(stack)
    _fire_sweeps()

    # when the sweep the API armed runs
    during = sweeper.handler({}, LambdaContext())

    # then it arms its next run
    ((_, schedule),) = _sweeps().items()
    assert during["renewed"] is True
    assert _due(schedule) > datetime.now(UTC)

    # when the email goes out and that sweep runs
    run_email_worker(stack)
    assert len(stack.simulator.outbox.list()) == 1
    _fire_sweeps()
    after = sweeper.handler({}, LambdaContext())

    # then nothing is pending and no sweep is scheduled: Aurora may pause
    assert after["renewed"] is False
    assert _sweeps() == {}


def test_a_failed_sweep_still_arms_the_next_one(stack: Stack, sweeper: ModuleType) -> None:
    # given a sweep that fails (the database resuming too slowly, say)
    def failing_sweep() -> None:
        raise ConnectionError("database unavailable")

    # when
    with pytest.raises(ConnectionError):
        run_while_pending(stack.db, sweeper.schedule, failing_sweep)

    # then the chain goes on: the next slot is armed
    ((_, schedule),) = _sweeps().items()
    assert _due(schedule) > datetime.now(UTC)
