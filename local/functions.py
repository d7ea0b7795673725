"""The Lambda functions as the local runtime, the tests and the benchmark load them."""

from __future__ import annotations

import importlib
import importlib.util
import json
from types import ModuleType

from local.aws_resources import SES_CONFIGURATION_SET, Resources

# Module of each function's handler, as CDK names them (handler = `<module>.handler`).
HANDLER_MODULES = (
    "functions.api.handler",
    "functions.webhooks.handler",
    "functions.dispatch.handler",
    "functions.dispatch.sweeper",
    "functions.workers.email_worker",
    "functions.workers.sms_worker",
    "functions.workers.whatsapp_worker",
    "functions.workers.push_worker",
    "functions.workers.web_push_worker",
    "functions.workers.in_app_worker",
    "functions.realtime.handler",
    "functions.workers.webhook_events_worker",
    "functions.workers.webhook_worker",
    "functions.webhooks.ses_events",
)

# The worker of each delivered channel (herald.aws.sqs.DELIVERED_CHANNELS): it consumes the
# channel's queue and, through a second mapping, the channel's bulk lane.
CHANNEL_WORKER_MODULES = {
    "email": "functions.workers.email_worker",
    "sms": "functions.workers.sms_worker",
    "whatsapp": "functions.workers.whatsapp_worker",
    "push": "functions.workers.push_worker",
    "web_push": "functions.workers.web_push_worker",
    "in_app": "functions.workers.in_app_worker",
    "webhook": "functions.workers.webhook_worker",
}


def function_environment(
    resources: Resources,
    database_url: str,
    *,
    sendgrid_api_host: str | None,
    public_base_url: str = "http://127.0.0.1:8000",
    log_level: str = "WARNING",
    twilio_api_base_url: str | None = None,
    simulator_url: str | None = None,
    websocket_url: str | None = None,
    websocket_management_url: str | None = None,
) -> dict[str, str]:
    """The variables CDK gives the functions in AWS, pointing at the local parts instead."""
    environment = {
        **resources.environment(),
        "DATABASE_URL": database_url,
        "HERALD_PUBLIC_BASE_URL": public_base_url,
        "POWERTOOLS_SERVICE_NAME": "herald",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": log_level,
        # Locally, webhooks may reach the dev sink on http://127.0.0.1 (never when deployed).
        "HERALD_WEBHOOK_ALLOW_LOCAL_SINK": "true",
    }
    if sendgrid_api_host:
        environment["HERALD_SENDGRID_API_HOST"] = sendgrid_api_host
    if twilio_api_base_url:
        environment["HERALD_TWILIO_API_BASE_URL"] = twilio_api_base_url
    if simulator_url:
        # Local only: FCM requests go to the simulator, and its web push endpoints are http.
        environment["HERALD_FCM_SIMULATOR_URL"] = simulator_url
        environment["HERALD_WEB_PUSH_PLAIN_HTTP_ORIGINS"] = json.dumps([simulator_url])
        # Amazon SES (API v2) is the simulator too, with a configuration set whose events
        # it publishes to the SES events topic (local/aws_resources.py).
        environment["HERALD_SES_ENDPOINT_URL"] = simulator_url
        environment["HERALD_SES_CONFIGURATION_SET"] = SES_CONFIGURATION_SET
    if websocket_url and websocket_management_url:
        environment["HERALD_WEBSOCKET_URL"] = websocket_url
        environment["HERALD_WEBSOCKET_MANAGEMENT_URL"] = websocket_management_url
    return environment


def import_handlers() -> dict[str, ModuleType]:
    """Import every handler module (their cold start), keyed by module path."""
    return {name: importlib.import_module(name) for name in HANDLER_MODULES}


def another_environment(module: ModuleType) -> ModuleType:
    """A second execution environment of an imported handler module: a fresh copy of it, with
    its own connection, clients and state, as Lambda runs concurrent invocations of one
    function in separate environments (the bulk lane's invocations beside the normal one's)."""
    spec = importlib.util.find_spec(module.__name__)
    assert spec is not None and spec.loader is not None
    copy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(copy)
    return copy
