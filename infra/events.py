"""The SNS topic every delivery status change is published to."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constants import EVENTS_TOPIC_NAME
from infra.functions import Binding


class EventsTopic(Construct):
    """Status events with message attributes; subscribers (customer webhooks, ...) filter."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=EVENTS_TOPIC_NAME,
            # The AWS-managed key costs nothing, and its key policy already lets every principal
            # of the account use it through SNS: publishers need no KMS permission of their own.
            master_key=kms.Alias.from_alias_name(self, "SnsKey", "alias/aws/sns"),
            enforce_ssl=True,
        )

    def publisher(self) -> Binding:
        """Publish status events (only `sns:Publish`)."""
        return Binding(
            environment={"HERALD_EVENTS_TOPIC_ARN": self.topic.topic_arn},
            grant=self._grant_publish,
        )

    def feed(self, queue: sqs.IQueue, event_types: Sequence[str]) -> None:
        """Deliver the events of `event_types` to `queue`, raw: the body is the event itself."""
        self.topic.add_subscription(
            subscriptions.SqsSubscription(
                queue,
                raw_message_delivery=True,
                filter_policy={
                    "type": sns.SubscriptionFilter.string_filter(allowlist=list(event_types))
                },
            )
        )

    def _grant_publish(self, function: lambda_.Function) -> None:
        # Not Topic.grant_publish: for an imported key alias it adds kms:GenerateDataKey* on
        # every key of the account, which the AWS-managed key does not need (see above).
        iam.Grant.add_to_principal_or_resource(
            grantee=function,
            actions=["sns:Publish"],
            resource_arns=[self.topic.topic_arn],
            resource=self.topic,
        )
