"""What every sending worker shares: one channel's queue consumer on the shared delivery loop.

A worker module builds one `ChannelWorker` (once per execution environment) with a `plan`:
called for each queue message, it returns how this batch composes and sends (the provider
client comes from a secret cached for minutes, so a rotated credential takes effect alone).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from herald.aws.secrets import database_url, provider_credentials
from herald.aws.sns import EventPublisher
from herald.aws.sqs import MessageQueue
from herald.db.connection import Connection, Database, Row
from herald.models.messages import ChannelMessage
from herald.services.circuits import DEFAULT_ACCOUNTS, OPENED, breaker_policy, default_circuit
from herald.services.delivering import (
    Compose,
    Describe,
    OnTargets,
    RetryPolicy,
    Route,
    Send,
    deliver_batch,
)
from herald.services.integration_routes import IntegrationRoutes, SenderFor
from herald.settings import Settings

logger = Logger()
# Breakers opening and closing, for the CloudWatch alarm (infra/monitoring.py).
metrics = Metrics(namespace="Herald")

M = TypeVar("M")


@dataclass(frozen=True)
class BatchPlan(Generic[M]):
    """How one batch is composed and sent."""

    compose: Compose[M]
    send: Send[M]
    describe: Describe[M] | None = None
    on_targets: OnTargets | None = None


class ChannelWorker:
    """The consumer of one channel's queue (`<channel>_queue_url`), sending through `provider`."""

    def __init__(
        self,
        channel: str,
        provider: str,
        plan: Callable[[], BatchPlan[Any]],
        *,
        policy: Callable[[Settings], RetryPolicy] | None = None,
        integrations: SenderFor[Any] | None = None,
        failover: bool = True,
    ) -> None:
        """`policy` builds the retry policy from the settings (default: exponential backoff
        over `max_attempts`). `integrations` builds the sender of a tenant's own integration
        of the channel (its row and credentials): tenants with one send through theirs, by
        priority, failing over from one to the next; without it, every tenant sends through
        the deployment's account, behind the channel's breaker if it is one of
        `DEFAULT_ACCOUNTS`. Without `failover` (devices that belong to one account: push,
        web push), a tenant's first integration serves every delivery alone."""
        self.channel = channel
        self.settings = Settings()
        self.db = Database(database_url(self.settings), self.settings.database_prepare_threshold)
        self._provider = provider
        self._plan = plan
        self._queue = MessageQueue(self.settings.required(f"{channel}_queue_url"))
        # The same worker consumes the channel's bulk lane: its retries go back there.
        self._bulk_queue = MessageQueue(self.settings.required(f"{channel}_bulk_queue_url"))
        self._publisher = EventPublisher(self.settings.required("events_topic_arn"))
        # A notification with fallback channels goes back to dispatch when a delivery gives up.
        self._dispatch_queue = MessageQueue(self.settings.required("dispatch_queue_url"))
        self._policy = (policy or _backoff)(self.settings)
        self._processor = BatchProcessor(event_type=EventType.SQS)
        self._senders = ThreadPoolExecutor(
            max_workers=self.settings.send_concurrency, thread_name_prefix="send"
        )
        self._breakers = breaker_policy(self.settings)
        self._routes = (
            IntegrationRoutes(
                channel,
                integrations,
                provider_credentials,
                policy=self._breakers,
                max_age_seconds=self.settings.integration_cache_seconds,
                failover=failover,
            )
            if integrations is not None
            else None
        )

    def tenant_integrations(self, conn: Connection, tenant_id: str) -> list[Row]:
        """The tenant's own active integrations of the channel, by priority (none: it sends
        through the deployment's account)."""
        return self._routes.active(conn, tenant_id) if self._routes is not None else []

    def handle(self, event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        return process_partial_response(
            event=event,
            record_handler=self.send_record,
            processor=self._processor,
            context=context,
        )

    def send_record(self, record: SQSRecord) -> None:
        """Send the deliveries of one queue message (the record handler of `handle`)."""
        message = ChannelMessage.model_validate_json(record.body)
        plan = self._plan()
        routes = (
            self._routes.for_tenant(self.db.connection(), message.tenant_id)
            if self._routes is not None
            else None
        )
        if routes is None and self.channel in DEFAULT_ACCOUNTS:
            # The deployment's account, behind the breaker every worker shares (read now).
            circuit = default_circuit(self.db.connection(), self.channel, self._breakers)
            routes = [Route(provider=self._provider, send=plan.send, circuit=circuit)]
        outcome = deliver_batch(
            self.db,
            message,
            provider=self._provider,
            compose=plan.compose,
            send=plan.send,
            retry_queue=self._bulk_queue if message.lane == "bulk" else self._queue,
            publisher=self._publisher,
            dispatch_queue=self._dispatch_queue,
            policy=self._policy,
            lease_seconds=self.settings.claim_lease_seconds,
            senders=self._senders,
            describe=plan.describe,
            on_targets=plan.on_targets,
            routes=routes,
        )
        for change in outcome.circuit_changes:
            name = "CircuitOpened" if change["type"] == OPENED else "CircuitClosed"
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        if outcome.circuit_changes:
            metrics.flush_metrics()
        logger.info(
            f"{self.channel} batch",
            extra={
                "sent": len(outcome.sent),
                "retrying": len(outcome.retrying),
                "failed": len(outcome.failed),
                "not_claimed": outcome.not_claimed,
            },
        )


def _backoff(settings: Settings) -> RetryPolicy:
    return RetryPolicy(max_attempts=settings.max_attempts, base_seconds=settings.retry_base_seconds)
