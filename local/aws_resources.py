"""Creates, on moto, the AWS resources CDK creates in a real account, with the same shape."""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from herald.aws.sqs import DELIVERED_CHANNELS
from herald.models.webhooks import EVENT_TYPES

# What the webhook-events subscription lets through: the event types of API.md's list.
WEBHOOK_EVENTS_FILTER_POLICY = {"type": list(EVENT_TYPES)}

REGION = "us-east-1"
ACCOUNT = "123456789012"
SCHEDULE_GROUP = "herald"
SCHEDULER_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/herald-scheduler"
# The function sweep schedules invoke (the local runtime's scheduler emulator calls it).
SWEEPER_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:herald-sweeper"
MAX_RECEIVE_COUNT = 5
# The SES configuration set whose events (through SNS) update deliveries, as CDK names it.
SES_CONFIGURATION_SET = "herald"


@dataclass(frozen=True)
class Queue:
    name: str
    url: str
    arn: str
    dlq_url: str
    dlq_arn: str = ""


@dataclass(frozen=True)
class Resources:
    dispatch: Queue
    email: Queue
    in_app: Queue
    events_topic_arn: str
    provider_secret_id: str
    links_secret_id: str
    sms: Queue
    whatsapp: Queue
    push: Queue
    web_push: Queue
    vapid_secret_id: str
    webhook_events: Queue
    webhook: Queue
    # SES event notifications: the configuration set's SNS topic and the queue it feeds.
    ses_events_topic_arn: str
    ses_events: Queue
    # Each delivered channel's bulk lane (herald.services.lanes), by channel.
    bulk: Mapping[str, Queue] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        """The HERALD_* variables the handlers read, as CDK sets them in AWS."""
        return {
            "HERALD_DISPATCH_QUEUE_URL": self.dispatch.url,
            "HERALD_DISPATCH_QUEUE_ARN": self.dispatch.arn,
            "HERALD_EMAIL_QUEUE_URL": self.email.url,
            "HERALD_IN_APP_QUEUE_URL": self.in_app.url,
            "HERALD_EVENTS_TOPIC_ARN": self.events_topic_arn,
            "HERALD_SCHEDULE_GROUP": SCHEDULE_GROUP,
            "HERALD_SCHEDULER_ROLE_ARN": SCHEDULER_ROLE_ARN,
            "HERALD_SWEEPER_ARN": SWEEPER_ARN,
            "HERALD_PROVIDER_SECRET_ID": self.provider_secret_id,
            "HERALD_LINKS_SECRET_ID": self.links_secret_id,
            "HERALD_SMS_QUEUE_URL": self.sms.url,
            "HERALD_WHATSAPP_QUEUE_URL": self.whatsapp.url,
            "HERALD_PUSH_QUEUE_URL": self.push.url,
            "HERALD_WEB_PUSH_QUEUE_URL": self.web_push.url,
            "HERALD_VAPID_SECRET_ID": self.vapid_secret_id,
            "HERALD_WEBHOOK_EVENTS_QUEUE_URL": self.webhook_events.url,
            "HERALD_WEBHOOK_QUEUE_URL": self.webhook.url,
            "HERALD_DEAD_LETTER_QUEUES": json.dumps(self.dead_letter_queues()),
            # moto has no StartMessageMoveTask: redrive by hand (herald.aws.dead_letters).
            "HERALD_DEAD_LETTER_REDRIVE": "copy",
            **{
                f"HERALD_{channel.upper()}_BULK_QUEUE_URL": queue.url
                for channel, queue in self.bulk.items()
            },
        }

    def dead_letter_queues(self) -> dict[str, dict[str, str]]:
        """Each queue's DLQ by the queue's short name, as infra/queues.py lists them."""
        queues = {
            "dispatch": self.dispatch,
            "email": self.email,
            "sms": self.sms,
            "whatsapp": self.whatsapp,
            "push": self.push,
            "web_push": self.web_push,
            "in_app": self.in_app,
            "webhook": self.webhook,
            "webhook_events": self.webhook_events,
            "ses_events": self.ses_events,
            **{f"{channel}_bulk": queue for channel, queue in self.bulk.items()},
        }
        return {
            name: {
                "url": q.dlq_url,
                "arn": q.dlq_arn,
                "source_url": q.url,
                "source_arn": q.arn,
            }
            for name, q in queues.items()
        }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _queue(sqs: Any, name: str, visibility_timeout: int) -> Queue:
    dlq_url = sqs.create_queue(
        QueueName=f"{name}-dlq", Attributes={"MessageRetentionPeriod": str(14 * 24 * 3600)}
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(visibility_timeout),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
            ),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return Queue(name=name, url=url, arn=arn, dlq_url=dlq_url, dlq_arn=dlq_arn)


def new_links_secret() -> str:
    """A random link-signing key: 64 characters, as CDK generates it in AWS."""
    return secrets.token_urlsafe(48)


