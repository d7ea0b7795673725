"""Names, sizes and timeouts of the deployed resources, in one place.

Everything else in `infra/` reads these; a value that appears twice in the stack lives here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_logs as logs

REPO_ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = REPO_ROOT / "pyproject.toml"
FUNCTIONS_ROOT = REPO_ROOT / "functions"
CORE_LAYER_DIR = REPO_ROOT / "layers" / "core"

STACK_NAME = "Herald"
# Prefix of every physical name (queues, functions, topic, secret, schedule group): one Herald
# per account and region, with names an operator recognises in the console.
NAME_PREFIX = "herald"

# Lambda runtime: Python 3.13 on Graviton (ARM64 costs ~20% less per GB-second).
LAMBDA_PYTHON_VERSION = "3.13"
# The python3.13 runtime runs on Amazon Linux 2023 (glibc 2.34): every manylinux wheel built for
# glibc 2.17 up to 2.34 loads there. pip does not infer the older tags from a newer one.
LAMBDA_WHEEL_PLATFORMS = (
    "manylinux2014_aarch64",
    *(f"manylinux_2_{minor}_aarch64" for minor in range(17, 35)),
)
# Lambda's limit on a function's unzipped code plus all its layers.
LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
METRICS_NAMESPACE = "Herald"
POWERTOOLS_ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": NAME_PREFIX,
    "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
    "POWERTOOLS_LOG_LEVEL": "INFO",
}


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function: its name, handler module path (a fixed contract) and size."""

    name: str
    handler: str
    # Directory under functions/ shipped as the function's code.
    code_dir: str
    timeout: Duration
    memory_mb: int


# 29 s, under API Gateway's 30: the first request after an idle spell waits for Aurora to
# resume from auto-pause (herald.db.connection.RESUME_WAIT_SECONDS).
API_FUNCTION = FunctionSpec(
    "api", "functions.api.handler.handler", "api", Duration.seconds(29), 512
)
WEBHOOKS_FUNCTION = FunctionSpec(
    "webhooks", "functions.webhooks.handler.handler", "webhooks", Duration.seconds(10), 256
)
DISPATCH_FUNCTION = FunctionSpec(
    "dispatch", "functions.dispatch.handler.handler", "dispatch", Duration.seconds(60), 512
)
SWEEPER_FUNCTION = FunctionSpec(
    "sweeper", "functions.dispatch.sweeper.handler", "dispatch", Duration.seconds(60), 256
)
EMAIL_WORKER_FUNCTION = FunctionSpec(
    "email-worker", "functions.workers.email_worker.handler", "workers", Duration.seconds(60), 512
)
SMS_WORKER_FUNCTION = FunctionSpec(
    "sms-worker", "functions.workers.sms_worker.handler", "workers", Duration.seconds(60), 512
)
WHATSAPP_WORKER_FUNCTION = FunctionSpec(
    "whatsapp-worker",
    "functions.workers.whatsapp_worker.handler",
    "workers",
    Duration.seconds(60),
    512,
)
PUSH_WORKER_FUNCTION = FunctionSpec(
    "push-worker", "functions.workers.push_worker.handler", "workers", Duration.seconds(60), 512
)
WEB_PUSH_WORKER_FUNCTION = FunctionSpec(
    "web-push-worker",
    "functions.workers.web_push_worker.handler",
    "workers",
    Duration.seconds(60),
    512,
)
IN_APP_WORKER_FUNCTION = FunctionSpec(
    "in-app-worker", "functions.workers.in_app_worker.handler", "workers", Duration.seconds(60), 512
)
REALTIME_FUNCTION = FunctionSpec(
    "realtime", "functions.realtime.handler.handler", "realtime", Duration.seconds(10), 256
)
MIGRATIONS_FUNCTION = FunctionSpec(
    "migrations", "functions.migrations.handler.handler", "migrations", Duration.seconds(300), 256
)

# Queues: the architecture asks for a visibility timeout of at least 6x the consumer's timeout,
# so a message is not redelivered while a (retried) batch is still being processed.
VISIBILITY_TIMEOUT_FACTOR = 6
MAX_RECEIVE_COUNT = 5
DEAD_LETTER_RETENTION = Duration.days(14)
SQS_BATCH_SIZE = 10
DISPATCH_QUEUE_NAME = f"{NAME_PREFIX}-dispatch"
EMAIL_QUEUE_NAME = f"{NAME_PREFIX}-email"
SMS_QUEUE_NAME = f"{NAME_PREFIX}-sms"
WHATSAPP_QUEUE_NAME = f"{NAME_PREFIX}-whatsapp"
IN_APP_QUEUE_NAME = f"{NAME_PREFIX}-in-app"
# In-app batches are a few statements each: few workers keep up with many sends.
IN_APP_MAX_CONCURRENCY = 3
# The inbox WebSocket API: one stage; throttled like the HTTP API.
WEBSOCKET_STAGE_NAME = "live"
WEBSOCKET_THROTTLE_RATE = 100
WEBSOCKET_THROTTLE_BURST = 200
# Concurrency caps per event source mapping keep the database connection count bounded.
DISPATCH_MAX_CONCURRENCY = 5
EMAIL_MAX_CONCURRENCY = 8
# Each channel's bulk lane (batches, low-priority sends) is consumed by the channel's worker
# through a second mapping capped at SQS's minimum: the rest of the worker's reserved
# concurrency (infra/profile.py) stays with the normal lane, whatever a batch queues.
BULK_MAX_CONCURRENCY = 2
# Twilio's default throughput is per sender (about 1 SMS a second for a long code): more
# concurrent workers would only collect 429s.
TEXT_MAX_CONCURRENCY = 3
# Waiting a little to fill a batch means fewer invocations for the same number of emails.
EMAIL_MAX_BATCHING_WINDOW = Duration.seconds(2)
PUSH_QUEUE_NAME = f"{NAME_PREFIX}-push"
WEB_PUSH_QUEUE_NAME = f"{NAME_PREFIX}-web-push"
# Each worker environment sends 16 at a time, so 5 environments make 80 concurrent sends; more
# would not fit the `small` profile's connection budget (infra/profile.py).
PUSH_MAX_CONCURRENCY = 3
WEB_PUSH_MAX_CONCURRENCY = 3

