"""The one way Herald builds a Lambda function: own role, own log group, shared layers."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from aws_cdk import Acknowledgment, RemovalPolicy, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.bundling import core_layer_code, dependencies_layer_code, function_code
from infra.constants import LOG_RETENTION, NAME_PREFIX, POWERTOOLS_ENVIRONMENT, FunctionSpec
from infra.network import FUNCTION_SUBNETS
from infra.profile import DeploymentProfile

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64

# What AWSLambdaVPCAccessExecutionRole grants, minus its logs:* on every log group.
_VPC_NETWORK_INTERFACE_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]


class SharedLayers(Construct):
    """The two layers every function uses: pinned dependencies and the `herald` package."""

    def __init__(self, scope: Construct, construct_id: str, *, requirements: Sequence[str]) -> None:
        super().__init__(scope, construct_id)
        self.dependencies = lambda_.LayerVersion(
            self,
            "Dependencies",
            code=dependencies_layer_code(requirements),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="Herald runtime dependencies (pinned in pyproject.toml)",
        )
        self.core = lambda_.LayerVersion(
            self,
            "Core",
            code=core_layer_code(),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="The herald package (layers/core)",
        )

    @property
    def all(self) -> list[lambda_.ILayerVersion]:
        return [self.dependencies, self.core]


@dataclass(frozen=True)
class Binding:
    """What a function needs to use one resource: how it finds it and the permission to use it.

    Each resource construct hands out its own bindings (e.g. `EventsTopic.publisher()`), so an
    environment variable and the grant that makes it usable are declared together.
    """

    environment: Mapping[str, str] = field(default_factory=dict)
    grant: Callable[[lambda_.Function], object] | None = None


@dataclass(frozen=True)
class FunctionPlatform:
    """What every Herald function runs on: the VPC, the shared layers and the profile (which
    sets each function's reserved concurrency)."""

    vpc: ec2.IVpc
    layers: SharedLayers
    profile: DeploymentProfile


class HeraldFunction(Construct):
    """A function in the VPC with its own least-privilege role and its own log group.

    The role starts with only what Lambda itself needs (logs, VPC network interfaces, X-Ray);
    every permission on Herald's resources is granted by the construct that owns the resource.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: FunctionSpec,
        platform: FunctionPlatform,
        uses: Sequence[Binding],
    ) -> None:
        super().__init__(scope, construct_id)
        function_name = f"{NAME_PREFIX}-{spec.name}"
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Herald {spec.name} function",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(actions=_VPC_NETWORK_INTERFACE_ACTIONS, resources=["*"])
        )
        log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/lambda/{function_name}",
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )
        log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description=f"Herald {spec.name} ({spec.handler})",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=spec.handler,
            code=function_code(spec.code_dir),
            layers=platform.layers.all,
            timeout=spec.timeout,
            memory_size=spec.memory_mb,
            role=self.role,
            vpc=platform.vpc,
            vpc_subnets=FUNCTION_SUBNETS,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            environment=_merged_environment(uses),
            # Without RDS Proxy, a cap on execution environments is a cap on connections.
            reserved_concurrent_executions=platform.profile.reserved_concurrency_of(spec.name),
        )
        for binding in uses:
            if binding.grant is not None:
                binding.grant(self.function)
        Validations.of(self.function).acknowledge(
            Acknowledgment(
                id="AwsSolutions-L1",
                reason=(
                    "Python 3.13 is deliberate: the dependencies layer is built for CPython 3.13 "
                    "wheels and the code targets 3.11+. Lambda supports 3.13 until 2029; moving "
                    "to a newer runtime is a change of the layer build, made on purpose."
                ),
            )
        )
        Validations.of(self.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason=(
                    "EC2 network-interface actions (Lambda in a VPC) and X-Ray "
                    "PutTraceSegments/PutTelemetryRecords support no resource-level "
                    "permissions; they need Resource '*'."
                ),
            )
        )


def _merged_environment(uses: Sequence[Binding]) -> dict[str, str]:
    environment = dict(POWERTOOLS_ENVIRONMENT)
    for binding in uses:
        clashes = environment.keys() & binding.environment.keys()
        if clashes:
            raise ValueError(f"environment variables bound twice: {sorted(clashes)}")
        environment.update(binding.environment)
    return environment


def allow_by_pattern(
    function: lambda_.Function,
    actions: Sequence[str],
    resources: Sequence[str],
    *,
    pattern: str,
    reason: str,
) -> None:
    """Let `function` do `actions` on resources named by a pattern (names made at run time),
    acknowledging cdk-nag's wildcard finding for that one pattern (`pattern`: the resource
    as cdk-nag writes it, `arn:<AWS::Partition>:…/*`) with `reason`."""
    function.add_to_role_policy(
        iam.PolicyStatement(actions=list(actions), resources=list(resources))
    )
    assert function.role is not None
    Validations.of(function.role).acknowledge(
        Acknowledgment(id=f"AwsSolutions-IAM5[Resource::{pattern}]", reason=reason)
    )