def provision(
    provider_secret: dict[str, Any],
    prefix: str = "herald",
    visibility_timeout: int = 30,
    *,
    links_secret: str | None = None,
    vapid_secret: str | None = None,
    webhook_events_subscription: bool = True,
) -> Resources:
    """Create queues with DLQs (a bulk lane beside each channel's queue), the events topic,
    the schedule group and the three secrets.

    `links_secret` signs end-user links; pass the same one across restarts so links already
    sent keep working (a new random one when not given). `vapid_secret` is what the VAPID
    key pair is derived from: kept across restarts, browsers' subscriptions stay valid.
    Without `webhook_events_subscription`, the events topic feeds nothing (the benchmark's
    choice: moto delivers to a subscribed queue inside every publish, at a cost that grows
    with the queue's depth, which SNS never charges a publisher).
    Idempotent, so it also serves a restart against a moto that kept its state.
    """
    sqs = boto3.client("sqs", region_name=REGION)
    dispatch = _queue(sqs, f"{prefix}-dispatch", visibility_timeout)
    email = _queue(sqs, f"{prefix}-email", visibility_timeout)
    in_app = _queue(sqs, f"{prefix}-in-app", visibility_timeout)
    topic_arn = boto3.client("sns", region_name=REGION).create_topic(Name=f"{prefix}-events")[
        "TopicArn"
    ]
    webhook_events = _queue(sqs, f"{prefix}-webhook-events", visibility_timeout)
    if webhook_events_subscription:
        subscribe_webhook_events(topic_arn, webhook_events.arn)
    webhook = _queue(sqs, f"{prefix}-webhook", visibility_timeout)
    scheduler = boto3.client("scheduler", region_name=REGION)
    with contextlib.suppress(scheduler.exceptions.ConflictException):
        scheduler.create_schedule_group(Name=SCHEDULE_GROUP)
    ses_topic_arn, ses_events = _ses_events(sqs, prefix, visibility_timeout)
    return Resources(
        dispatch=dispatch,
        email=email,
        in_app=in_app,
        events_topic_arn=topic_arn,
        provider_secret_id=_secret(f"{prefix}/providers", json.dumps(provider_secret)),
        links_secret_id=_secret(f"{prefix}/links", links_secret or new_links_secret()),
        sms=_queue(sqs, f"{prefix}-sms", visibility_timeout),
        whatsapp=_queue(sqs, f"{prefix}-whatsapp", visibility_timeout),
        push=_queue(sqs, f"{prefix}-push", visibility_timeout),
        web_push=_queue(sqs, f"{prefix}-web-push", visibility_timeout),
        vapid_secret_id=_secret(f"{prefix}/vapid", vapid_secret or new_links_secret()),
        webhook_events=webhook_events,
        webhook=webhook,
        bulk={
            channel: _queue(sqs, f"{prefix}-{channel.replace('_', '-')}-bulk", visibility_timeout)
            for channel in DELIVERED_CHANNELS
        },
        ses_events_topic_arn=ses_topic_arn,
        ses_events=ses_events,
    )


def _ses_events(sqs: Any, prefix: str, visibility_timeout: int) -> tuple[str, Queue]:
    """The SNS topic the SES configuration set publishes its events to, feeding a queue
    (SNS's envelope around each event, as CDK subscribes it)."""
    topic_arn = boto3.client("sns", region_name=REGION).create_topic(Name=f"{prefix}-ses-events")[
        "TopicArn"
    ]
    queue = _queue(sqs, f"{prefix}-ses-events", visibility_timeout)
    boto3.client("sns", region_name=REGION).subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=queue.arn, ReturnSubscriptionArn=True
    )
    return str(topic_arn), queue


def subscribe_webhook_events(topic_arn: str, queue_arn: str) -> None:
    """The topic feeds the webhook-events queue the event types endpoints may subscribe to,
    raw (the body is the event itself), as CDK subscribes it. Idempotent, like SNS."""
    boto3.client("sns", region_name=REGION).subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={
            "RawMessageDelivery": "true",
            "FilterPolicy": json.dumps(WEBHOOK_EVENTS_FILTER_POLICY),
        },
        ReturnSubscriptionArn=True,
    )


def _secret(name: str, value: str) -> str:
    """The ARN of secret `name`, created or given `value`."""
    client = boto3.client("secretsmanager", region_name=REGION)
    try:
        return str(client.create_secret(Name=name, SecretString=value)["ARN"])
    except client.exceptions.ResourceExistsException:
        return str(client.put_secret_value(SecretId=name, SecretString=value)["ARN"])


def sns_publisher(topic_arn: str) -> Callable[[str], None]:
    """Publishes one message to `topic_arn` (the simulator's SES event destination)."""
    client = boto3.client("sns", region_name=REGION)

    def publish(message: str) -> None:
        client.publish(TopicArn=topic_arn, Message=message)

    return publish
