"""Aurora PostgreSQL Serverless v2, reached by the functions through RDS Proxy."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.constants import (
    DATABASE_ADMIN_USER,
    DATABASE_AUTO_PAUSE_AFTER,
    DATABASE_BACKUP_RETENTION,
    DATABASE_MAX_ACU,
    DATABASE_MIN_ACU,
    DATABASE_NAME,
    DATABASE_PORT,
    DATABASE_SECRET_ROTATION,
)
from infra.functions import Binding
from infra.network import DATABASE_SUBNETS, FUNCTION_SUBNETS

# The newest 16.x this CDK knows; 16.3 is the first 16.x that scales to 0 ACU (auto-pause).
ENGINE_VERSION = rds.AuroraPostgresEngineVersion.VER_16_13


class Database(Construct):
    """The one source of truth: a Serverless v2 cluster behind an RDS Proxy that requires TLS."""

    def __init__(self, scope: Construct, construct_id: str, *, vpc: ec2.IVpc) -> None:
        super().__init__(scope, construct_id)
        self.cluster = rds.DatabaseCluster(
            self,
            "Cluster",
            engine=rds.DatabaseClusterEngine.aurora_postgres(version=ENGINE_VERSION),
            writer=rds.ClusterInstance.serverless_v2("Writer"),
            serverless_v2_min_capacity=DATABASE_MIN_ACU,
            serverless_v2_max_capacity=DATABASE_MAX_ACU,
            serverless_v2_auto_pause_duration=DATABASE_AUTO_PAUSE_AFTER,
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
        proxy_security_group = ec2.SecurityGroup(
            self,
            "ProxySecurityGroup",
            vpc=vpc,
            description="RDS Proxy: reached by the functions, reaches the cluster",
            allow_all_outbound=False,
        )
        self.proxy = self.cluster.add_proxy(
            "Proxy",
            vpc=vpc,
            vpc_subnets=DATABASE_SUBNETS,
            secrets=[self.secret],
            security_groups=[proxy_security_group],
            require_tls=True,
        )
        self.cluster.connections.allow_default_port_from(self.proxy, "RDS Proxy to the cluster")
        # The rotation function calls Secrets Manager, so it needs the NAT route.
        self.cluster.add_rotation_single_user(
            automatically_after=DATABASE_SECRET_ROTATION, vpc_subnets=FUNCTION_SUBNETS
        )

    @property
    def secret(self) -> secretsmanager.ISecret:
        """The generated secret with the database credentials (read through the proxy)."""
        secret = self.cluster.secret
        assert secret is not None, "the cluster was created with generated credentials"
        return secret

    def client(self) -> Binding:
        """Read the credentials and connect through the proxy; see herald.settings.Settings."""
        return Binding(
            environment={
                "HERALD_DATABASE_SECRET_ARN": self.secret.secret_arn,
                "HERALD_DATABASE_HOST": self.proxy.endpoint,
                "HERALD_DATABASE_NAME": DATABASE_NAME,
            },
            grant=self._grant_connect,
        )

    def _grant_connect(self, function: lambda_.Function) -> None:
        self.secret.grant_read(function)
        self.proxy.connections.allow_from(
            function, ec2.Port.tcp(DATABASE_PORT), f"{function.node.path} to RDS Proxy"
        )
