"""The HTTP API: two routes, access logs, throttling; the secret and topic it leads to."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from tests.infra.cfn import Resources, logical_id, of_type

pytestmark = pytest.mark.infra


def _of_http_api(resources: Resources, type_name: str) -> list[dict[str, Any]]:
    """Resources of `type_name` that belong to the HTTP API (not the inbox WebSocket API)."""
    return [
        resource
        for resource in of_type(resources, type_name).values()
        if resources[resource["Properties"]["ApiId"]["Ref"]]["Properties"]["ProtocolType"] == "HTTP"
    ]


def test_default_route_goes_to_the_api_and_callbacks_to_webhooks(resources: Resources) -> None:
    # given
    routes = _of_http_api(resources, "AWS::ApiGatewayV2::Route")

    # when
    handlers = {}
    for route in routes:
        integration_id = route["Properties"]["Target"]["Fn::Join"][1][1]["Ref"]
        integration = resources[integration_id]["Properties"]
        assert integration["PayloadFormatVersion"] == "2.0"
        function = resources[logical_id(integration["IntegrationUri"])]["Properties"]
        handlers[route["Properties"]["RouteKey"]] = function["Handler"]

    # then
    assert handlers == {
        "$default": "functions.api.handler.handler",
        "POST /v1/callbacks/{proxy+}": "functions.webhooks.handler.handler",
    }


def test_the_stage_is_throttled_and_logs_every_request(resources: Resources) -> None:
    # given
    (stage,) = _of_http_api(resources, "AWS::ApiGatewayV2::Stage")

    # when
    properties = stage["Properties"]
    log_format = json.loads(properties["AccessLogSettings"]["Format"])

    # then
    assert properties["StageName"] == "$default"
    assert properties["AutoDeploy"] is True
    assert properties["DefaultRouteSettings"]["ThrottlingRateLimit"] > 0
    assert log_format["requestId"] == "$context.requestId"


def test_provider_secret_is_a_json_template_for_the_operator_to_fill(resources: Resources) -> None:
    # given
    (secret,) = [
        secret
        for secret in of_type(resources, "AWS::SecretsManager::Secret").values()
        if secret["Properties"].get("Name") == "herald/providers"
    ]

    # when
    generated = secret["Properties"]["GenerateSecretString"]
    keys = {generated["GenerateStringKey"], *json.loads(generated["SecretStringTemplate"])}

    # then
    assert keys == {
        "sendgrid_api_key",
        "sendgrid_webhook_public_key",
        "twilio_account_sid",
        "twilio_auth_token",
        "twilio_from_number",
        "twilio_messaging_service_sid",
        "twilio_whatsapp_from",
        "fcm_service_account",
    }


def test_events_topic_is_encrypted_and_refuses_plain_http(resources: Resources) -> None:
    # given (the events topic; the SES events topic is tests/infra/test_integrations.py's)
    ((topic_id, topic),) = [
        (key, topic)
        for key, topic in of_type(resources, "AWS::SNS::Topic").items()
        if topic["Properties"]["TopicName"] == "herald-events"
    ]
    (policy,) = [
        policy
        for policy in of_type(resources, "AWS::SNS::TopicPolicy").values()
        if {logical_id(t) for t in policy["Properties"]["Topics"]} == {topic_id}
    ]

    # when
    statements = policy["Properties"]["PolicyDocument"]["Statement"]

    # then
    assert "KmsMasterKeyId" in topic["Properties"]
    assert any(
        statement["Effect"] == "Deny"
        and statement["Condition"]["Bool"]["aws:SecureTransport"] == "false"
        for statement in statements
    )


def test_outputs_tell_the_operator_where_things_are(template: Template) -> None:
    # given
    outputs = template.to_json()["Outputs"]

    # when
    names = set(outputs)

    # then
    assert {
        "ApiUrl",
        "DispatchQueueUrl",
        "ProviderSecretName",
        "LinksSecretName",
        "EventsTopicArn",
    } <= names
