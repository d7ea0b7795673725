"""The inbox WebSocket API: $connect/$disconnect to functions/realtime; who may push."""

from __future__ import annotations

import pytest

from tests.infra.cfn import Resources, logical_id, of_type

pytestmark = pytest.mark.infra


def test_connect_and_disconnect_go_to_the_realtime_function(resources: Resources) -> None:
    # given
    (api_id,) = [
        name
        for name, api in of_type(resources, "AWS::ApiGatewayV2::Api").items()
        if api["Properties"]["ProtocolType"] == "WEBSOCKET"
    ]
    routes = [
        r
        for r in of_type(resources, "AWS::ApiGatewayV2::Route").values()
        if r["Properties"]["ApiId"] == {"Ref": api_id}
    ]

    # when
    handlers = {}
    for route in routes:
        integration_id = route["Properties"]["Target"]["Fn::Join"][1][1]["Ref"]
        uri = resources[integration_id]["Properties"]["IntegrationUri"]
        function_id = next(
            logical_id(part)
            for part in uri["Fn::Join"][1]
            if isinstance(part, dict) and "Fn::GetAtt" in part
        )
        handlers[route["Properties"]["RouteKey"]] = resources[function_id]["Properties"]["Handler"]

    # then
    assert handlers == {
        "$connect": "functions.realtime.handler.handler",
        "$disconnect": "functions.realtime.handler.handler",
    }


def test_only_the_api_and_the_in_app_worker_may_post_to_connections(
    resources: Resources,
) -> None:
    # given
    posting = set()
    for policy in of_type(resources, "AWS::IAM::Policy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        if any(s["Action"] == "execute-api:ManageConnections" for s in statements):
            (role,) = policy["Properties"]["Roles"]
            posting.add(role["Ref"])

    # when
    functions = {
        f["Properties"]["Role"]["Fn::GetAtt"][0]: f["Properties"]["Handler"]
        for f in of_type(resources, "AWS::Lambda::Function").values()
        if "Role" in f["Properties"] and "Fn::GetAtt" in f["Properties"]["Role"]
    }

    # then
    assert {functions[role] for role in posting} == {
        "functions.api.handler.handler",
        "functions.workers.in_app_worker.handler",
    }
