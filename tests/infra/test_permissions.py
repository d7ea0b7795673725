"""Least privilege: no wildcard actions on data services; the scheduler's narrow role."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra.cfn import (
    Resources,
    as_list,
    herald_functions,
    logical_id,
    of_type,
    policy_statements,
)

pytestmark = pytest.mark.infra

DATA_SERVICES = ("sqs", "sns", "secretsmanager", "scheduler", "rds-data")


def _actions_of_role(resources: Resources, role_id: str) -> set[str]:
    return {
        action
        for policy in of_type(resources, "AWS::IAM::Policy").values()
        if role_id in {logical_id(role) for role in policy["Properties"].get("Roles", [])}
        for statement in as_list(policy["Properties"]["PolicyDocument"]["Statement"])
        for action in as_list(statement["Action"])
    }


def test_no_statement_allows_every_action_of_a_data_service(resources: Resources) -> None:
    # given
    statements = list(policy_statements(resources))

    # when
    too_broad = [
        (holder, action)
        for holder, statement in statements
        for action in as_list(statement.get("Action", []))
        if action == "*" or (action.split(":")[0] in DATA_SERVICES and "*" in action)
    ]

    # then
    assert statements
    assert too_broad == []


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (
            "functions.api.handler.handler",
            {
                "sqs:SendMessage",
                "scheduler:CreateSchedule",
                "iam:PassRole",
                "secretsmanager:GetSecretValue",
            },
        ),
        ("functions.dispatch.sweeper.handler", {"sqs:SendMessage"}),
        (
            "functions.dispatch.handler.handler",
            {"sqs:ReceiveMessage", "sqs:SendMessage", "sns:Publish"},
        ),
        (
            "functions.workers.email_worker.handler",
            {
                "sqs:ReceiveMessage",
                "sqs:SendMessage",
                "sns:Publish",
                "secretsmanager:GetSecretValue",
            },
        ),
        ("functions.webhooks.handler.handler", {"sns:Publish", "secretsmanager:GetSecretValue"}),
        *[
            (
                f"functions.workers.{channel}_worker.handler",
                {
                    "sqs:ReceiveMessage",
                    "sqs:SendMessage",
                    "sns:Publish",
                    "secretsmanager:GetSecretValue",
                },
            )
            for channel in ("sms", "whatsapp")
        ],
        (
            "functions.workers.push_worker.handler",
            {
                "sqs:ReceiveMessage",
                "sqs:SendMessage",
                "sns:Publish",
                "secretsmanager:GetSecretValue",
            },
        ),
        (
            "functions.workers.web_push_worker.handler",
            {
                "sqs:ReceiveMessage",
                "sqs:SendMessage",
                "sns:Publish",
                "secretsmanager:GetSecretValue",
            },
        ),
    ],
)
def test_each_function_may_do_what_its_job_needs(
    resources: Resources, handler: str, expected: set[str]
) -> None:
    # given
    function = herald_functions(resources)[handler]

    # when
    actions = _actions_of_role(resources, logical_id(function["Properties"]["Role"]))

    # then
    assert expected <= actions


@pytest.mark.parametrize(
    ("handler", "forbidden"),
    [
        # The API publishes one event type (delivery.read, when an inbox item is read); it
        # receives from dead-letter queues only (see the test below); it changes secrets
        # under the integrations prefix only (tests/infra/test_integrations.py).
        ("functions.api.handler.handler", {"secretsmanager:UpdateSecret"}),
        (
            "functions.migrations.handler.handler",
            {"sqs:SendMessage", "sns:Publish", "iam:PassRole"},
        ),
        # (It sends to the dispatch queue only: a late failure may call for a fallback.)
        ("functions.webhooks.handler.handler", {"scheduler:CreateSchedule"}),
        # The sweeper publishes delivery.failed for the dead-lettered deliveries it fails.
        ("functions.dispatch.sweeper.handler", {"secretsmanager:PutSecretValue"}),
        *[
            (
                f"functions.workers.{channel}_worker.handler",
                {"scheduler:CreateSchedule", "iam:PassRole"},
            )
            for channel in ("sms", "whatsapp")
        ],
    ],
)
def test_no_function_may_do_what_another_one_does(
    resources: Resources, handler: str, forbidden: set[str]
) -> None:
    # given
    function = herald_functions(resources)[handler]

    # when
    actions = _actions_of_role(resources, logical_id(function["Properties"]["Role"]))

    # then
    assert actions.isdisjoint(forbidden)


def _api_statements(resources: Resources) -> list[dict[str, Any]]:
    """Every policy statement of the API function's role."""
    api = herald_functions(resources)["functions.api.handler.handler"]
    role_id = logical_id(api["Properties"]["Role"])
    return [
        statement
        for policy in of_type(resources, "AWS::IAM::Policy").values()
        if role_id in {logical_id(role) for role in policy["Properties"]["Roles"]}
        for statement in as_list(policy["Properties"]["PolicyDocument"]["Statement"])
    ]


def test_api_manages_schedules_only_in_the_herald_group_and_passes_only_the_scheduler_role(
    resources: Resources,
) -> None:
    # given
    statements = _api_statements(resources)

    # when
    schedules = next(s for s in statements if "scheduler:CreateSchedule" in as_list(s["Action"]))
    pass_role = next(s for s in statements if "iam:PassRole" in as_list(s["Action"]))

    # then
    assert set(as_list(schedules["Action"])) == {
        "scheduler:CreateSchedule",
        "scheduler:DeleteSchedule",
        "scheduler:GetSchedule",
    }
    assert schedules["Resource"]["Fn::Join"][1][-1] == ":schedule/herald/*"
    scheduler_roles = {
        key
        for key, role in of_type(resources, "AWS::IAM::Role").items()
        if "scheduler.amazonaws.com" in str(role["Properties"]["AssumeRolePolicyDocument"])
    }
    assert {logical_id(pass_role["Resource"])} == scheduler_roles
    assert pass_role["Condition"] == {
        "StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}
    }


