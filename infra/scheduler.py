"""EventBridge Scheduler: the group one-time sends are created in, and the role it assumes.

The schedules themselves are created at run time (`at(...)`, deleted after completion), which
CloudFormation cannot express: by the API for a send_at, by dispatch for the end of a
recipient's quiet hours, and the sweeper's next run while work is in flight
(herald.services.sweep_schedule). CDK only prepares where and as whom.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, ArnFormat, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constants import SCHEDULE_GROUP_NAME
from infra.functions import Binding

_SCHEDULER = "scheduler.amazonaws.com"


class SendScheduler(Construct):
    """A schedule group and a role that may only send to the dispatch queue and invoke the
    sweeper (named, not referenced: the sweeper itself arms its next run)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        target_queue: sqs.IQueue,
        sweeper_function_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.group = scheduler.ScheduleGroup(
            self,
            "Group",
            schedule_group_name=SCHEDULE_GROUP_NAME,
            # Deleting the group deletes its pending schedules; the notifications they would
            # have sent are in the database, which is snapshotted.
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(
            self,
            "Role",
            # Only schedules of this account may make the scheduler act as this role.
            assumed_by=iam.ServicePrincipal(
                _SCHEDULER, conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
            description="Assumed by EventBridge Scheduler to send scheduled notifications",
        )
        target_queue.grant(self.role, "sqs:SendMessage")
        self.sweeper_arn = stack.format_arn(
            service="lambda",
            resource="function",
            resource_name=sweeper_function_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.role.add_to_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[self.sweeper_arn])
        )
        self._schedules_arn = stack.format_arn(
            service="scheduler", resource="schedule", resource_name=f"{SCHEDULE_GROUP_NAME}/*"
        )

    def schedule_writer(self) -> Binding:
        """Create, read and delete schedules in the group, passing only the scheduler role."""
        return Binding(
            environment={
                "HERALD_SCHEDULE_GROUP": SCHEDULE_GROUP_NAME,
                "HERALD_SCHEDULER_ROLE_ARN": self.role.role_arn,
            },
            grant=self._grant_schedule_writes,
        )

    def sweep_arming(self) -> Binding:
        """Where a sweep schedule points; used with `schedule_writer()`."""
        return Binding(environment={"HERALD_SWEEPER_ARN": self.sweeper_arn})

    def _grant_schedule_writes(self, function: lambda_.Function) -> None:
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "scheduler:CreateSchedule",
                    "scheduler:DeleteSchedule",
                    "scheduler:GetSchedule",
                ],
                resources=[self._schedules_arn],
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": _SCHEDULER}},
            )
        )
        assert function.role is not None, "Herald functions always have a role"
        Validations.of(function.role).acknowledge(
            Acknowledgment(
                id=(
                    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:"
                    f"<AWS::AccountId>:schedule/{SCHEDULE_GROUP_NAME}/*]"
                ),
                reason=(
                    "Schedule names are generated per scheduled notification at run time; "
                    "the grant is limited to the Herald schedule group."
                ),
            )
        )
