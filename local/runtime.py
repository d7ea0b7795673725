"""`herald dev`: the whole of Herald on one machine, running the real handlers.

Embedded PostgreSQL, moto for SQS/SNS/Scheduler/Secrets Manager, an API Gateway emulator,
SQS event-source-mapping pollers, a Scheduler emulator and a provider simulator.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3

from local.aws_resources import (
    REGION,
    SCHEDULE_GROUP,
    SCHEDULER_ROLE_ARN,
    SWEEPER_ARN,
    Resources,
    free_port,
    new_links_secret,
    provision,
    sns_publisher,
)
from local.functions import (
    CHANNEL_WORKER_MODULES,
    another_environment,
    function_environment,
    import_handlers,
)
from local.gateway import Gateway
from local.http import DevRequest, DevResponse
from local.lambda_context import LocalFunction
from local.pollers import PollerGroup, QueuePoller
from local.scheduler import SchedulerEmulator
from local.simulator import Outbox, ProviderSimulator
from local.simulator.webhook_sink import PREFIX as WEBHOOK_SINK_PREFIX
from local.simulator.webhook_sink import WebhookSink
from local.websocket import WebSocketGateway

logger = logging.getLogger("herald.dev")

DEV_TENANT_ID = "ten_dev"
# The numbers Herald sends from through the Twilio simulator.
SIMULATED_SMS_FROM = "+15005550006"
SIMULATED_WHATSAPP_FROM = "whatsapp:+14155238886"


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
    # Real Twilio instead of the simulator, when given (with a From number or a service).
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_whatsapp_from: str | None = None
    # The inbox's realtime WebSocket, beside the HTTP API (0: the API's port + 1).
    websocket_port: int = 0

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
            twilio_account_sid=env.get("TWILIO_ACCOUNT_SID"),
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN"),
            twilio_from_number=env.get("TWILIO_FROM_NUMBER"),
            twilio_messaging_service_sid=env.get("TWILIO_MESSAGING_SERVICE_SID"),
            twilio_whatsapp_from=env.get("TWILIO_WHATSAPP_FROM"),
            websocket_port=int(env.get("HERALD_WEBSOCKET_PORT", "0")),
        )


@dataclass
class Runtime:
    config: RuntimeConfig
    database_url: str = ""
    api_key: str = ""
    resources: Resources | None = None
    simulator: ProviderSimulator | None = None
    gateway: Gateway | None = None
    websocket: WebSocketGateway | None = None
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
        home = self.config.home
        self.simulator = ProviderSimulator(
            # Kept across restarts, as the outbox and the web push subscriptions are: what
            # was sent before a crash stays listed, and subscriptions (whose endpoints name
            # the simulator's port) still receive.
            port=self._kept_port("simulator-port"),
            outbox=Outbox(path=home / "outbox.jsonl"),
            sendgrid_api_key=simulator_key,
            latency_ms=self.config.simulator_latency_ms,
            twilio_auth_token=secrets.token_hex(16),
            web_push_subscriptions=home / "web-push-subscriptions.jsonl",
        )
        self.simulator.start()
        self._stoppables.append(self.simulator)
        from herald.services import vapid

        # Kept like the links secret: subscriptions made before a restart stay valid.
        vapid_secret = self._kept_secret("vapid-secret", None, new_links_secret)
        self.resources = provision(
            self._provider_secret(self.simulator, simulator_key),
            links_secret=self._links_secret(),
            vapid_secret=vapid_secret,
        )
        self.simulator.expect_vapid_key(vapid.public_key(vapid_secret))
        self.simulator.ses.publish_events_with(sns_publisher(self.resources.ses_events_topic_arn))
        websocket_port = self.config.websocket_port or self.config.port + 1
        management_port = free_port()
        os.environ.update(
            function_environment(
                self.resources,
                self.database_url,
                sendgrid_api_host=None if self.config.sendgrid_api_key else self.simulator.url,
                public_base_url=f"http://{self.config.host}:{self.config.port}",
                log_level=os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
                twilio_api_base_url=None if self.config.twilio_account_sid else self.simulator.url,
                simulator_url=self.simulator.url,
                websocket_url=f"ws://{self.config.host}:{websocket_port}",
                websocket_management_url=f"http://127.0.0.1:{management_port}",
            )
        )
        handlers = import_handlers()
        self.api_key = self._seed_dev_tenant()
        self._restore_schedules()

        sqs = boto3.client("sqs", region_name=REGION)
        pollers = []
        for queue, module, name in (
            (self.resources.dispatch, "functions.dispatch.handler", "dispatch"),
            (self.resources.email, "functions.workers.email_worker", "email-worker"),
            (self.resources.sms, "functions.workers.sms_worker", "sms-worker"),
            (self.resources.whatsapp, "functions.workers.whatsapp_worker", "whatsapp-worker"),
            (self.resources.push, "functions.workers.push_worker", "push-worker"),
            (self.resources.web_push, "functions.workers.web_push_worker", "web-push-worker"),
            (self.resources.in_app, "functions.workers.in_app_worker", "in-app-worker"),
            (
                self.resources.webhook_events,
                "functions.workers.webhook_events_worker",
                "webhook-events-worker",
            ),
            (self.resources.webhook, "functions.workers.webhook_worker", "webhook-worker"),
            (self.resources.ses_events, "functions.webhooks.ses_events", "ses-events"),
        ):
            function = LocalFunction(name, handlers[module].handler, 60)
            pollers.append(QueuePoller(sqs, queue.url, queue.arn, function))
        # Each channel's bulk lane: the same worker in an environment of its own (its second
        # event source mapping in AWS), so a batch draining never holds up the normal lane.
        for channel, module in CHANNEL_WORKER_MODULES.items():
            bulk = self.resources.bulk[channel]
            function = LocalFunction(
                f"{module.rsplit('.', 1)[-1]}-bulk",
                another_environment(handlers[module]).handler,
                60,
            )
            pollers.append(QueuePoller(sqs, bulk.url, bulk.arn, function))
        poller_group = PollerGroup(pollers)
        poller_group.start()
        self._stoppables.append(poller_group)
        sweeper = handlers["functions.dispatch.sweeper"]
        sweep_fn = LocalFunction("sweeper", sweeper.handler, 60)
        scheduler = SchedulerEmulator(
            boto3.client("scheduler", region_name=REGION),
            sqs,
            "herald",
            functions={SWEEPER_ARN: sweep_fn.invoke},
        )
        scheduler.start()
        self._stoppables.append(scheduler)
        self._recover_in_flight(sweeper)
        # As in AWS, sweeps then run on the one-time schedules work in flight arms.
        threading.Thread(target=self._sweep_once, args=(sweep_fn,), daemon=True).start()

        self.websocket = WebSocketGateway.started(
            self.config.host,
            websocket_port,
            management_port,
            handlers["functions.realtime.handler"].handler,
        )
        self._stoppables.append(self.websocket)
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
                "/_dev/twilio/inbound": self._twilio_inbound_route,
                "/_dev/web-push/subscriptions": self._web_push_subscription_route,
                "/_dev/fcm/projects/": self._fcm_project_route,
                "/_dev/providers/": self._provider_mode_route,
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
            from local.postgres import stop_embedded

            stop_embedded(self._postgres)
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

    def _provider_secret(self, simulator: ProviderSimulator, simulator_key: str) -> dict[str, Any]:
        # FCM always goes to the simulator locally, with its throwaway service account.
        if self.config.sendgrid_api_key:
            secret = {
                "sendgrid_api_key": self.config.sendgrid_api_key,
                "sendgrid_webhook_public_key": self.config.sendgrid_webhook_public_key or "",
            }
        else:
            secret = {
                "sendgrid_api_key": simulator_key,
                "sendgrid_webhook_public_key": simulator.sendgrid_public_key,
            }
        return {
            **secret,
            **self._twilio_secret(simulator),
            "fcm_service_account": simulator.fcm_service_account(),
        }

    def _twilio_secret(self, simulator: ProviderSimulator) -> dict[str, str]:
        config = self.config
        if config.twilio_account_sid:
            return {
                "twilio_account_sid": config.twilio_account_sid,
                "twilio_auth_token": config.twilio_auth_token or "",
                "twilio_from_number": config.twilio_from_number or "",
                "twilio_messaging_service_sid": config.twilio_messaging_service_sid or "",
                "twilio_whatsapp_from": config.twilio_whatsapp_from or "",
            }
        return {
            "twilio_account_sid": simulator.twilio.account_sid,
            "twilio_auth_token": simulator.twilio_auth_token,
            "twilio_from_number": SIMULATED_SMS_FROM,
            "twilio_whatsapp_from": SIMULATED_WHATSAPP_FROM,
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

    def _kept_port(self, name: str) -> int:
        """The port kept in the home directory when it is still free, else a new one (kept)."""
        path = self.config.home / name
        kept = path.read_text().strip() if path.exists() else ""
        port = int(kept) if kept.isdigit() and _port_is_free(int(kept)) else free_port()
        path.write_text(f"{port}\n")
        return port

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
        """Re-create the schedules of sends not yet dispatched: moto forgets them when it stops.

        Sends that fell due while Herald was down go to the dispatch queue at once, rather
        than waiting for the sweeper's grace.
        """
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

    def _recover_in_flight(self, sweeper: ModuleType) -> None:
        """Put back on the queues what was in flight when Herald last stopped: moto starts
        with empty queues, and no worker of an earlier run is alive to hold a delivery."""
        from herald.services.sweeper import recover

        result = recover(
            sweeper.db,
            sweeper.dispatch_queue,
            sweeper.channel_queues,
            policy=sweeper.policy,
            publisher=sweeper.publisher,
            bulk_queues=sweeper.bulk_queues,
        )
        if result.notifications_requeued or result.deliveries_requeued:
            logger.info(
                "recovered %d notifications and %d deliveries in flight",
                result.notifications_requeued,
                result.deliveries_requeued,
            )

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

    def _twilio_inbound_route(self, request: DevRequest) -> DevResponse:
        """`POST /_dev/twilio/inbound {"from", "to", "body"}`: a user's message arrives; with
        `"account_sid"` and `"webhook_url"`, at a number of a tenant's own Twilio account,
        posted to the webhook URL set on it (a path is taken under Herald's URL)."""
        assert self.simulator is not None
        if request.method != "POST":
            return DevResponse(405, {"error": {"code": "METHOD_NOT_ALLOWED", "message": "POST"}})
        try:
            given = json.loads(request.body or b"{}")
        except ValueError:
            given = None
        fields = ("from", "to", "body", "account_sid", "webhook_url")
        if not isinstance(given, dict) or not all(
            isinstance(given.get(f, ""), str) for f in fields
        ):
            given = None
        if given is None or not given.get("from") or "body" not in given:
            message = (
                'expected {"from": "+1…" | "whatsapp:+1…", "to": "…", "body": "…"'
                ', optionally "account_sid": "AC…", "webhook_url": "…"}'
            )
            return _dev_invalid(message)
        sender = given["from"]
        default_to = (
            SIMULATED_WHATSAPP_FROM if sender.startswith("whatsapp:") else SIMULATED_SMS_FROM
        )
        try:
            status, twiml = self.simulator.twilio.inbound(
                sender,
                given.get("to") or default_to,
                given["body"],
                account_sid=given.get("account_sid") or None,
                webhook_url=given.get("webhook_url") or None,
            )
        except ValueError as exc:
            return _dev_invalid(str(exc))
        return DevResponse(200, {"herald_status": status, "twiml": twiml})

    def _web_push_subscription_route(self, request: DevRequest) -> DevResponse:
        """`POST /_dev/web-push/subscriptions` `{"behaviour", "application_server_key"?}`: a
        subscription with real keys, made with that VAPID public key (default: the
        deployment's)."""
        assert self.simulator is not None
        if request.method != "POST":
            return DevResponse(405, {"error": {"code": "METHOD_NOT_ALLOWED", "message": "POST"}})
        try:
            body = json.loads(request.body or b"{}")
            if not isinstance(body, dict):
                raise ValueError('expected {"behaviour": "ok", "application_server_key": "…"}')
            key = body.get("application_server_key")
            subscription = self.simulator.create_web_push_subscription(
                str(body.get("behaviour", "ok")), None if key is None else str(key)
            )
        except ValueError as exc:
            return DevResponse(
                400, {"error": {"code": "VALIDATION_ERROR", "message": str(exc), "details": []}}
            )
        return DevResponse(201, subscription)

    def _fcm_project_route(self, request: DevRequest) -> DevResponse:
        """`POST /_dev/fcm/projects/{project_id}`: a simulated Firebase project's service
        account (for an `fcm` integration) and a registration token of a device of its app."""
        assert self.simulator is not None
        if request.method != "POST":
            return DevResponse(405, {"error": {"code": "METHOD_NOT_ALLOWED", "message": "POST"}})
        project_id = request.path.removeprefix("/_dev/fcm/projects/")
        try:
            account = self.simulator.fcm_service_account(project_id)
        except ValueError as exc:
            return DevResponse(
                400, {"error": {"code": "VALIDATION_ERROR", "message": str(exc), "details": []}}
            )
        return DevResponse(
            201,
            {
                "service_account": account,
                "registration_token": self.simulator.fcm_registration_token(project_id),
            },
        )

    def _provider_mode_route(self, request: DevRequest) -> DevResponse:
        """`POST /_dev/providers/{provider}` `{"mode": "down"|"slow"|"up", "account"?}`: make a
        simulated provider account fail (503), crawl, or recover."""
        assert self.simulator is not None
        if request.method != "POST":
            return DevResponse(405, {"error": {"code": "METHOD_NOT_ALLOWED", "message": "POST"}})
        provider = request.path.removeprefix("/_dev/providers/")
        try:
            body = json.loads(request.body or b"{}")
            if not isinstance(body, dict) or not isinstance(body.get("account", ""), str):
                raise ValueError('expected {"mode": "down"|"slow"|"up", "account": "…"}')
            self.simulator.modes.set(provider, str(body.get("mode")), body.get("account"))
        except ValueError as exc:
            return DevResponse(
                400, {"error": {"code": "VALIDATION_ERROR", "message": str(exc), "details": []}}
            )
        return DevResponse(
            200, {"provider": provider, "mode": body["mode"], "account": body.get("account")}
        )

    def _sweep_once(self, sweeper: LocalFunction) -> None:
        # moto forgets the sweep schedules when it stops: one sweep at start picks up what an
        # interrupted run left behind, and renews the schedule while any of it is pending.
        try:
            sweeper.invoke({"source": "herald.local", "detail-type": "Start"})
        except Exception:
            logger.exception("sweeper failed")


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        # As the HTTP server binds: a port whose last connections wait out TIME_WAIT (the
        # previous run was killed) is free to listen on.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _dev_invalid(message: str) -> DevResponse:
    return DevResponse(
        400, {"error": {"code": "VALIDATION_ERROR", "message": message, "details": []}}
    )
