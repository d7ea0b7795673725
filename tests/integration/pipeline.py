"""Drives the real handlers the way AWS does: HTTP events to the API, SQS batches to consumers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from local.functions import CHANNEL_WORKER_MODULES
from local.lambda_context import LocalFunction
from local.pollers import QueuePoller
from tests.integration.conftest import LambdaContext, Stack, http_event


def call_api(
    stack: Stack, method: str, path: str, **kwargs: Any
) -> tuple[int, dict[str, str], Any]:
    """Invoke the API function with a payload-2.0 event; return status, headers, JSON body."""
    response = stack.handlers["api.handler"].handler(
        http_event(method, path, **kwargs), LambdaContext()
    )
    body = response.get("body")
    parsed = json.loads(body) if body else None
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    return response["statusCode"], headers, parsed


def create_integration(stack: Stack, key: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/integrations, which must answer 201; returns the integration."""
    status, _, created = call_api(stack, "POST", "/v1/integrations", key=key, body=body)
    assert status == 201, created
    integration: dict[str, Any] = created
    return integration


def send_email(
    stack: Stack, key: str, recipients: list[str], headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    """POST /v1/notifications with a standard email to `recipients`."""
    return call_api(
        stack, "POST", "/v1/notifications", key=key, body=email_body(recipients), headers=headers
    )


def call_callback(
    stack: Stack, path: str, payload: str, headers: dict[str, str]
) -> tuple[int, Any]:
    event = http_event("POST", path, raw_body=payload, headers=headers)
    response = stack.handlers["webhooks.handler"].handler(event, LambdaContext())
    return response["statusCode"], json.loads(response["body"])


def run_dispatch(stack: Stack) -> int:
    """Deliver what is on the dispatch queue to the dispatch function, like the SQS trigger."""
    return _poll(stack, stack.resources.dispatch, "dispatch.handler")


def run_email_worker(stack: Stack) -> int:
    return _poll(stack, stack.resources.email, "workers.email_worker")


def run_sms_worker(stack: Stack) -> int:
    return _poll(stack, stack.resources.sms, "workers.sms_worker")


def run_whatsapp_worker(stack: Stack) -> int:
    return _poll(stack, stack.resources.whatsapp, "workers.whatsapp_worker")


def run_push_worker(stack: Stack) -> int:
    return _poll(stack, stack.resources.push, "workers.push_worker")


def run_web_push_worker(stack: Stack) -> int:
    return _poll(stack, stack.resources.web_push, "workers.web_push_worker")


def run_in_app_worker(stack: Stack) -> int:
    return _poll(stack, stack.resources.in_app, "workers.in_app_worker")


def run_bulk_workers(stack: Stack) -> int:
    """Each channel's worker on its bulk lane (batches, low-priority sends)."""
    return sum(
        _poll(stack, stack.resources.bulk[channel], module.removeprefix("functions."))
        for channel, module in CHANNEL_WORKER_MODULES.items()
        if channel != "webhook"
    )


def run_pipeline(stack: Stack) -> None:
    """Dispatch and send until every queue is empty."""
    while (
        run_dispatch(stack)
        + run_email_worker(stack)
        + run_sms_worker(stack)
        + run_whatsapp_worker(stack)
        + run_push_worker(stack)
        + run_web_push_worker(stack)
        + run_in_app_worker(stack)
        + run_bulk_workers(stack)
    ):
        pass


def run_until(stack: Stack, done: Callable[[], bool], rounds: int = 5) -> None:
    """Run the pipeline again, a second apart, until `done()` (at most `rounds` times):
    deliveries turned away while a half-open breaker's probe slots were taken come back a
    second later."""
    for _ in range(rounds):
        if done():
            return
        time.sleep(1.1)
        run_pipeline(stack)


def _poll(stack: Stack, queue: Any, module: str) -> int:
    function = LocalFunction(module, stack.handlers[module].handler, 60)
    poller = QueuePoller(stack.sqs(), queue.url, queue.arn, function, batch_size=10, wait_seconds=0)
    total = 0
    while received := poller.poll_once():
        total += received
    return total


def email_body(
    recipients: list[str], subject: str = "Your order shipped", **extra: Any
) -> dict[str, Any]:
    return {
        "recipients": [{"email": r} for r in recipients],
        "content": {
            "email": {
                "subject": subject,
                "text": "It is on its way.",
                "html": "<p>It is on its way.</p>",
            }
        },
        **extra,
    }
