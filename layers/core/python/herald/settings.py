"""Typed settings, read from the environment once per execution environment (cold start).

Handlers build a `Settings` and pass what services need; services never read `os.environ`.
Every variable is prefixed `HERALD_`, except `DATABASE_URL`, the conventional name.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HERALD_", extra="ignore", frozen=True)

    # Database: either a full URL (local runtime, tests) or, in AWS, the RDS Proxy endpoint
    # plus the Secrets Manager secret that holds the database credentials.
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "HERALD_DATABASE_URL")
    )
    database_secret_arn: str | None = None
    database_host: str | None = None
    database_name: str = "herald"
    # psycopg server-side prepared statements break behind RDS Proxy; None disables them.
    database_prepare_threshold: int | None = None

    dispatch_queue_url: str | None = None
    dispatch_queue_arn: str | None = None
    email_queue_url: str | None = None
    events_topic_arn: str | None = None

    schedule_group: str = "herald"
    scheduler_role_arn: str | None = None

    # Secrets Manager secret (JSON) with provider credentials:
    # {"sendgrid_api_key": "...", "sendgrid_webhook_public_key": "..."}
    provider_secret_id: str | None = None
    sendgrid_api_host: str = "https://api.sendgrid.com"
    email_from: str = "notifications@example.com"
    email_from_name: str = "Herald"

    # Public base URL of the API, used in links Herald puts into messages.
    public_base_url: str = "http://127.0.0.1:8000"
    # Secrets Manager secret (a random string of 32+ bytes): the HMAC key that signs the
    # unsubscribe and preference-center links in messages.
    links_secret_id: str | None = None

    # Delivery retries: attempts per delivery and the first backoff step (doubling after).
    max_attempts: int = 5
    retry_base_seconds: float = 30
    # How long a worker owns a delivery it claimed (longer than a worker invocation).
    claim_lease_seconds: int = 120
    # Provider calls in flight at once per worker execution environment.
    send_concurrency: int = 16

    # Outbound webhooks. The webhook-events queue takes the status events the SNS topic
    # fans out to it, and the messages of tests, replays and retries.
    webhook_events_queue_url: str | None = None
    # Seconds before each attempt of a message (Svix's schedule: immediately, 5 s, 5 min,
    # 30 min, 2 h, 5 h, 10 h, 10 h); after the last, the message has failed. Tests shorten it.
    webhook_retry_schedule: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    # An endpoint whose every attempt failed for this long is disabled.
    webhook_disable_after_seconds: int = 5 * 24 * 3600
    # The local runtime only: let webhooks reach its sink on http://127.0.0.1.
    webhook_allow_local_sink: bool = False
    # The `webhook` channel's queue.
    webhook_queue_url: str | None = None

    def required(self, name: str) -> str:
        """A setting this function cannot run without: fail at cold start, naming it."""
        value = getattr(self, name)
        if not value:
            raise ValueError(f"HERALD_{name.upper()} must be set for this function")
        return str(value)
