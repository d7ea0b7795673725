"""Aurora PostgreSQL Serverless v2, reached through RDS Proxy (production) or directly (small)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.constants import (
    DATABASE_ADMIN_USER,
    DATABASE_BACKUP_RETENTION,
    DATABASE_NAME,
    DATABASE_PORT,
    DATABASE_SECRET_ROTATION,
)
from infra.functions import Binding
from infra.network import DATABASE_SUBNETS, FUNCTION_SUBNETS
from infra.profile import DeploymentProfile

# The newest 16.x this CDK knows; 16.3 is the first 16.x that scales to 0 ACU (auto-pause).
ENGINE_VERSION = rds.AuroraPostgresEngineVersion.VER_16_13


def _session_parameters(profile: DeploymentProfile) -> dict[str, str] | None:
    """Cluster parameters: without a proxy, idle sessions end so the cluster can pause."""
    timeout = profile.database_idle_session_timeout
    if timeout is None:
        return None
    return {"idle_session_timeout": str(int(timeout.to_milliseconds()))}


class Database(Construct):
    """The one source of truth: a Serverless v2 cluster, behind an RDS Proxy that requires TLS
    when the profile has one; without, the functions connect to the writer with TLS required
    (sslmode=require, herald.aws.secrets.database_url)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, vpc: ec2.IVpc, profile: DeploymentProfile
    ) -> None:
        super().__init__(scope, construct_id)
        self.cluster = rds.DatabaseCluster(
            self,
            "Cluster",
            engine=rds.DatabaseClusterEngine.aurora_postgres(version=ENGINE_VERSION),
            writer=rds.ClusterInstance.serverless_v2("Writer"),
            serverless_v2_min_capacity=profile.database_min_acu,
            serverless_v2_max_capacity=profile.database_max_acu,
            serverless_v2_auto_pause_duration=profile.database_auto_pause_after,
            parameters=_session_parameters(profile),
            default_database_name=DATABASE_NAME,
            # RDS Proxy listens on the engine's standard port; the cluster uses the same.
            port=DATABASE_PORT,
            credentials=rds.Credentials.from_generated_secret(DATABASE_ADMIN_USER),
            vpc=vpc,
            vpc_subnets=DATABASE_SUBNETS,
            storage_encrypted=True,
            iam_authentication=True,
            backup=rds.BackupProps(retention=DATABASE_BACKUP_RETENTION),
            deletion_protection=True,
            removal_policy=RemovalPolicy.SNAPSHOT,
        )
        self.proxy: rds.DatabaseProxy | None = None
        if profile.rds_proxy:
            self.proxy = self._add_proxy(vpc)
        # The rotation function calls Secrets Manager, so it needs the NAT route.
        self.cluster.add_rotation_single_user(
            automatically_after=DATABASE_SECRET_ROTATION, vpc_subnets=FUNCTION_SUBNETS
        )

    def _add_proxy(self, vpc: ec2.IVpc) -> rds.DatabaseProxy:
        proxy_security_group = ec2.SecurityGroup(
            self,
            "ProxySecurityGroup",
            vpc=vpc,
            description="RDS Proxy: reached by the functions, reaches the cluster",
            allow_all_outbound=False,
        )
        proxy = self.cluster.add_proxy(
            "Proxy",
            vpc=vpc,
            vpc_subnets=DATABASE_SUBNETS,
            secrets=[self.secret],
            security_groups=[proxy_security_group],
            require_tls=True,
        )
        self.cluster.connections.allow_default_port_from(proxy, "RDS Proxy to the cluster")
        return proxy

    @property
    def secret(self) -> secretsmanager.ISecret:
        """The generated secret with the database credentials (read through the proxy)."""
        secret = self.cluster.secret
        assert secret is not None, "the cluster was created with generated credentials"
        return secret

    @property
    def endpoint(self) -> str:
        """Where the functions connect: the proxy, else the cluster's writer endpoint."""
        if self.proxy is not None:
            return self.proxy.endpoint
        return self.cluster.cluster_endpoint.hostname

    def client(self) -> Binding:
        """Read the credentials and connect to `endpoint`; see herald.settings.Settings."""
        return Binding(
            environment={
                "HERALD_DATABASE_SECRET_ARN": self.secret.secret_arn,
                "HERALD_DATABASE_HOST": self.endpoint,
                "HERALD_DATABASE_NAME": DATABASE_NAME,
            },
            grant=self._grant_connect,
        )

    def _grant_connect(self, function: lambda_.Function) -> None:
        self.secret.grant_read(function)
        if self.proxy is not None:
            self.proxy.connections.allow_from(
                function, ec2.Port.tcp(DATABASE_PORT), f"{function.node.path} to RDS Proxy"
            )
        else:
            self.cluster.connections.allow_default_port_from(
                function, f"{function.node.path} to the cluster"
            )
