"""`herald dev`: the whole of Herald on one machine, running the real handlers.

Embedded PostgreSQL, moto for SQS/SNS/Scheduler/Secrets Manager, an API Gateway emulator,
SQS event-source-mapping pollers, a Scheduler emulator and a provider simulator.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from local.aws_resources import (
    REGION,
    SCHEDULE_GROUP,
    SCHEDULER_ROLE_ARN,
    Resources,
    free_port,
    new_links_secret,
    provision,
)
from local.functions import function_environment, import_handlers
from local.gateway import Gateway
from local.http import DevRequest, DevResponse
from local.lambda_context import LocalFunction
from local.pollers import QueuePoller
from local.scheduler import SchedulerEmulator
from local.simulator import ProviderSimulator
from local.simulator.webhook_sink import PREFIX as WEBHOOK_SINK_PREFIX
from local.simulator.webhook_sink import WebhookSink

logger = logging.getLogger("herald.dev")

DEV_TENANT_ID = "ten_dev"
SWEEP_INTERVAL_SECONDS = 30


@dataclass
class RuntimeConfig:
    home: Path
    port: int = 8000
    host: str = "127.0.0.1"
    database_url: str | None = None
    dev_api_key: str | None = None
    # Real SendGrid instead of the simulator, when given.
    sendgrid_api_key: str | None = None
    sendgrid_webhook_public_key: str | None = None
    simulator_latency_ms: int = 0

    @classmethod
    def from_environment(cls) -> RuntimeConfig:
        env = os.environ
        return cls(
            home=Path(env.get("HERALD_HOME", ".herald")).resolve(),
            port=int(env.get("HERALD_PORT", "8000")),
            database_url=env.get("DATABASE_URL"),
            dev_api_key=env.get("HERALD_DEV_API_KEY"),
            sendgrid_api_key=env.get("SENDGRID_API_KEY"),
            sendgrid_webhook_public_key=env.get("SENDGRID_WEBHOOK_PUBLIC_KEY"),
            simulator_latency_ms=int(env.get("HERALD_SIMULATOR_LATENCY_MS", "0")),
        )


@dataclass
class Runtime:
    config: RuntimeConfig
    database_url: str = ""
    api_key: str = ""
    resources: Resources | None = None
    simulator: ProviderSimulator | None = None
    gateway: Gateway | None = None
    webhook_sink: WebhookSink = field(default_factory=WebhookSink)
    _stoppables: list[Any] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _postgres: Any = None

    def start(self) -> None:
        """Start every part; returns once the API answers on its port."""
        self.config.home.mkdir(parents=True, exist_ok=True)
        self.database_url = self._start_database()
        from herald.db.migrate import migrate

        applied = migrate(self.database_url)
        if applied:
            logger.info("migrations applied: %s", ", ".join(applied))
        self._start_aws()
        simulator_key = "SG.local." + secrets.token_urlsafe(24)
        self.simulator = ProviderSimulator(
            sendgrid_api_key=simulator_key, latency_ms=self.config.simulator_latency_ms
        )
        self.simulator.start()
        self._stoppables.append(self.simulator)
        self.resources = provision(
            self._provider_secret(self.simulator, simulator_key),
            links_secret=self._links_secret(),
        )
        os.environ.update(
            function_environment(
                self.resources,
                self.database_url,
                sendgrid_api_host=None if self.config.sendgrid_api_key else self.simulator.url,
                public_base_url=f"http://{self.config.host}:{self.config.port}",
                log_level=os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
            )
        )
        handlers = import_handlers()
        self.api_key = self._seed_dev_tenant()
        self._restore_schedules()

        sqs = boto3.client("sqs", region_name=REGION)
        for queue, module, name in (
            (self.resources.dispatch, "functions.dispatch.handler", "dispatch"),
            (self.resources.email, "functions.workers.email_worker", "email-worker"),
            (
                self.resources.webhook_events,
                "functions.workers.webhook_events_worker",
                "webhook-events-worker",
            ),
            (self.resources.webhook, "functions.workers.webhook_worker", "webhook-worker"),
        ):
            function = LocalFunction(name, handlers[module].handler, 60)
            poller = QueuePoller(sqs, queue.url, queue.arn, function)
            poller.start()
            self._stoppables.append(poller)
        scheduler = SchedulerEmulator(boto3.client("scheduler", region_name=REGION), sqs, "herald")
        scheduler.start()
        self._stoppables.append(scheduler)
        sweep_fn = LocalFunction("sweeper", handlers["functions.dispatch.sweeper"].handler, 60)
        threading.Thread(target=self._sweep_forever, args=(sweep_fn,), daemon=True).start()

        self.gateway = Gateway(
            self.config.host,
            self.config.port,
            routes=[
                (
                    "/v1/callbacks/",
                    LocalFunction("webhooks", handlers["functions.webhooks.handler"].handler, 10),
                ),
                ("/", LocalFunction("api", handlers["functions.api.handler"].handler, 10)),
            ],
            dev_routes={
                "/_dev/outbox": self._outbox_route,
                WEBHOOK_SINK_PREFIX: self.webhook_sink.route,
            },
        )
        self.gateway.start()
        self._stoppables.append(self.gateway)
        self.simulator.set_callback_base_url(self.gateway.url)

    def stop(self) -> None:
        """Stop the parts in the reverse order of their start: no new requests first, then
        the pollers and the scheduler, whose invocations in flight finish while moto and the
        simulator still answer them, then those, then PostgreSQL."""
        self._stop.set()
        # Every poller finishes its current receive (up to a second) at the same time,
        # rather than one after the other.
        for part in self._stoppables:
            if isinstance(part, QueuePoller):
                part.request_stop()
        for part in reversed(self._stoppables):
            try:
                part.stop()
            except Exception:
                logger.exception("stopping %s", type(part).__name__)
        self._stoppables.clear()
        if self._postgres is not None:
            self._postgres.cleanup()
            self._postgres = None

    def wait(self) -> None:
        """Block until SIGINT/SIGTERM, then stop everything."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self._stop.set())
        self._stop.wait()
        self.stop()

    # -- parts --------------------------------------------------------------------------

    def _start_database(self) -> str:
        if self.config.database_url:
            return self.config.database_url
        from local.postgres import start_embedded

        self._postgres, url = start_embedded(self.config.home / "pg")
        return url

    def _start_aws(self) -> None:
        from moto.server import ThreadedMotoServer

        port = free_port()
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        moto.start()
        self._stoppables.append(moto)
        # boto3 in this process (the handlers included) talks to moto, never to AWS.
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_SESSION_TOKEN": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
            }
        )

    def _provider_secret(self, simulator: ProviderSimulator, simulator_key: str) -> dict[str, str]:
        if self.config.sendgrid_api_key:
            return {
                "sendgrid_api_key": self.config.sendgrid_api_key,
                "sendgrid_webhook_public_key": self.config.sendgrid_webhook_public_key or "",
            }
        return {
            "sendgrid_api_key": simulator_key,
            "sendgrid_webhook_public_key": simulator.sendgrid_public_key,
        }

    def _links_secret(self) -> str:
        """The link-signing key, kept: links sent before a restart still open after it."""
        return self._kept_secret("links-secret", None, new_links_secret)

    def _kept_secret(self, name: str, given: str | None, generate: Callable[[], str]) -> str:
        """`given`, else the value kept in the home directory, else a new one; kept (0600)."""
        path = self.config.home / name
        value = given or (path.read_text().strip() if path.exists() else "") or generate()
        path.write_text(value + "\n")
        path.chmod(0o600)
        return value

    def _seed_dev_tenant(self) -> str:
        from herald.db.connection import Database
        from herald.services.auth import generate_key
        from herald.services.tenants import ensure_tenant_with_key

        key = self._kept_secret("dev-api-key", self.config.dev_api_key, generate_key)
        db = Database(self.database_url)
        try:
            ensure_tenant_with_key(db, DEV_TENANT_ID, "Local development", key)
        finally:
            db.close()
        return key

    def _restore_schedules(self) -> None:
        """Re-create the schedules of sends still ahead: moto forgets them when it stops.
        Sends that fell due while Herald was down go to the dispatch queue at once (the
        sweeper would, but only after its two-minute grace)."""
        from herald.aws.scheduler import OneTimeScheduler
        from herald.aws.sqs import MessageQueue
        from herald.db.connection import Database
        from herald.models.messages import DispatchMessage

        assert self.resources is not None
        scheduler = OneTimeScheduler(
            SCHEDULE_GROUP, SCHEDULER_ROLE_ARN, self.resources.dispatch.arn
        )
        db = Database(self.database_url)
        try:
            with db.transaction() as conn:
                pending = conn.execute(
                    "SELECT id, tenant_id, send_at, schedule_name FROM notifications"
                    " WHERE status = 'scheduled'"
                ).fetchall()
        finally:
            db.close()
        now = datetime.now(UTC)
        overdue = []
        for row in pending:
            message = DispatchMessage(tenant_id=row["tenant_id"], notification_id=row["id"])
            if row["send_at"] <= now:
                overdue.append(message)
                continue
            scheduler.schedule(row["schedule_name"], row["send_at"], message.model_dump_json())
        MessageQueue(self.resources.dispatch.url).send_many(overdue)
        if pending:
            logger.info("restored %d schedules", len(pending))

    def _outbox_route(self, request: DevRequest) -> DevResponse:
        assert self.simulator is not None
        if request.method == "DELETE":
            self.simulator.outbox.clear()
            return DevResponse(204, b"")
        if request.method == "GET":
            return DevResponse(200, self.simulator.outbox.list())
        return DevResponse(
            405, {"error": {"code": "METHOD_NOT_ALLOWED", "message": "GET or DELETE"}}
        )

    def _sweep_forever(self, sweeper: LocalFunction) -> None:
        # EventBridge runs the sweeper every few minutes in AWS; locally it runs at start
        # too, so a restart picks up what an interrupted run left behind.
        while not self._stop.is_set():
            try:
                sweeper.invoke({"source": "herald.local", "detail-type": "Scheduled Event"})
            except Exception:
                logger.exception("sweeper failed")
            self._stop.wait(SWEEP_INTERVAL_SECONDS)
