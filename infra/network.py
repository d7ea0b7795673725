"""The VPC every function and the database live in."""

from __future__ import annotations

from aws_cdk import Acknowledgment, RemovalPolicy, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constants import LOG_RETENTION, MAX_AZS
from infra.profile import DeploymentProfile

# Written out (it is CDK's default) so the NAT instance's ingress rule names a literal range.
VPC_CIDR = "10.0.0.0/16"
# Amazon Linux 2023's root device and the size of its AMI's root volume.
_ROOT_DEVICE = "/dev/xvda"
_ROOT_VOLUME_GIB = 8

# Functions live here: they reach AWS APIs and SendGrid through the NAT.
FUNCTION_SUBNETS = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
# The database and its proxy live here: no route to or from the internet.
DATABASE_SUBNETS = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)


class Network(Construct):
    """Two AZs with public, private (egress through one NAT) and isolated subnets.

    The NAT is a gateway, or in the `small` profile one NAT instance on the smallest Graviton
    type: ~$3 a month instead of ~$33, at the price of a single instance nobody replaces
    automatically (an outage stops only outbound calls, which SQS retries).
    """

    def __init__(self, scope: Construct, construct_id: str, *, profile: DeploymentProfile) -> None:
        super().__init__(scope, construct_id)
        self.nat_instances: ec2.NatInstanceProviderV2 | None = None
        nat_provider: ec2.NatProvider | None = None
        if profile.nat_instance_type is not None:
            self.nat_instances = ec2.NatProvider.instance_v2(
                instance_type=ec2.InstanceType(profile.nat_instance_type),
                # Resolved through a public SSM parameter at deploy time: synthesis needs no
                # AWS credentials and no AMI lookup.
                machine_image=ec2.MachineImage.latest_amazon_linux2023(
                    cpu_type=ec2.AmazonLinuxCpuType.ARM_64
                ),
                # Opened below to the VPC only, not to the internet.
                default_allowed_traffic=ec2.NatTrafficDirection.OUTBOUND_ONLY,
                associate_public_ip_address=True,
            )
            nat_provider = self.nat_instances
        flow_logs = logs.LogGroup(
            self, "FlowLogs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(VPC_CIDR),
            max_azs=MAX_AZS,
            # One NAT, not one per AZ: it is the largest idle cost of the network, and losing
            # it stops only outbound provider calls, which SQS retries.
            nat_gateways=profile.nat_count,
            nat_gateway_provider=nat_provider,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC),
                ec2.SubnetConfiguration(
                    name="Functions", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
                ),
                ec2.SubnetConfiguration(
                    name="Database", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED
                ),
            ],
            # Rejected traffic only: what matters when debugging a security group, at a
            # fraction of the ingestion cost of all traffic.
            flow_logs={
                "Rejected": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                    traffic_type=ec2.FlowLogTrafficType.REJECT,
                )
            },
        )
        if self.nat_instances is not None:
            self.nat_instances.connections.allow_from(
                ec2.Peer.ipv4(VPC_CIDR),
                ec2.Port.all_traffic(),
                "Traffic from the VPC's private subnets to forward",
            )
            self._harden_nat_instances()

    def _harden_nat_instances(self) -> None:
        """An encrypted root volume (the provider takes no block devices), and the reasons for
        what a NAT instance that holds no data and is replaced by redeploying does without."""
        for construct in self.vpc.node.find_all():
            if isinstance(construct, ec2.CfnInstance):
                construct.add_property_override(
                    "BlockDeviceMappings",
                    [
                        {
                            "DeviceName": _ROOT_DEVICE,
                            "Ebs": {
                                "Encrypted": True,
                                "VolumeSize": _ROOT_VOLUME_GIB,
                                "VolumeType": "gp3",
                            },
                        }
                    ],
                )
        for rule, reason in (
            (
                "AwsSolutions-EC26",
                "The root volume is encrypted by a property override (BlockDeviceMappings), "
                "which the rule does not read; the instance stores no Herald data.",
            ),
            (
                "AwsSolutions-EC28",
                "Detailed monitoring costs about as much as the t4g.nano itself; the 5-minute "
                "basic metrics are enough for a NAT that SQS retries make non-critical.",
            ),
            (
                "AwsSolutions-EC29",
                "The NAT instance is stateless and replaced by redeploying; termination "
                "protection would only make `cdk destroy` and instance-type changes fail.",
            ),
        ):
            Validations.of(self.vpc).acknowledge(Acknowledgment(id=rule, reason=reason))
