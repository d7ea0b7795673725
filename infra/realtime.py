"""The inbox's WebSocket API: browsers connect with a user token; functions push to them."""

from __future__ import annotations

from typing import cast

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk.aws_apigatewayv2_integrations import WebSocketLambdaIntegration
from constructs import Construct

from infra.constants import (
    NAME_PREFIX,
    WEBSOCKET_STAGE_NAME,
    WEBSOCKET_THROTTLE_BURST,
    WEBSOCKET_THROTTLE_RATE,
)
from infra.functions import Binding


class InboxWebSocketApi(Construct):
    """`$connect` and `$disconnect` go to functions/realtime, which keeps the connections in
    PostgreSQL; any function given `pusher()` can post to them."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.api = apigwv2.WebSocketApi(
            self,
            "WebSocketApi",
            api_name=f"{NAME_PREFIX}-inbox",
            description="Herald in-app inbox: realtime updates",
        )
        self.stage = apigwv2.WebSocketStage(
            self,
            "Stage",
            web_socket_api=self.api,
            stage_name=WEBSOCKET_STAGE_NAME,
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=WEBSOCKET_THROTTLE_RATE, burst_limit=WEBSOCKET_THROTTLE_BURST
            ),
        )
        Validations.of(self).acknowledge(
            Acknowledgment(
                id="AwsSolutions-APIG4",
                reason=(
                    "The $connect handler authenticates: it verifies the user's signed inbox "
                    "token (HMAC, expiring) and the tenant's allowed origins, and refuses the "
                    "connection otherwise. An authorizer would add an invocation per connect "
                    "without replacing that check."
                ),
            )
        )
        Validations.of(self).acknowledge(
            Acknowledgment(
                id="AwsSolutions-APIG1",
                reason="Connections and refusals are logged by functions/realtime itself.",
            )
        )

    @property
    def url(self) -> str:
        """What browsers open (`wss://…/{stage}`)."""
        return self.stage.url

    def route_connections(self, function: lambda_.IFunction) -> None:
        """`$connect` (authenticate, remember) and `$disconnect` (forget)."""
        for route in ("$connect", "$disconnect"):
            self.api.add_route(
                route,
                integration=WebSocketLambdaIntegration(f"{route[1:].title()}", function),
            )

    def pusher(self) -> Binding:
        """Post to connections (`execute-api:ManageConnections` on this API's stage only)."""
        return Binding(
            environment={
                "HERALD_WEBSOCKET_URL": self.stage.url,
                "HERALD_WEBSOCKET_MANAGEMENT_URL": self.stage.callback_url,
            },
            grant=self._grant_posting,
        )

    def _grant_posting(self, function: lambda_.Function) -> None:
        stack = Stack.of(self)
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["execute-api:ManageConnections"],
                resources=[
                    stack.format_arn(
                        service="execute-api",
                        resource=self.api.api_id,
                        resource_name=f"{WEBSOCKET_STAGE_NAME}/POST/@connections/*",
                    )
                ],
            )
        )
        api_logical_id = stack.resolve(
            stack.get_logical_id(cast(CfnElement, self.api.node.default_child))
        )
        assert function.role is not None, "Herald functions always have a role"
        Validations.of(function.role).acknowledge(
            Acknowledgment(
                id=(
                    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:"
                    f"<AWS::AccountId>:<{api_logical_id}>/{WEBSOCKET_STAGE_NAME}/POST/"
                    "@connections/*]"
                ),
                reason=(
                    "Connection ids are made by API Gateway when a browser connects; the grant "
                    "is limited to posting on this API's stage."
                ),
            )
        )
