"""The deployment's own provider accounts behind circuit breakers: a tenant without an
integration sends through them, and when one keeps failing every such tenant's deliveries wait
instead of burning their attempts."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from herald.models.messages import ChannelMessage

from tests.integration.conftest import SIMULATOR_KEY, TWILIO_ACCOUNT_SID, Stack, Tenant
from tests.integration.pipeline import (
    call_api,
    run_email_worker,
    run_pipeline,
    run_until,
    send_email,
)
from tests.integration.test_events import _events, _subscribed_queue
from tests.integration.test_failover import THRESHOLD, _deliveries, _integrations, _recipients
from tests.integration.test_sms import send_sms


def _health(stack: Stack) -> dict[str, Any]:
    status, _, body = call_api(stack, "GET", "/v1/health")
    assert status == 200, body
    accounts: dict[str, Any] = body["default_accounts"]
    return accounts


def _open_the_email_breaker(stack: Stack, tenant: Tenant) -> str:
    """The deployment's SendGrid down for as many sends as the window holds."""
    stack.simulator.modes.set("sendgrid", "down", SIMULATOR_KEY)
    _, _, accepted = send_email(stack, tenant.key, _recipients(THRESHOLD))
    run_pipeline(stack)
    return str(accepted["id"])


def test_the_default_accounts_breaker_opens_and_every_tenant_without_integrations_waits(
    stack: Stack,
    tenant: Tenant,
    other_tenant: Tenant,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # given
    events_queue = _subscribed_queue(stack)
    assert _health(stack)["email"] == {
        "provider": "sendgrid",
        "state": "closed",
        "opened_at": None,
        "failure_rate": None,
    }

    # when one tenant's sends find the deployment's SendGrid down
    with caplog.at_level(logging.WARNING, logger="herald.services.circuits"):
        first = _open_the_email_breaker(stack, tenant)
    # and another tenant sends next
    _, _, accepted = send_email(stack, other_tenant.key, ["next@example.com"])
    run_pipeline(stack)

    # then the first sends burnt one attempt, and no more once the breaker opened
    waiting = _deliveries(stack, tenant, first)
    assert {(d["status"], d["reason"], d["attempts"]) for d in waiting} == {
        ("deferred", "provider_unavailable", 1)
    }
    # the other tenant's delivery was not even tried, and keeps its attempts
    (delivery,) = _deliveries(stack, other_tenant, accepted["id"])
    assert (delivery["status"], delivery["reason"], delivery["attempts"]) == (
        "deferred",
        "provider_unavailable",
        0,
    )
    assert "deployment's sendgrid account" in delivery["error"]
    # operators see it, in the health check, the log and the metric
    email = _health(stack)["email"]
    assert (email["state"], email["failure_rate"]) == ("open", 1.0)
    assert _health(stack)["sms"]["state"] == "closed"
    assert [r.getMessage() for r in caplog.records if r.name == "herald.services.circuits"] == [
        "circuit open: the deployment's sendgrid account for email"
    ]
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "{" in line]
    assert [m.get("CircuitOpened") for m in metrics if "CircuitOpened" in m] == [[1.0]]
    # and no tenant is told: the account is no tenant's
    assert [e for e in _events(stack, events_queue) if e["type"].startswith("integration.")] == []


def test_a_tenant_with_its_own_integration_still_sends_while_the_default_is_open(
    stack: Stack, tenant: Tenant, other_tenant: Tenant
) -> None:
    # given
    _open_the_email_breaker(stack, other_tenant)
    stack.simulator.modes.set("sendgrid", "up", SIMULATOR_KEY)
    sendgrid_id, _ = _integrations(stack, tenant)

    # when
    _, _, accepted = send_email(stack, tenant.key, ["ada@example.com"])
    run_pipeline(stack)

    # then
    (delivery,) = _deliveries(stack, tenant, accepted["id"])
    assert (delivery["status"], delivery["integration_id"]) == ("sent", sendgrid_id)
    assert _health(stack)["email"]["state"] == "open"


def test_once_the_default_account_is_back_a_probe_closes_the_breaker_and_the_waiting_go(
    stack: Stack, tenant: Tenant
) -> None:
    # given the breaker open, the account back, and the breaker's wait over
    first = _open_the_email_breaker(stack, tenant)
    waiting = _deliveries(stack, tenant, first)
    stack.simulator.modes.set("sendgrid", "up", SIMULATOR_KEY)
    stack.db.connection().execute(
        "UPDATE default_circuits SET opened_at = %s",
        (datetime.now(UTC) - timedelta(seconds=31),),
    )
    assert _health(stack)["email"]["state"] == "half_open"

    # when their queue message comes due
    stack.drain(stack.resources.email.url)
    stack.sqs().send_message(
        QueueUrl=stack.resources.email.url,
        MessageBody=ChannelMessage(
            tenant_id=tenant.id, channel="email", delivery_ids=[d["id"] for d in waiting]
        ).model_dump_json(),
    )
    run_email_worker(stack)
    run_pipeline(stack)
    # those that found the probe slots taken try again a second later
    run_until(stack, lambda: {d["status"] for d in _deliveries(stack, tenant, first)} == {"sent"})

    # then every one went out, once, and the breaker closed
    assert {d["status"] for d in _deliveries(stack, tenant, first)} == {"sent"}
    assert sorted(e["to"] for e in stack.simulator.outbox.list()) == sorted(_recipients(THRESHOLD))
    email = _health(stack)["email"]
    assert (email["state"], email["opened_at"]) == ("closed", None)


def test_each_channel_has_its_own_default_breaker(stack: Stack, tenant: Tenant) -> None:
    # given the deployment's Twilio account down
    stack.simulator.modes.set("twilio", "down", TWILIO_ACCOUNT_SID)
    phones = [f"+1415555{i:04d}" for i in range(THRESHOLD)]
    status, _, body = call_api(
        stack,
        "POST",
        "/v1/notifications",
        key=tenant.key,
        body={"recipients": [{"phone": p} for p in phones], "content": {"sms": {"text": "Hi"}}},
    )
    assert status == 202, body

    # when
    run_pipeline(stack)
    stack.simulator.modes.set("twilio", "up", TWILIO_ACCOUNT_SID)
    notification_id = send_sms(stack, tenant.key)
    _, _, email = send_email(stack, tenant.key, ["ada@example.com"])
    run_pipeline(stack)

    # then SMS waits for its breaker, email goes out
    accounts = _health(stack)
    assert (accounts["sms"]["state"], accounts["email"]["state"]) == ("open", "closed")
    (sms,) = _deliveries(stack, tenant, notification_id)
    assert (sms["status"], sms["reason"]) == ("deferred", "provider_unavailable")
    (sent,) = _deliveries(stack, tenant, email["id"])
    assert sent["status"] == "sent"
