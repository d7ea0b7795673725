"""The HTTP API (API Gateway v2, payload 2.0): the one public entry point."""

from __future__ import annotations

import json

import jsii
from aws_cdk import Acknowledgment, RemovalPolicy, Validations
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk.aws_apigatewayv2_integrations import HttpLambdaIntegration
from constructs import Construct

from infra.constants import (
    API_THROTTLE_BURST,
    API_THROTTLE_RATE,
    CALLBACKS_ROUTE,
    LOG_RETENTION,
    NAME_PREFIX,
)
from infra.functions import Binding

# Variables HTTP APIs support (a REST-only variable would make the deployment fail).
_ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationError": "$context.integrationErrorMessage",
}


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogs:
    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat:
        return apigateway.AccessLogFormat.custom(json.dumps(_ACCESS_LOG_FORMAT))


class HttpApi(Construct):
    """`$default` goes to functions/api; `POST /v1/callbacks/{proxy+}` to functions/webhooks."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.http_api = apigwv2.HttpApi(
            self,
            "HttpApi",
            api_name=NAME_PREFIX,
            description="Herald notification API",
            create_default_stage=False,
        )
        access_logs = logs.LogGroup(
            self, "AccessLogs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        self.http_api.add_stage(
            "DefaultStage",
            stage_name="$default",
            auto_deploy=True,
            access_log_settings=_AccessLogs(access_logs),
            throttle=apigwv2.ThrottleSettings(
                rate_limit=API_THROTTLE_RATE, burst_limit=API_THROTTLE_BURST
            ),
        )
        Validations.of(self).acknowledge(
            Acknowledgment(
                id="AwsSolutions-APIG4",
                reason=(
                    "Authentication is done by the functions: API keys (only their hashes are "
                    "stored, with scopes) by functions/api, provider signatures by "
                    "functions/webhooks. A gateway authorizer would add an invocation per "
                    "request without replacing either check."
                ),
            )
        )

    @property
    def url(self) -> str:
        """The API's base URL, without a trailing slash (the `$default` stage has no path)."""
        return self.http_api.api_endpoint

    def public_url(self) -> Binding:
        """The URL Herald puts in links of the messages it sends."""
        return Binding(environment={"HERALD_PUBLIC_BASE_URL": self.url})

    def route_default(self, function: lambda_.IFunction) -> None:
        """Every request no other route matches (all of /v1/* except the callbacks)."""
        apigwv2.HttpRoute(
            self,
            "DefaultRoute",
            http_api=self.http_api,
            route_key=apigwv2.HttpRouteKey.DEFAULT,
            integration=HttpLambdaIntegration("Api", function),
        )

    def route_callbacks(self, function: lambda_.IFunction) -> None:
        """Provider callbacks (SendGrid events, Twilio status...)."""
        self.http_api.add_routes(
            path=CALLBACKS_ROUTE,
            methods=[apigwv2.HttpMethod.POST],
            integration=HttpLambdaIntegration("Webhooks", function),
        )
