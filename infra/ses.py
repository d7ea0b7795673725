"""Amazon SES: the configuration set Herald's SES sends name, and its events' way back.

SES publishes each send's events (send, delivery, bounce, complaint, open, click, ...) to an
SNS topic; the topic feeds the SES-events queue, whose function applies them to deliveries.
The senders (the email worker, and the API for an integration's test call) may send only
through this configuration set and the account's verified identities.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.constants import SES_CONFIGURATION_SET_NAME, SES_EVENTS_TOPIC_NAME
from infra.functions import Binding, allow_by_pattern
from infra.queues import RedrivenQueue

_EVENTS = (
    ses.EmailSendingEvent.SEND,
    ses.EmailSendingEvent.DELIVERY,
    ses.EmailSendingEvent.DELIVERY_DELAY,
    ses.EmailSendingEvent.BOUNCE,
    ses.EmailSendingEvent.COMPLAINT,
    ses.EmailSendingEvent.REJECT,
    ses.EmailSendingEvent.OPEN,
    ses.EmailSendingEvent.CLICK,
)


class SesSending(Construct):
    """The configuration set, its SNS event destination, and the queue the topic feeds."""

    def __init__(self, scope: Construct, construct_id: str, *, events_queue: RedrivenQueue) -> None:
        super().__init__(scope, construct_id)
        # SES cannot publish to a topic encrypted with the AWS-managed SNS key, and a key of
        # our own costs by the month whether or not SES is used: the topic carries delivery
        # events only (message ids, addresses, statuses), over TLS.
        self.topic = sns.Topic(self, "Topic", topic_name=SES_EVENTS_TOPIC_NAME, enforce_ssl=True)
        Validations.of(self.topic).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SNS2",
                reason=(
                    "SES event publishing cannot use the AWS-managed SNS key; the topic "
                    "carries delivery events, not message content, and enforces TLS."
                ),
            )
        )
        self.configuration_set = ses.ConfigurationSet(
            self, "ConfigurationSet", configuration_set_name=SES_CONFIGURATION_SET_NAME
        )
        self.configuration_set.add_event_destination(
            "ToSns",
            destination=ses.EventDestination.sns_topic(self.topic),
            events=list(_EVENTS),
        )
        # SNS's envelope around each event, as herald.services.ses_events reads it.
        self.topic.add_subscription(subscriptions.SqsSubscription(events_queue.queue))
        stack = Stack.of(self)
        self._send_resources = [
            stack.format_arn(
                service="ses",
                resource="configuration-set",
                resource_name=SES_CONFIGURATION_SET_NAME,
            ),
            stack.format_arn(service="ses", resource="identity", resource_name="*"),
        ]

    def sender(self) -> Binding:
        """`ses:SendEmail` through this configuration set and the account's identities."""

        def grant(function: lambda_.Function) -> None:
            allow_by_pattern(
                function,
                ["ses:SendEmail"],
                self._send_resources,
                pattern="arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>:identity/*",
                reason="A tenant's SES integration sends from any identity verified in the "
                "account, which is not known at synth time; sending is limited to "
                "ses:SendEmail through Herald's configuration set.",
            )

        return Binding(
            environment={"HERALD_SES_CONFIGURATION_SET": SES_CONFIGURATION_SET_NAME},
            grant=grant,
        )
