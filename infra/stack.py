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
    BULK_MAX_CONCURRENCY,
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
    NAME_PREFIX,
    PUSH_MAX_CONCURRENCY,
    PUSH_QUEUE_NAME,
    PUSH_WORKER_FUNCTION,
    REALTIME_FUNCTION,
    SES_EVENTS_FUNCTION,
    SES_EVENTS_MAX_CONCURRENCY,
    SES_EVENTS_QUEUE_NAME,
    SMS_QUEUE_NAME,
    SMS_WORKER_FUNCTION,
    SWEEPER_FUNCTION,
    TEXT_MAX_CONCURRENCY,
    WEB_PUSH_MAX_CONCURRENCY,
    WEB_PUSH_QUEUE_NAME,
    WEB_PUSH_WORKER_FUNCTION,
    WEBHOOK_EVENTS_MAX_CONCURRENCY,
    WEBHOOK_EVENTS_QUEUE_NAME,
    WEBHOOK_EVENTS_WORKER_FUNCTION,
    WEBHOOK_MAX_CONCURRENCY,
    WEBHOOK_QUEUE_NAME,
    WEBHOOK_WORKER_FUNCTION,
    WEBHOOKS_FUNCTION,
    WHATSAPP_QUEUE_NAME,
    WHATSAPP_WORKER_FUNCTION,
)
from infra.database import Database
from infra.events import EventsTopic
from infra.functions import Binding, FunctionPlatform, HeraldFunction, SharedLayers
from infra.integrations import IntegrationSecrets
from infra.migrations import MigrationsOnDeploy
from infra.monitoring import CircuitBreakerAlarm, DeadLetterAlarms
from infra.network import Network
from infra.profile import DeploymentProfile
from infra.queues import RedrivenQueue, bulk_lanes, dead_letter_admin
from infra.realtime import InboxWebSocketApi
from infra.scheduler import SendScheduler
from infra.secrets import LinkSigningSecret, ProviderSecret, VapidSecret
from infra.ses import SesSending
from infra.workers import consume