# Database: Aurora PostgreSQL Serverless v2. 16.3+ supports a minimum of 0 ACU (auto-pause).
DATABASE_NAME = "herald"
DATABASE_PORT = 5432
DATABASE_ADMIN_USER = "herald_admin"
DATABASE_MAX_ACU = 4
DATABASE_AUTO_PAUSE_AFTER = Duration.minutes(10)
DATABASE_SECRET_ROTATION = Duration.days(30)
DATABASE_BACKUP_RETENTION = Duration.days(7)

# Networking: two AZs (Aurora needs two); the NAT (gateway or instance) is the profile's.
MAX_AZS = 2

# API Gateway stage throttling: a ceiling on what a leaked key or a runaway client can cost.
API_THROTTLE_RATE = 100
API_THROTTLE_BURST = 200
CALLBACKS_ROUTE = "/v1/callbacks/{proxy+}"

SCHEDULE_GROUP_NAME = NAME_PREFIX
EVENTS_TOPIC_NAME = f"{NAME_PREFIX}-events"
PROVIDER_SECRET_NAME = f"{NAME_PREFIX}/providers"
# Keys of the provider-credentials secret (JSON); see herald.settings.Settings.provider_secret_id.
PROVIDER_SECRET_KEYS = (
    "sendgrid_api_key",
    "sendgrid_webhook_public_key",
    "twilio_account_sid",
    "twilio_auth_token",
    "twilio_from_number",
    "twilio_messaging_service_sid",
    "twilio_whatsapp_from",
    "fcm_service_account",
)
# The HMAC key of end-user links (unsubscribe, preference center): random, generated by
# Secrets Manager at the first deploy; see herald.settings.Settings.links_secret_id.
LINKS_SECRET_NAME = f"{NAME_PREFIX}/links"
LINKS_SECRET_LENGTH = 64
# What the VAPID key pair of web push is derived from (herald.services.vapid): random,
# generated at the first deploy, never in an environment variable.
VAPID_SECRET_NAME = f"{NAME_PREFIX}/vapid"
VAPID_SECRET_LENGTH = 64

EMAIL_FROM_CONTEXT_KEY = "emailFrom"
DEFAULT_EMAIL_FROM = "notifications@example.com"

# Outbound webhooks: status events fanned out to customer endpoints. Each POST may take 15 s
# (sent 16 at a time); a batch of ten events to a few endpoints each fits in 120 s.
WEBHOOK_EVENTS_WORKER_FUNCTION = FunctionSpec(
    "webhook-events-worker",
    "functions.workers.webhook_events_worker.handler",
    "workers",
    Duration.seconds(120),
    512,
)
WEBHOOK_EVENTS_QUEUE_NAME = f"{NAME_PREFIX}-webhook-events"
WEBHOOK_EVENTS_MAX_CONCURRENCY = 5
# The `webhook` channel: signed POSTs to recipients' URLs, 15 s each, 16 at a time.
WEBHOOK_WORKER_FUNCTION = FunctionSpec(
    "webhook-worker",
    "functions.workers.webhook_worker.handler",
    "workers",
    Duration.seconds(120),
    512,
)
WEBHOOK_QUEUE_NAME = f"{NAME_PREFIX}-webhook"
WEBHOOK_MAX_CONCURRENCY = 3

# Integrations (a tenant's own provider accounts): one secret each under this prefix, the
# only secrets the API may create, change or delete.
INTEGRATION_SECRET_PREFIX = f"{NAME_PREFIX}/integrations"

# Amazon SES: the configuration set every SES send names, whose events (delivery, bounce,
# complaint, open, click) go to an SNS topic feeding the SES-events queue and its function.
SES_CONFIGURATION_SET_NAME = NAME_PREFIX
SES_EVENTS_TOPIC_NAME = f"{NAME_PREFIX}-ses-events"
SES_EVENTS_QUEUE_NAME = f"{NAME_PREFIX}-ses-events"
SES_EVENTS_FUNCTION = FunctionSpec(
    "ses-events", "functions.webhooks.ses_events.handler", "webhooks", Duration.seconds(30), 256
)
SES_EVENTS_MAX_CONCURRENCY = 2
