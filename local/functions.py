"""The Lambda functions as the local runtime, the tests and the benchmark load them."""

from __future__ import annotations

import importlib
from types import ModuleType

from local.aws_resources import Resources

# Module of each function's handler, as CDK names them (handler = `<module>.handler`).
HANDLER_MODULES = (
    "functions.api.handler",
    "functions.webhooks.handler",
    "functions.dispatch.handler",
    "functions.dispatch.sweeper",
    "functions.workers.email_worker",
    "functions.workers.webhook_events_worker",
    "functions.workers.webhook_worker",
)


def function_environment(
    resources: Resources,
    database_url: str,
    *,
    sendgrid_api_host: str | None,
    public_base_url: str = "http://127.0.0.1:8000",
    log_level: str = "WARNING",
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
    return environment


def import_handlers() -> dict[str, ModuleType]:
    """Import every handler module (their cold start), keyed by module path."""
    return {name: importlib.import_module(name) for name in HANDLER_MODULES}
