"""The Herald stack, composed in the order of the architecture diagram."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct
from herald.models.webhooks import EVENT_TYPES

from infra.api import HttpApi
from infra.constants import (
    API_FUNCTION,
    DISPATCH_FUNCTION,
    DISPATCH_MAX_CONCURRENCY,
    DISPATCH_QUEUE_NAME,
    EMAIL_MAX_BATCHING_WINDOW,
    EMAIL_MAX_CONCURRENCY,
    EMAIL_QUEUE_NAME,
    EMAIL_WORKER_FUNCTION,
    MIGRATIONS_FUNCTION,
    SWEEP_INTERVAL,
    SWEEPER_FUNCTION,
    WEBHOOK_EVENTS_MAX_CONCURRENCY,
    WEBHOOK_EVENTS_QUEUE_NAME,
    WEBHOOK_EVENTS_WORKER_FUNCTION,
    WEBHOOK_MAX_CONCURRENCY,
    WEBHOOK_QUEUE_NAME,
    WEBHOOK_WORKER_FUNCTION,
    WEBHOOKS_FUNCTION,
)
from infra.database import Database
from infra.events import EventsTopic
from infra.functions import Binding, FunctionPlatform, HeraldFunction, SharedLayers
from infra.migrations import MigrationsOnDeploy
from infra.monitoring import DeadLetterAlarms
from infra.network import Network
from infra.queues import RedrivenQueue
from infra.scheduler import SendScheduler
from infra.secrets import LinkSigningSecret, ProviderSecret
from infra.workers import consume, run_every


class HeraldStack(Stack):
    """API -> dispatch -> per-channel workers, with Aurora as the one source of truth."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        requirements: Sequence[str],
        email_from: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)

        # Shared ground: network, database, credentials, status events.
        network = Network(self, "Network")
        database = Database(self, "Database", vpc=network.vpc)
        providers = ProviderSecret(self, "ProviderSecret")
        link_signing = LinkSigningSecret(self, "LinkSigningSecret")
        events = EventsTopic(self, "Events")
        platform = FunctionPlatform(
            vpc=network.vpc, layers=SharedLayers(self, "Layers", requirements=requirements)
        )

        # Queues, each with its dead-letter queue, sized for its consumer.
        dispatch_queue = RedrivenQueue(
            self,
            "DispatchQueue",
            queue_name=DISPATCH_QUEUE_NAME,
            consumer_timeout=DISPATCH_FUNCTION.timeout,
            environment_prefix="HERALD_DISPATCH_QUEUE",
        )
        email_queue = RedrivenQueue(
            self,
            "EmailQueue",
            queue_name=EMAIL_QUEUE_NAME,
            consumer_timeout=EMAIL_WORKER_FUNCTION.timeout,
            environment_prefix="HERALD_EMAIL_QUEUE",
        )
        webhook_events_queue = RedrivenQueue(
            self,
            "WebhookEventsQueue",
            queue_name=WEBHOOK_EVENTS_QUEUE_NAME,
            consumer_timeout=WEBHOOK_EVENTS_WORKER_FUNCTION.timeout,
            environment_prefix="HERALD_WEBHOOK_EVENTS_QUEUE",
        )
        webhook_queue = RedrivenQueue(
            self,
            "WebhookQueue",
            queue_name=WEBHOOK_QUEUE_NAME,
            consumer_timeout=WEBHOOK_WORKER_FUNCTION.timeout,
            environment_prefix="HERALD_WEBHOOK_QUEUE",
        )
        scheduler = SendScheduler(self, "Scheduler", target_queue=dispatch_queue.queue)

        # client --HTTPS--> HTTP API --> functions/api: writes, sends now or schedules.
        api = HttpApi(self, "Api")
        api_function = HeraldFunction(
            self,
            "ApiFunction",
            spec=API_FUNCTION,
            platform=platform,
            uses=[
                database.client(),
                dispatch_queue.sender(),
                scheduler.schedule_writer(),
                api.public_url(),
                link_signing.reader(),  # opens unsubscribe and preference links
                webhook_events_queue.sender(),  # webhook tests and replays
            ],
        )
        api.route_default(api_function.function)

        # dispatch queue --> functions/dispatch --> one queue per channel.
        dispatch_function = HeraldFunction(
            self,
            "DispatchFunction",
            spec=DISPATCH_FUNCTION,
            platform=platform,
            # The dispatch queue and the scheduler: to wake up when quiet hours end.
            uses=[
                database.client(),
                email_queue.sender(),
                webhook_queue.sender(),
                events.publisher(),
                dispatch_queue.sender(),
                scheduler.schedule_writer(),
            ],
        )
        consume(
            dispatch_function.function, dispatch_queue, max_concurrency=DISPATCH_MAX_CONCURRENCY
        )
        sweeper_function = HeraldFunction(
            self,
            "SweeperFunction",
            spec=SWEEPER_FUNCTION,
            platform=platform,
            # Stalled notifications go back to dispatch, stalled deliveries to their channel.
            uses=[
                database.client(),
                dispatch_queue.sender(),
                email_queue.sender(),
                webhook_queue.sender(),
                webhook_events_queue.sender(),  # webhook messages whose queue message was lost
            ],
        )
        run_every(self, "SweepSchedule", sweeper_function.function, SWEEP_INTERVAL)

        # email queue --> functions/workers/email_worker --> SendGrid.
        email_worker = HeraldFunction(
            self,
            "EmailWorkerFunction",
            spec=EMAIL_WORKER_FUNCTION,
            platform=platform,
            uses=[
                database.client(),
                email_queue.sender(),  # retries go back to the queue with a delay
                providers.reader(),
                events.publisher(),
                api.public_url(),
                link_signing.reader(),  # signs the links it puts into emails
                Binding(environment={"HERALD_EMAIL_FROM": email_from}),
            ],
        )
        consume(
            email_worker.function,
            email_queue,
            max_concurrency=EMAIL_MAX_CONCURRENCY,
            max_batching_window=EMAIL_MAX_BATCHING_WINDOW,
        )

        # provider callbacks --HTTPS--> functions/webhooks --> delivery status, events.
        webhooks_function = HeraldFunction(
            self,
            "WebhooksFunction",
            spec=WEBHOOKS_FUNCTION,
            platform=platform,
            uses=[database.client(), providers.reader(), events.publisher()],
        )
        api.route_callbacks(webhooks_function.function)

        # status events --SNS, filtered--> webhook-events queue --> functions/workers/
        # webhook_events_worker --HTTPS (signed, SSRF-guarded)--> customer endpoints.
        events.feed(webhook_events_queue.queue, EVENT_TYPES)
        webhook_events_worker = HeraldFunction(
            self,
            "WebhookEventsWorkerFunction",
            spec=WEBHOOK_EVENTS_WORKER_FUNCTION,
            platform=platform,
            uses=[
                database.client(),
                webhook_events_queue.sender(),  # retries go back to the queue with a delay
                events.publisher(),  # webhook.endpoint_disabled
            ],
        )
        consume(
            webhook_events_worker.function,
            webhook_events_queue,
            max_concurrency=WEBHOOK_EVENTS_MAX_CONCURRENCY,
        )

        # webhook queue --> functions/workers/webhook_worker --HTTPS (signed, SSRF-guarded)-->
        # recipients' URLs (Slack, Teams, Discord, own services).
        webhook_worker = HeraldFunction(
            self,
            "WebhookWorkerFunction",
            spec=WEBHOOK_WORKER_FUNCTION,
            platform=platform,
            uses=[
                database.client(),
                webhook_queue.sender(),  # retries go back to the queue with a delay
                events.publisher(),
            ],
        )
        consume(webhook_worker.function, webhook_queue, max_concurrency=WEBHOOK_MAX_CONCURRENCY)

        # On every deploy: migrate the schema once the database is reachable.
        migrations_function = HeraldFunction(
            self,
            "MigrationsFunction",
            spec=MIGRATIONS_FUNCTION,
            platform=platform,
            uses=[database.client()],
        )
        MigrationsOnDeploy(
            self, "Migrations", function=migrations_function.function, after=[database]
        )

        DeadLetterAlarms(
            self,
            "DeadLetterAlarms",
            queues=[dispatch_queue, email_queue, webhook_events_queue, webhook_queue],
        )

        CfnOutput(self, "ApiUrl", value=api.url)
        CfnOutput(self, "DispatchQueueUrl", value=dispatch_queue.queue.queue_url)
        CfnOutput(self, "EmailQueueUrl", value=email_queue.queue.queue_url)
        CfnOutput(self, "EventsTopicArn", value=events.topic.topic_arn)
        CfnOutput(self, "ProviderSecretName", value=providers.secret.secret_name)
        CfnOutput(self, "LinksSecretName", value=link_signing.secret.secret_name)
        CfnOutput(self, "DatabaseSecretArn", value=database.secret.secret_arn)
        CfnOutput(self, "DatabaseProxyEndpoint", value=database.proxy.endpoint)
        CfnOutput(self, "ScheduleGroupName", value=scheduler.group.schedule_group_name)