class HeraldStack(Stack):
    """API -> dispatch -> per-channel workers, with Aurora as the one source of truth."""

    # One statement per resource, top to bottom in the order of the architecture diagram: the
    # length is the architecture's, and splitting it would hide the wiring between the parts.
    def __init__(  # noqa: PLR0915
        self,
        scope: Construct,
        construct_id: str,
        *,
        requirements: Sequence[str],
        email_from: str,
        profile: DeploymentProfile,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.profile = profile

        # Shared ground: network, database, credentials, status events.
        network = Network(self, "Network", profile=profile)
        database = Database(self, "Database", vpc=network.vpc, profile=profile)
        providers = ProviderSecret(self, "ProviderSecret")
        link_signing = LinkSigningSecret(self, "LinkSigningSecret")
        vapid_keys = VapidSecret(self, "VapidSecret")
        events = EventsTopic(self, "Events")
        integration_secrets = IntegrationSecrets(self, "IntegrationSecrets")
        platform = FunctionPlatform(
            vpc=network.vpc,
            layers=SharedLayers(self, "Layers", requirements=requirements),
            profile=profile,
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
        sms_queue = RedrivenQueue(
            self,
            "SmsQueue",
            queue_name=SMS_QUEUE_NAME,
            consumer_timeout=SMS_WORKER_FUNCTION.timeout,
            environment_prefix="HERALD_SMS_QUEUE",
        )
        whatsapp_queue = RedrivenQueue(
            self,
            "WhatsAppQueue",
            queue_name=WHATSAPP_QUEUE_NAME,
            consumer_timeout=WHATSAPP_WORKER_FUNCTION.timeout,
            environment_prefix="HERALD_WHATSAPP_QUEUE",
        )
        scheduler = SendScheduler(
            self,
            "Scheduler",
            target_queue=dispatch_queue.queue,
            sweeper_function_name=f"{NAME_PREFIX}-{SWEEPER_FUNCTION.name}",
        )
        push_queue = RedrivenQueue(
            self,
            "PushQueue",
            queue_name=PUSH_QUEUE_NAME,
            consumer_timeout=PUSH_WORKER_FUNCTION.timeout,
            environment_prefix="HERALD_PUSH_QUEUE",
        )
        web_push_queue = RedrivenQueue(
            self,
            "WebPushQueue",
            queue_name=WEB_PUSH_QUEUE_NAME,
            consumer_timeout=WEB_PUSH_WORKER_FUNCTION.timeout,
            environment_prefix="HERALD_WEB_PUSH_QUEUE",
        )
        in_app_queue = RedrivenQueue(
            self,
            "InAppQueue",
            queue_name=IN_APP_QUEUE_NAME,
            consumer_timeout=IN_APP_WORKER_FUNCTION.timeout,
            environment_prefix="HERALD_IN_APP_QUEUE",
        )
        # browsers <--WebSocket-- inbox changes (item created, counts).
        inbox_socket = InboxWebSocketApi(self, "InboxWebSocket")
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
        # Beside each delivered channel's queue, its bulk lane (herald.services.lanes).
        bulk_queues = bulk_lanes(
            self,
            {
                "email": EMAIL_WORKER_FUNCTION.timeout,
                "sms": SMS_WORKER_FUNCTION.timeout,
                "whatsapp": WHATSAPP_WORKER_FUNCTION.timeout,
                "push": PUSH_WORKER_FUNCTION.timeout,
                "web_push": WEB_PUSH_WORKER_FUNCTION.timeout,
                "in_app": IN_APP_WORKER_FUNCTION.timeout,
                "webhook": WEBHOOK_WORKER_FUNCTION.timeout,
            },
        )
        bulk_senders = [queue.sender() for queue in bulk_queues.values()]

        ses_events_queue = RedrivenQueue(
            self,
            "SesEventsQueue",
            queue_name=SES_EVENTS_QUEUE_NAME,
            consumer_timeout=SES_EVENTS_FUNCTION.timeout,
            environment_prefix="HERALD_SES_EVENTS_QUEUE",
        )
        ses_sending = SesSending(self, "SesSending", events_queue=ses_events_queue)

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
                scheduler.sweep_arming(),  # arms the sweeper when it accepts work
                api.public_url(),
                link_signing.reader(),  # opens unsubscribe and preference links
                vapid_keys.reader(),  # serves the VAPID public key
                events.publisher(),  # delivery.read when an inbox item is read
                inbox_socket.pusher(),  # inbox counts after each change
                webhook_events_queue.sender(),  # webhook tests and replays
                integration_secrets.manager(),  # /v1/integrations: one secret each
                ses_sending.sender(),  # an SES integration's test call
                dead_letter_admin(  # GET /v1/dead-letters, POST /v1/dead-letters/redrive
                    self,
                    {
                        "dispatch": dispatch_queue,
                        "email": email_queue,
                        "sms": sms_queue,
                        "whatsapp": whatsapp_queue,
                        "push": push_queue,
                        "web_push": web_push_queue,
                        "in_app": in_app_queue,
                        "webhook": webhook_queue,
                        "webhook_events": webhook_events_queue,
                        "ses_events": ses_events_queue,
                        **{f"{channel}_bulk": q for channel, q in bulk_queues.items()},
                    },
                ),
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
                sms_queue.sender(),
                whatsapp_queue.sender(),
                push_queue.sender(),
                web_push_queue.sender(),
                in_app_queue.sender(),
                webhook_queue.sender(),
                events.publisher(),
                dispatch_queue.sender(),
                scheduler.schedule_writer(),
                scheduler.sweep_arming(),
                *bulk_senders,  # batches and low-priority sends
            ],
        )
        consume(
            dispatch_function.function, dispatch_queue, max_concurrency=DISPATCH_MAX_CONCURRENCY
        )
        HeraldFunction(
            self,
            "SweeperFunction",
            spec=SWEEPER_FUNCTION,
            platform=platform,
            # Stalled notifications go back to dispatch, stalled deliveries to their channel.
            # No fixed rate: one-time schedules run it while work is in flight, and it renews
            # its own (herald.services.sweep_schedule), so an idle Herald lets Aurora pause.
            uses=[
                database.client(),
                dispatch_queue.sender(),
                email_queue.sender(),
                sms_queue.sender(),
                whatsapp_queue.sender(),
                scheduler.schedule_writer(),
                scheduler.sweep_arming(),
                push_queue.sender(),
                web_push_queue.sender(),
                in_app_queue.sender(),
                webhook_queue.sender(),
                webhook_events_queue.sender(),  # webhook messages whose queue message was lost
                events.publisher(),  # delivery.failed for the dead-lettered ones it fails
                *bulk_senders,
            ],
        )

        # email queue --> functions/workers/email_worker --> SendGrid.
        email_worker = HeraldFunction(
            self,
            "EmailWorkerFunction",
            spec=EMAIL_WORKER_FUNCTION,
            platform=platform,
            uses=[
                database.client(),
                email_queue.sender(),  # retries go back to the queue with a delay
                bulk_queues["email"].sender(),  # ... on the lane they came from
                dispatch_queue.sender(),  # fallbacks: dispatch takes the next step
                providers.reader(),
                events.publisher(),
                api.public_url(),
                link_signing.reader(),  # signs the links it puts into emails
                Binding(environment={"HERALD_EMAIL_FROM": email_from}),
                integration_secrets.reader(),  # tenants' own SendGrid and SES accounts
                ses_sending.sender(),
            ],
        )
        consume(
            email_worker.function,
            email_queue,
            max_concurrency=EMAIL_MAX_CONCURRENCY,
            max_batching_window=EMAIL_MAX_BATCHING_WINDOW,
        )
        consume(
            email_worker.function,
            bulk_queues["email"],
            max_concurrency=BULK_MAX_CONCURRENCY,
            max_batching_window=EMAIL_MAX_BATCHING_WINDOW,
        )

        # sms and whatsapp queues --> functions/workers/{sms,whatsapp}_worker --> Twilio.
        for worker_id, spec, queue, bulk_queue in (
            ("SmsWorkerFunction", SMS_WORKER_FUNCTION, sms_queue, bulk_queues["sms"]),
            (
                "WhatsAppWorkerFunction",
                WHATSAPP_WORKER_FUNCTION,
                whatsapp_queue,
                bulk_queues["whatsapp"],
            ),
        ):
            text_worker = HeraldFunction(
                self,
                worker_id,
                spec=spec,
                platform=platform,
                uses=[
                    database.client(),
                    queue.sender(),  # retries go back to the queue with a delay
                    bulk_queue.sender(),  # ... on the lane they came from
                    dispatch_queue.sender(),  # fallbacks: dispatch takes the next step
                    providers.reader(),
                    events.publisher(),
                    api.public_url(),  # the status callback URL Twilio is given
                    integration_secrets.reader(),  # tenants' own Twilio accounts
                ],
            )
            consume(
                text_worker.function,
                queue,
                max_concurrency=TEXT_MAX_CONCURRENCY,
                max_batching_window=EMAIL_MAX_BATCHING_WINDOW,
            )
            consume(text_worker.function, bulk_queue, max_concurrency=BULK_MAX_CONCURRENCY)
        # push queue --> functions/workers/push_worker --> FCM (iOS through APNs).
        push_worker = HeraldFunction(
            self,
            "PushWorkerFunction",
            spec=PUSH_WORKER_FUNCTION,
            platform=platform,
            uses=[
                database.client(),
                push_queue.sender(),  # retries go back to the queue with a delay
                bulk_queues["push"].sender(),  # ... on the lane they came from
                dispatch_queue.sender(),  # fallbacks: dispatch takes the next step
                providers.reader(),  # the FCM service-account JSON
                events.publisher(),
                integration_secrets.reader(),  # tenants' own Firebase service accounts
            ],
        )
        consume(push_worker.function, push_queue, max_concurrency=PUSH_MAX_CONCURRENCY)
        consume(push_worker.function, bulk_queues["push"], max_concurrency=BULK_MAX_CONCURRENCY)

        # web push queue --> functions/workers/web_push_worker --> browsers' push services.
        web_push_worker = HeraldFunction(
            self,
            "WebPushWorkerFunction",
            spec=WEB_PUSH_WORKER_FUNCTION,
            platform=platform,
            uses=[
                database.client(),
                web_push_queue.sender(),
                bulk_queues["web_push"].sender(),  # retries on the lane they came from
                dispatch_queue.sender(),  # fallbacks: dispatch takes the next step
                vapid_keys.reader(),  # signs with the VAPID private key
                events.publisher(),
                Binding(environment={"HERALD_VAPID_SUBJECT": f"mailto:{email_from}"}),
                integration_secrets.reader(),  # tenants' own VAPID keys
            ],
        )
        consume(web_push_worker.function, web_push_queue, max_concurrency=WEB_PUSH_MAX_CONCURRENCY)
        consume(
            web_push_worker.function, bulk_queues["web_push"], max_concurrency=BULK_MAX_CONCURRENCY
        )
        # in_app queue --> functions/workers/in_app_worker --> inbox items --> browsers.
        in_app_worker = HeraldFunction(
            self,
            "InAppWorkerFunction",
            spec=IN_APP_WORKER_FUNCTION,
            platform=platform,
            uses=[
                database.client(),
                events.publisher(),
                inbox_socket.pusher(),
                dispatch_queue.sender(),  # fallbacks: dispatch takes the next step
            ],
        )
        consume(in_app_worker.function, in_app_queue, max_concurrency=IN_APP_MAX_CONCURRENCY)
        consume(in_app_worker.function, bulk_queues["in_app"], max_concurrency=BULK_MAX_CONCURRENCY)
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
            # The public URL: Twilio signs the URL it called. Integration secrets: callbacks
            # of tenants' own Twilio accounts are signed with their own tokens.
            uses=[
                database.client(),
                providers.reader(),
                events.publisher(),
                api.public_url(),
                integration_secrets.reader(),
                dispatch_queue.sender(),  # a late bounce may call for a fallback
            ],
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
                bulk_queues["webhook"].sender(),  # ... on the lane they came from
                dispatch_queue.sender(),  # fallbacks: dispatch takes the next step
                events.publisher(),
            ],
        )
        consume(webhook_worker.function, webhook_queue, max_concurrency=WEBHOOK_MAX_CONCURRENCY)
        consume(
            webhook_worker.function, bulk_queues["webhook"], max_concurrency=BULK_MAX_CONCURRENCY
        )

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
            queues=[
                dispatch_queue,
                email_queue,
                sms_queue,
                whatsapp_queue,
                push_queue,
                web_push_queue,
                in_app_queue,
                webhook_events_queue,
                webhook_queue,
                *bulk_queues.values(),
                ses_events_queue,
            ],
        )

        # SES configuration set --> SNS --> ses-events queue --> functions/webhooks/ses_events.
        ses_events_function = HeraldFunction(
            self,
            "SesEventsFunction",
            spec=SES_EVENTS_FUNCTION,
            platform=platform,
            uses=[database.client(), events.publisher()],
        )
        consume(
            ses_events_function.function,
            ses_events_queue,
            max_concurrency=SES_EVENTS_MAX_CONCURRENCY,
        )
        CircuitBreakerAlarm(self, "CircuitBreakerAlarm")

        CfnOutput(self, "ApiUrl", value=api.url)
        CfnOutput(self, "DispatchQueueUrl", value=dispatch_queue.queue.queue_url)
        CfnOutput(self, "EmailQueueUrl", value=email_queue.queue.queue_url)
        CfnOutput(self, "SmsQueueUrl", value=sms_queue.queue.queue_url)
        CfnOutput(self, "WhatsAppQueueUrl", value=whatsapp_queue.queue.queue_url)
        CfnOutput(self, "PushQueueUrl", value=push_queue.queue.queue_url)
        CfnOutput(self, "WebPushQueueUrl", value=web_push_queue.queue.queue_url)
        CfnOutput(self, "VapidSecretName", value=vapid_keys.secret.secret_name)
        CfnOutput(self, "InAppQueueUrl", value=in_app_queue.queue.queue_url)
        CfnOutput(self, "InboxWebSocketUrl", value=inbox_socket.url)
        CfnOutput(self, "EventsTopicArn", value=events.topic.topic_arn)
        CfnOutput(self, "ProviderSecretName", value=providers.secret.secret_name)
        CfnOutput(self, "LinksSecretName", value=link_signing.secret.secret_name)
        CfnOutput(self, "DatabaseSecretArn", value=database.secret.secret_arn)
        CfnOutput(self, "DatabaseEndpoint", value=database.endpoint)
        CfnOutput(self, "ScheduleGroupName", value=scheduler.group.schedule_group_name)
