"""The Herald stack, composed in the order of the architecture diagram."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

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
    IN_APP_MAX_CONCURRENCY,
    IN_APP_QUEUE_NAME,
    IN_APP_WORKER_FUNCTION,
    MIGRATIONS_FUNCTION,
    REALTIME_FUNCTION,
    SWEEP_INTERVAL,
    SWEEPER_FUNCTION,
    WEBHOOKS_FUNCTION,
)
from infra.database import Database
from infra.events import EventsTopic
from infra.functions import Binding, FunctionPlatform, HeraldFunction, SharedLayers
from infra.migrations import MigrationsOnDeploy
from infra.monitoring import DeadLetterAlarms
from infra.network import Network
from infra.queues import RedrivenQueue
from infra.realtime import InboxWebSocketApi
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
        in_app_queue = RedrivenQueue(
            self,
            "InAppQueue",
            queue_name=IN_APP_QUEUE_NAME,
            consumer_timeout=IN_APP_WORKER_FUNCTION.timeout,
            environment_prefix="HERALD_IN_APP_QUEUE",
        )
        scheduler = SendScheduler(self, "Scheduler", target_queue=dispatch_queue.queue)
        # browsers <--WebSocket-- inbox changes (item created, counts).
        inbox_socket = InboxWebSocketApi(self, "InboxWebSocket")

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
                events.publisher(),  # delivery.read when an inbox item is read
                inbox_socket.pusher(),  # inbox counts after each change
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
                in_app_queue.sender(),
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
                in_app_queue.sender(),
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

        # in_app queue --> functions/workers/in_app_worker --> inbox items --> browsers.
        in_app_worker = HeraldFunction(
            self,
            "InAppWorkerFunction",
            spec=IN_APP_WORKER_FUNCTION,
            platform=platform,
            uses=[database.client(), events.publisher(), inbox_socket.pusher()],
        )
        consume(in_app_worker.function, in_app_queue, max_concurrency=IN_APP_MAX_CONCURRENCY)
        realtime_function = HeraldFunction(
            self,
            "RealtimeFunction",
            spec=REALTIME_FUNCTION,
            platform=platform,
            # Verifies the user's inbox token: reads the link-signing key.
            uses=[database.client(), link_signing.reader()],
        )
        inbox_socket.route_connections(realtime_function.function)

        # provider callbacks --HTTPS--> functions/webhooks --> delivery status, events.
        webhooks_function = HeraldFunction(
            self,
            "WebhooksFunction",
            spec=WEBHOOKS_FUNCTION,
            platform=platform,
            uses=[database.client(), providers.reader(), events.publisher()],
        )
        api.route_callbacks(webhooks_function.function)

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
            self, "DeadLetterAlarms", queues=[dispatch_queue, email_queue, in_app_queue]
        )

        CfnOutput(self, "ApiUrl", value=api.url)
        CfnOutput(self, "DispatchQueueUrl", value=dispatch_queue.queue.queue_url)
        CfnOutput(self, "EmailQueueUrl", value=email_queue.queue.queue_url)
        CfnOutput(self, "InAppQueueUrl", value=in_app_queue.queue.queue_url)
        CfnOutput(self, "InboxWebSocketUrl", value=inbox_socket.url)
        CfnOutput(self, "EventsTopicArn", value=events.topic.topic_arn)
        CfnOutput(self, "ProviderSecretName", value=providers.secret.secret_name)
        CfnOutput(self, "LinksSecretName", value=link_signing.secret.secret_name)
        CfnOutput(self, "DatabaseSecretArn", value=database.secret.secret_arn)
        CfnOutput(self, "DatabaseProxyEndpoint", value=database.proxy.endpoint)
        CfnOutput(self, "ScheduleGroupName", value=scheduler.group.schedule_group_name)
