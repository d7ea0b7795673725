"""Integrations: the secrets of tenants' own provider accounts, one per integration.

CloudFormation does not create them: the API function does, at run time, under one name
prefix; its policy names that prefix, and the workers may only read under it.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.constants import INTEGRATION_SECRET_PREFIX
from infra.functions import Binding, allow_by_pattern

_MANAGE = (
    "secretsmanager:CreateSecret",
    "secretsmanager:PutSecretValue",
    "secretsmanager:DeleteSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:DescribeSecret",
)
_READ = ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret")


class IntegrationSecrets(Construct):
    """Where integration secrets live: `{prefix}/{tenant}/{integration}`."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        # Secrets Manager appends six random characters to every secret's ARN.
        self.arn_pattern = Stack.of(self).format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"{INTEGRATION_SECRET_PREFIX}/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def manager(self) -> Binding:
        """Create, change, read and delete integration secrets (the API function)."""
        return self._binding(_MANAGE)

    def reader(self) -> Binding:
        """Read integration secrets (the sending workers)."""
        return self._binding(_READ)

    def _binding(self, actions: tuple[str, ...]) -> Binding:
        def grant(function: lambda_.Function) -> None:
            allow_by_pattern(
                function,
                actions,
                [self.arn_pattern],
                pattern="arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:"
                f"secret:{INTEGRATION_SECRET_PREFIX}/*",
                reason="One secret per tenant integration, created at run time by the API; "
                "the grant is limited to the integrations name prefix.",
            )

        return Binding(
            environment={"HERALD_INTEGRATION_SECRET_PREFIX": INTEGRATION_SECRET_PREFIX},
            grant=grant,
        )
