"""Integration secrets: the API manages them under one name prefix, nowhere else."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.cfn import Resources, as_list, herald_functions, logical_id, of_type

pytestmark = pytest.mark.infra

WRITES = {
    "secretsmanager:CreateSecret",
    "secretsmanager:PutSecretValue",
    "secretsmanager:DeleteSecret",
}


def _statements(resources: Resources, handler: str) -> list[dict[str, Any]]:
    role_id = logical_id(herald_functions(resources)[handler]["Properties"]["Role"])
    return [
        statement
        for policy in of_type(resources, "AWS::IAM::Policy").values()
        if role_id in {logical_id(role) for role in policy["Properties"]["Roles"]}
        for statement in as_list(policy["Properties"]["PolicyDocument"]["Statement"])
    ]


def test_the_api_writes_secrets_only_under_the_integrations_prefix(resources: Resources) -> None:
    # given
    statements = _statements(resources, "functions.api.handler.handler")

    # when
    writing = [s for s in statements if WRITES & set(as_list(s["Action"]))]

    # then one statement, naming the prefix
    assert len(writing) == 1
    assert set(as_list(writing[0]["Action"])) >= WRITES
    resource = writing[0]["Resource"]["Fn::Join"][1]
    assert resource[-1] == ":secret:herald/integrations/*"


def test_no_other_function_writes_secrets(resources: Resources) -> None:
    # when
    writers = {
        handler
        for handler in herald_functions(resources)
        for statement in _statements(resources, handler)
        if WRITES & set(as_list(statement["Action"]))
    }

    # then
    assert writers == {"functions.api.handler.handler"}


def test_an_alarm_watches_breakers_opening(resources: Resources) -> None:
    # when
    alarms = [
        alarm["Properties"]
        for alarm in of_type(resources, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "CircuitOpened"
    ]

    # then
    (alarm,) = alarms
    assert alarm["Namespace"] == "Herald"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "herald"}]
    assert alarm["Threshold"] == 0


@pytest.mark.parametrize("channel", ["email", "sms", "whatsapp", "push", "web_push"])
def test_each_sending_worker_reads_integration_secrets_only(
    resources: Resources, channel: str
) -> None:
    # when
    statements = _statements(resources, f"functions.workers.{channel}_worker.handler")
    prefixed = [
        s
        for s in statements
        if any(
            "Fn::Join" in r and r["Fn::Join"][1][-1] == ":secret:herald/integrations/*"
            for r in as_list(s["Resource"])
        )
    ]

    # then
    (reading,) = prefixed
    assert set(as_list(reading["Action"])) == {
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
    }


def test_ses_events_reach_herald_through_sns_and_a_queue(resources: Resources) -> None:
    # given
    (config_set,) = of_type(resources, "AWS::SES::ConfigurationSet").values()
    (destination,) = of_type(resources, "AWS::SES::ConfigurationSetEventDestination").values()
    ((topic_id, _),) = [
        (key, topic)
        for key, topic in of_type(resources, "AWS::SNS::Topic").items()
        if topic["Properties"]["TopicName"] == "herald-ses-events"
    ]
    subscriptions = [
        s["Properties"]
        for s in of_type(resources, "AWS::SNS::Subscription").values()
        if logical_id(s["Properties"]["TopicArn"]) == topic_id
    ]

    # then
    assert config_set["Properties"]["Name"] == "herald"
    event = destination["Properties"]["EventDestination"]
    assert {"delivery", "bounce", "complaint", "open", "click"} <= set(event["MatchingEventTypes"])
    assert logical_id(event["SnsDestination"]["TopicARN"]) == topic_id
    (subscription,) = subscriptions
    assert subscription["Protocol"] == "sqs"
    assert "SesEventsQueue" in subscription["Endpoint"]["Fn::GetAtt"][0]


def test_only_the_email_worker_and_the_api_may_send_with_ses(resources: Resources) -> None:
    # when
    senders = {
        handler: statement
        for handler in herald_functions(resources)
        for statement in _statements(resources, handler)
        if "ses:SendEmail" in as_list(statement["Action"])
    }

    # then
    assert set(senders) == {
        "functions.api.handler.handler",
        "functions.workers.email_worker.handler",
    }
    for statement in senders.values():
        assert as_list(statement["Action"]) == ["ses:SendEmail"]
        tails = [r["Fn::Join"][1][-1] for r in as_list(statement["Resource"])]
        assert sorted(tails) == [":configuration-set/herald", ":identity/*"]