def test_schedule_group_and_the_role_the_scheduler_assumes(resources: Resources) -> None:
    # given
    (group,) = of_type(resources, "AWS::Scheduler::ScheduleGroup").values()
    (role_id, role), *others = [
        (key, role)
        for key, role in of_type(resources, "AWS::IAM::Role").items()
        if "scheduler.amazonaws.com" in str(role["Properties"]["AssumeRolePolicyDocument"])
    ]

    # when
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    actions = _actions_of_role(resources, role_id)

    # then
    assert not others
    assert group["Properties"]["Name"] == "herald"
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert "aws:SourceAccount" in trust["Condition"]["StringEquals"]
    # Sends scheduled notifications; runs the sweeper, and nothing else, while work is in flight.
    assert actions == {"sqs:SendMessage", "lambda:InvokeFunction"}
    (invoke,) = [
        statement
        for policy in of_type(resources, "AWS::IAM::Policy").values()
        if role_id in {logical_id(role) for role in policy["Properties"]["Roles"]}
        for statement in as_list(policy["Properties"]["PolicyDocument"]["Statement"])
        if "lambda:InvokeFunction" in as_list(statement["Action"])
    ]
    assert invoke["Resource"]["Fn::Join"][1][-1] == ":function:herald-sweeper"


def _secret_readers(resources: Resources, name: str) -> tuple[set[str], dict[str, Any]]:
    """The handlers whose role may read secret `name`, and the secret."""
    (secret_id,) = [
        key
        for key, secret in of_type(resources, "AWS::SecretsManager::Secret").items()
        if secret["Properties"].get("Name") == name
    ]
    roles_by_handler = {
        handler: logical_id(function["Properties"]["Role"])
        for handler, function in herald_functions(resources).items()
    }
    readers = {
        handler
        for handler, role_id in roles_by_handler.items()
        for policy in of_type(resources, "AWS::IAM::Policy").values()
        if role_id in {logical_id(role) for role in policy["Properties"].get("Roles", [])}
        for statement in as_list(policy["Properties"]["PolicyDocument"]["Statement"])
        if "secretsmanager:GetSecretValue" in as_list(statement["Action"])
        # (A name pattern, as the integration secrets' prefix, names no secret of the stack.)
        and secret_id
        in {logical_id(r) for r in as_list(statement["Resource"]) if "Fn::Join" not in r}
    }
    return readers, resources[secret_id]


@pytest.mark.parametrize(
    ("name", "expected_readers"),
    [
        (
            "herald/links",
            {
                "functions.api.handler.handler",
                "functions.workers.email_worker.handler",
                # It verifies the inbox token a browser connects with.
                "functions.realtime.handler.handler",
            },
        ),
        (
            "herald/vapid",
            {"functions.api.handler.handler", "functions.workers.web_push_worker.handler"},
        ),
    ],
)
def test_generated_keys_are_read_only_by_the_functions_that_use_them(
    resources: Resources, name: str, expected_readers: set[str]
) -> None:
    # when
    readers, secret = _secret_readers(resources, name)

    # then
    assert readers == expected_readers
    generated = secret["Properties"]["GenerateSecretString"]
    assert generated["PasswordLength"] == 64 and generated["ExcludePunctuation"] is True


def test_api_receives_and_moves_messages_of_dead_letter_queues_only(resources: Resources) -> None:
    # given
    statements = _api_statements(resources)

    # when
    receiving = [
        statement
        for statement in statements
        if {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:StartMessageMoveTask"}
        & set(as_list(statement["Action"]))
    ]

    # then: seventeen queues' dead-letter queues (ten, SES events' among them, and the seven
    # bulk lanes), nothing else
    resources_named = [
        resource["Fn::GetAtt"][0] for s in receiving for resource in as_list(s["Resource"])
    ]
    assert len(set(resources_named)) == 17
    assert all("DeadLetterQueue" in name for name in resources_named)
    assert any(name.startswith("SesEventsQueueDeadLetterQueue") for name in resources_named)


def test_the_api_lists_the_ses_events_dead_letter_queue_and_may_move_it_back(
    resources: Resources,
) -> None:
    # given
    api = herald_functions(resources)["functions.api.handler.handler"]
    statements = _api_statements(resources)

    # when
    listed = api["Properties"]["Environment"]["Variables"]["HERALD_DEAD_LETTER_QUEUES"]
    senders = [
        resource["Fn::GetAtt"][0]
        for s in statements
        if "sqs:SendMessage" in as_list(s["Action"])
        for resource in as_list(s["Resource"])
        if isinstance(resource, dict) and "Fn::GetAtt" in resource
    ]

    # then: named ses_events, and its source queue is one the API may send to
    queues = json.loads(
        "".join(p if isinstance(p, str) else logical_id(p) for p in listed["Fn::Join"][1])
    )
    assert queues["ses_events"]["url"].startswith("SesEventsQueueDeadLetterQueue")
    source = queues["ses_events"]["source_arn"]
    assert source.startswith("SesEventsQueue") and "DeadLetter" not in source
    assert any(name.startswith("SesEventsQueue") and "DeadLetter" not in name for name in senders)
