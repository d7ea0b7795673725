"""The functions: handlers, sizes, runtime, environment contract, one role each."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from herald.aws.sqs import DELIVERED_CHANNELS

from tests.infra.cfn import Resources, herald_functions, logical_id

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]

DATABASE = {"HERALD_DATABASE_SECRET_ARN", "HERALD_DATABASE_HOST", "HERALD_DATABASE_NAME"}
POWERTOOLS = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}

PUSH_QUEUES = (
    "HERALD_PUSH_QUEUE_URL",
    "HERALD_PUSH_QUEUE_ARN",
    "HERALD_WEB_PUSH_QUEUE_URL",
    "HERALD_WEB_PUSH_QUEUE_ARN",
)

# handler -> (timeout s, memory MB, environment variables beyond Powertools and the database)
EXPECTED: dict[str, tuple[int, int, set[str]]] = {
    "functions.api.handler.handler": (
        29,
        512,
        {
            "HERALD_DISPATCH_QUEUE_URL",
            "HERALD_DISPATCH_QUEUE_ARN",
            "HERALD_SCHEDULE_GROUP",
            "HERALD_SCHEDULER_ROLE_ARN",
            "HERALD_SWEEPER_ARN",  # accepting work arms the sweeper
            "HERALD_PUBLIC_BASE_URL",
            "HERALD_LINKS_SECRET_ID",
            "HERALD_VAPID_SECRET_ID",
            # The inbox: delivery.read when an item is read, counts to the user's browsers.
            "HERALD_EVENTS_TOPIC_ARN",
            "HERALD_WEBSOCKET_URL",
            "HERALD_WEBSOCKET_MANAGEMENT_URL",
            "HERALD_WEBHOOK_EVENTS_QUEUE_URL",
            "HERALD_WEBHOOK_EVENTS_QUEUE_ARN",
            "HERALD_DEAD_LETTER_QUEUES",  # GET /v1/dead-letters, POST /v1/dead-letters/redrive
            # /v1/integrations: one secret each; an SES integration's test call.
            "HERALD_INTEGRATION_SECRET_PREFIX",
            "HERALD_SES_CONFIGURATION_SET",
        },
    ),
    "functions.webhooks.handler.handler": (
        10,
        256,
        {
            "HERALD_PROVIDER_SECRET_ID",
            "HERALD_EVENTS_TOPIC_ARN",
            "HERALD_PUBLIC_BASE_URL",
            "HERALD_INTEGRATION_SECRET_PREFIX",  # tenants' own Twilio accounts' callbacks
            # a failure reported late may call for a fallback: dispatch runs again
            "HERALD_DISPATCH_QUEUE_URL",
            "HERALD_DISPATCH_QUEUE_ARN",
        },
    ),
    "functions.dispatch.handler.handler": (
        60,
        512,
        {
            "HERALD_EMAIL_QUEUE_URL",
            "HERALD_EMAIL_QUEUE_ARN",
            "HERALD_SMS_QUEUE_URL",
            "HERALD_SMS_QUEUE_ARN",
            "HERALD_WHATSAPP_QUEUE_URL",
            "HERALD_WHATSAPP_QUEUE_ARN",
            *PUSH_QUEUES,
            "HERALD_IN_APP_QUEUE_URL",
            "HERALD_IN_APP_QUEUE_ARN",
            "HERALD_WEBHOOK_QUEUE_URL",
            "HERALD_WEBHOOK_QUEUE_ARN",
            "HERALD_EVENTS_TOPIC_ARN",
            # Quiet hours: a one-time schedule wakes the notification up on this queue.
            "HERALD_DISPATCH_QUEUE_URL",
            "HERALD_DISPATCH_QUEUE_ARN",
            "HERALD_SCHEDULE_GROUP",
            "HERALD_SCHEDULER_ROLE_ARN",
            "HERALD_SWEEPER_ARN",
        },
    ),
    "functions.dispatch.sweeper.handler": (
        60,
        256,
        {
            "HERALD_DISPATCH_QUEUE_URL",
            "HERALD_DISPATCH_QUEUE_ARN",
            "HERALD_EMAIL_QUEUE_URL",
            "HERALD_EMAIL_QUEUE_ARN",
            "HERALD_SMS_QUEUE_URL",
            "HERALD_SMS_QUEUE_ARN",
            "HERALD_WHATSAPP_QUEUE_URL",
            "HERALD_WHATSAPP_QUEUE_ARN",
            # It renews its own one-time schedule while work is in flight.
            "HERALD_SCHEDULE_GROUP",
            "HERALD_SCHEDULER_ROLE_ARN",
            "HERALD_SWEEPER_ARN",
            *PUSH_QUEUES,
            "HERALD_IN_APP_QUEUE_URL",
            "HERALD_IN_APP_QUEUE_ARN",
            "HERALD_WEBHOOK_QUEUE_URL",
            "HERALD_WEBHOOK_QUEUE_ARN",
            "HERALD_WEBHOOK_EVENTS_QUEUE_URL",
            "HERALD_WEBHOOK_EVENTS_QUEUE_ARN",
            "HERALD_EVENTS_TOPIC_ARN",  # delivery.failed for the dead-lettered ones it fails
        },
    ),
    "functions.workers.email_worker.handler": (
        60,
        512,
        {
            "HERALD_EMAIL_QUEUE_URL",
            "HERALD_EMAIL_QUEUE_ARN",
            "HERALD_PROVIDER_SECRET_ID",
            "HERALD_EMAIL_FROM",
            "HERALD_EVENTS_TOPIC_ARN",
            "HERALD_PUBLIC_BASE_URL",
            "HERALD_LINKS_SECRET_ID",
            # Fallbacks: hands a notification back to dispatch when a delivery gives up.
            "HERALD_DISPATCH_QUEUE_URL",
            "HERALD_DISPATCH_QUEUE_ARN",
            # Tenants' own SendGrid and SES integrations.
            "HERALD_INTEGRATION_SECRET_PREFIX",
            "HERALD_SES_CONFIGURATION_SET",
        },
    ),
    **{
        f"functions.workers.{channel}_worker.handler": (
            60,
            512,
            {
                f"HERALD_{channel.upper()}_QUEUE_URL",
                f"HERALD_{channel.upper()}_QUEUE_ARN",
                "HERALD_PROVIDER_SECRET_ID",
                "HERALD_EVENTS_TOPIC_ARN",
                "HERALD_PUBLIC_BASE_URL",
                "HERALD_DISPATCH_QUEUE_URL",
                "HERALD_DISPATCH_QUEUE_ARN",
                "HERALD_INTEGRATION_SECRET_PREFIX",  # tenants' own Twilio accounts
            },
        )
        for channel in ("sms", "whatsapp")
    },
    "functions.workers.push_worker.handler": (
        60,
        512,
        {
            "HERALD_PUSH_QUEUE_URL",
            "HERALD_PUSH_QUEUE_ARN",
            "HERALD_PROVIDER_SECRET_ID",
            "HERALD_EVENTS_TOPIC_ARN",
            # Fallbacks: hands a notification back to dispatch when a delivery gives up.
            "HERALD_DISPATCH_QUEUE_URL",
            "HERALD_DISPATCH_QUEUE_ARN",
            "HERALD_INTEGRATION_SECRET_PREFIX",  # tenants' own Firebase projects
        },
    ),
    "functions.workers.web_push_worker.handler": (
        60,
        512,
        {
            "HERALD_WEB_PUSH_QUEUE_URL",
            "HERALD_WEB_PUSH_QUEUE_ARN",
            "HERALD_VAPID_SECRET_ID",
            "HERALD_VAPID_SUBJECT",
            "HERALD_EVENTS_TOPIC_ARN",
            # Fallbacks: hands a notification back to dispatch when a delivery gives up.
            "HERALD_DISPATCH_QUEUE_URL",
            "HERALD_DISPATCH_QUEUE_ARN",
            "HERALD_INTEGRATION_SECRET_PREFIX",  # tenants' own VAPID keys
        },
    ),
    "functions.workers.in_app_worker.handler": (
        60,
        512,
        {
            "HERALD_EVENTS_TOPIC_ARN",
            "HERALD_WEBSOCKET_URL",
            "HERALD_WEBSOCKET_MANAGEMENT_URL",
            # Fallbacks: hands a notification back to dispatch when a delivery gives up.
            "HERALD_DISPATCH_QUEUE_URL",
            "HERALD_DISPATCH_QUEUE_ARN",
        },
    ),
    "functions.realtime.handler.handler": (10, 256, {"HERALD_LINKS_SECRET_ID"}),
    "functions.migrations.handler.handler": (300, 256, set()),
    "functions.workers.webhook_events_worker.handler": (
        120,
        512,
        {
            "HERALD_WEBHOOK_EVENTS_QUEUE_URL",
            "HERALD_WEBHOOK_EVENTS_QUEUE_ARN",
            "HERALD_EVENTS_TOPIC_ARN",
        },
    ),
    "functions.workers.webhook_worker.handler": (
        120,
        512,
        {
            "HERALD_WEBHOOK_QUEUE_URL",
            "HERALD_WEBHOOK_QUEUE_ARN",
            "HERALD_EVENTS_TOPIC_ARN",
            # Fallbacks: hands a notification back to dispatch when a delivery gives up.
            "HERALD_DISPATCH_QUEUE_URL",
            "HERALD_DISPATCH_QUEUE_ARN",
        },
    ),
    # SES events through SNS: applied to deliveries, status events published.
    "functions.webhooks.ses_events.handler": (30, 256, {"HERALD_EVENTS_TOPIC_ARN"}),
}


# Each delivered channel's bulk lane (herald.services.lanes): dispatch and the sweeper send to
# every one, each sending worker to its own (a retry goes back to the lane it came from).
for _handler in ("functions.dispatch.handler.handler", "functions.dispatch.sweeper.handler"):
    EXPECTED[_handler][2].update(
        f"HERALD_{channel.upper()}_BULK_QUEUE_{part}"
        for channel in DELIVERED_CHANNELS
        for part in ("URL", "ARN")
    )
for _channel in ("email", "sms", "whatsapp", "push", "web_push", "webhook"):
    EXPECTED[f"functions.workers.{_channel}_worker.handler"][2].update(
        {f"HERALD_{_channel.upper()}_BULK_QUEUE_URL", f"HERALD_{_channel.upper()}_BULK_QUEUE_ARN"}
    )


def _environment(function: dict[str, Any]) -> dict[str, Any]:
    variables: dict[str, Any] = function["Properties"]["Environment"]["Variables"]
    return variables


def test_the_functions_have_their_contracted_handlers_and_sizes(resources: Resources) -> None:
    # given
    functions = herald_functions(resources)

    # when
    sizes = {
        handler: (function["Properties"]["Timeout"], function["Properties"]["MemorySize"])
        for handler, function in functions.items()
    }

    # then
    assert sizes == {
        handler: (timeout, memory) for handler, (timeout, memory, _) in EXPECTED.items()
    }


def test_functions_run_python_3_13_on_arm64_in_the_vpc_with_tracing(resources: Resources) -> None:
    # given
    functions = herald_functions(resources)

    # when
    settings = {
        handler: (
            function["Properties"]["Runtime"],
            tuple(function["Properties"]["Architectures"]),
            function["Properties"]["TracingConfig"]["Mode"],
            len(function["Properties"]["Layers"]),
            bool(function["Properties"]["VpcConfig"]["SubnetIds"]),
        )
        for handler, function in functions.items()
    }

    # then
    assert set(settings.values()) == {("python3.13", ("arm64",), "Active", 2, True)}, settings


def test_each_function_has_its_own_role(resources: Resources) -> None:
    # given
    functions = herald_functions(resources)

    # when
    roles = {logical_id(function["Properties"]["Role"]) for function in functions.values()}

    # then
    assert len(functions) == len(EXPECTED)
    assert len(roles) == len(functions)


def test_each_function_logs_to_its_own_group_with_a_retention(resources: Resources) -> None:
    # given
    functions = herald_functions(resources)

    # when
    log_groups = {
        logical_id(function["Properties"]["LoggingConfig"]["LogGroup"])
        for function in functions.values()
    }

    # then
    assert len(log_groups) == len(functions)
    for key in log_groups:
        assert resources[key]["Properties"]["RetentionInDays"] > 0, key


def test_environment_is_exactly_what_each_function_reads(resources: Resources) -> None:
    # given
    functions = herald_functions(resources)

    # when
    environments = {handler: set(_environment(function)) for handler, function in functions.items()}

    # then
    assert environments == {
        handler: POWERTOOLS | DATABASE | variables
        for handler, (_, _, variables) in EXPECTED.items()
    }


def test_powertools_and_database_name_settings(resources: Resources) -> None:
    # given
    functions = herald_functions(resources)

    # when
    values = {
        (
            _environment(function)["POWERTOOLS_SERVICE_NAME"],
            _environment(function)["POWERTOOLS_METRICS_NAMESPACE"],
            _environment(function)["POWERTOOLS_LOG_LEVEL"],
            _environment(function)["HERALD_DATABASE_NAME"],
        )
        for function in functions.values()
    }

    # then
    assert values == {("herald", "Herald", "INFO", "herald")}


def test_database_host_is_the_proxy_in_production_and_email_from_has_a_default(
    production_resources: Resources,
) -> None:
    # given
    resources = production_resources
    email_worker = herald_functions(resources)["functions.workers.email_worker.handler"]

    # when
    environment = _environment(email_worker)

    # then
    host = environment["HERALD_DATABASE_HOST"]
    assert resources[logical_id(host)]["Type"] == "AWS::RDS::DBProxy"
    assert host["Fn::GetAtt"][1] == "Endpoint"
    assert environment["HERALD_EMAIL_FROM"] == "notifications@example.com"


def test_database_host_is_the_cluster_writer_in_small(small_resources: Resources) -> None:
    # given
    functions = herald_functions(small_resources)

    # when
    hosts = {
        handler: _environment(function)["HERALD_DATABASE_HOST"]
        for handler, function in functions.items()
    }

    # then
    for handler, host in hosts.items():
        assert small_resources[logical_id(host)]["Type"] == "AWS::RDS::DBCluster", handler
        assert host["Fn::GetAtt"][1] == "Endpoint.Address", handler


def test_no_secret_value_is_in_an_environment_variable(resources: Resources) -> None:
    # given
    functions = herald_functions(resources)

    # when
    rendered = [
        str(value) for function in functions.values() for value in _environment(function).values()
    ]

    # then
    assert rendered
    for value in rendered:
        assert "resolve:secretsmanager" not in value
        assert "SecretString" not in value


def test_every_setting_a_handler_requires_is_in_its_environment(resources: Resources) -> None:
    """The handlers fail at cold start on a missing setting; catch that here, not in AWS."""
    # given the settings each handler module demands (`settings.required("...")`,
    # and the database settings wherever it builds a database URL)
    functions = herald_functions(resources)

    # when
    missing = {}
    for handler, function in functions.items():
        module = ROOT / (handler.rsplit(".", 1)[0].replace(".", "/") + ".py")
        # A handler module, and the module that builds its dependencies when it has one.
        source = "".join(
            path.read_text()
            for path in (module, module.with_name("dependencies.py"))
            if path.exists()
        )
        needed = {f"HERALD_{name.upper()}" for name in re.findall(r'required\("(\w+)"\)', source)}
        if "database_url(settings)" in source:
            needed |= {"HERALD_DATABASE_SECRET_ARN", "HERALD_DATABASE_HOST"}
        if gap := needed - set(_environment(function)):
            missing[handler] = gap

    # then
    assert missing == {}
