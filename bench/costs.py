"""What a delivery costs in AWS, from what the benchmark measures, and the monthly bill per profile.

The benchmark counts, for single-recipient notifications sent through the real handlers:
Lambda invocations and their durations per function, and every AWS API call the handlers and
the event-source-mapping pollers make (botocore event hooks: SQS, SNS, Scheduler, Secrets
Manager). Prices are us-east-1 list prices (ARM Lambda, HTTP API, standard SQS, Aurora
Standard); what the benchmark cannot measure is an assumption stated beside its price.
docs/infrastructure.md quotes the table this prints.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

HOURS_PER_MONTH = 730

# -- list prices (us-east-1) -------------------------------------------------------------------
LAMBDA_GB_SECOND = 0.0000133334  # Arm
LAMBDA_REQUEST = 0.20 / 1e6
HTTP_API_REQUEST = 1.00 / 1e6
SQS_REQUEST = 0.40 / 1e6  # standard queue, per 64 KB chunk
SNS_PUBLISH = 0.50 / 1e6  # per 64 KB chunk; deliveries to the subscribers are theirs
SCHEDULER_INVOCATION = 1.00 / 1e6
SECRETS_MANAGER_SECRET_MONTH = 0.40
SECRETS_MANAGER_CALL = 0.05 / 1e4
AURORA_ACU_HOUR = 0.12
AURORA_IO_REQUEST = 0.20 / 1e6
AURORA_STORAGE_GB_MONTH = 0.10
RDS_PROXY_ACU_HOUR = 0.015
RDS_PROXY_MIN_ACU = 8  # a proxy on Serverless v2 bills at least 8 ACUs
NAT_GATEWAY_HOUR = 0.045
NAT_GATEWAY_GB = 0.045
T4G_NANO_HOUR = 0.0042
GP3_GB_MONTH = 0.08
PUBLIC_IPV4_HOUR = 0.005  # the NAT gateway's Elastic IP or the NAT instance's address
CLOUDWATCH_LOGS_GB = 0.50
CLOUDWATCH_ALARM_MONTH = 0.10
XRAY_TRACE = 5.00 / 1e6

# -- assumptions (what a benchmark on one machine cannot measure) ------------------------------
SECRETS = 3
ALARMS = 2
NAT_INSTANCE_VOLUME_GB = 8
DATABASE_STORAGE_GB = 1
# Lambda's SQS pollers long-poll (20 s) even when the queues are empty: about 5 pollers per
# queue, 3 receives a minute each, on 2 queues.
IDLE_POLLING_REQUESTS_MONTH = 2 * 5 * 3 * 60 * HOURS_PER_MONTH
# Aurora I/O per delivery (inserts, status updates, history rows, their indexes and WAL).
AURORA_IOS_PER_DELIVERY = 20
# CloudWatch Logs: Lambda's START/END/REPORT lines plus Herald's structured lines.
LOG_BYTES_PER_INVOCATION = 1_000
# Through a NAT gateway every AWS API call and provider call is processed (billed per GB).
BYTES_PER_API_CALL = 4_000
BYTES_PER_PROVIDER_CALL = 8_000
# SendGrid posts its Event Webhook in batches; a delivery gets about 2 events (processed,
# delivered), and a post carries about 100.
EVENTS_PER_DELIVERY = 2
EVENTS_PER_CALLBACK_POST = 100
# Aurora compute while traffic flows: spread over a month, 1 million deliveries (one every
# 2.6 s) keep it from pausing at its 0.5 ACU floor; 10 million average about 1 ACU.
AURORA_ACU_UNDER_LOAD = {1_000_000: 0.5, 10_000_000: 1.0}
# Every function has X-Ray active tracing; the default sampling (1 request a second, then 5%)
# keeps about one trace per delivery at these rates.
TRACES_PER_DELIVERY = 1.0


@dataclass
class Meter:
    """Counts Lambda invocations (with durations) and AWS API calls while attached."""

    invocations: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    recording: bool = False

    def wrap(self, name: str, handler: Callable[..., Any]) -> Callable[..., Any]:
        def metered(event: Any, context: Any) -> Any:
            started = time.perf_counter()
            try:
                return handler(event, context)
            finally:
                if self.recording:
                    self.invocations[name] += 1
                    self.seconds[name] = self.seconds.get(name, 0.0) + (
                        time.perf_counter() - started
                    )

        return metered

    def attach(self, session: Any) -> None:
        """Count the API calls of every client `session` (a botocore session) makes from now."""
        session.register("before-call", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        if self.recording:
            self.calls[f"{model.service_model.service_name}:{model.name}"] += 1

    def start(self) -> None:
        self.invocations.clear()
        self.seconds.clear()
        self.calls.clear()
        self.recording = True

    def stop(self) -> None:
        self.recording = False

    def calls_of(self, service: str) -> int:
        return sum(count for key, count in self.calls.items() if key.startswith(f"{service}:"))


@dataclass(frozen=True)
class PerDelivery:
    """What one delivery uses, as measured."""

    invocations: Mapping[str, float]  # function -> invocations per delivery
    gb_seconds: float
    sqs_requests: float
    sns_requests: float
    other_api_calls: float  # scheduler, secrets manager
    secrets_manager_calls: float
    api_requests: float  # HTTP API requests (sends, callbacks)


def per_delivery(
    meter: Meter,
    deliveries: int,
    memory_mb: Mapping[str, int],
    *,
    webhook_events: int,
) -> PerDelivery:
    """Per-delivery use from one metered run of `deliveries` single-recipient notifications.

    Lambda bills each invocation's duration rounded up to the millisecond; the callback post
    is scaled from the one measured (`webhook_events` events) to SendGrid's batching.
    """
    invocations: dict[str, float] = {}
    gb_seconds = 0.0
    for name, count in meter.invocations.items():
        duration = meter.seconds[name] / count
        if name == "webhooks":
            posts = deliveries * EVENTS_PER_DELIVERY / EVENTS_PER_CALLBACK_POST
            duration *= EVENTS_PER_CALLBACK_POST / webhook_events
            invocations[name] = posts / deliveries
        else:
            invocations[name] = count / deliveries
        billed = math.ceil(duration * 1000) / 1000
        gb_seconds += invocations[name] * billed * memory_mb[name] / 1024
    secrets = meter.calls_of("secretsmanager")
    return PerDelivery(
        invocations=invocations,
        gb_seconds=gb_seconds,
        sqs_requests=meter.calls_of("sqs") / deliveries,
        sns_requests=meter.calls_of("sns") / deliveries,
        other_api_calls=(meter.calls_of("scheduler") + secrets) / deliveries,
        secrets_manager_calls=secrets / deliveries,
        api_requests=invocations.get("api", 0.0) + invocations.get("webhooks", 0.0),
    )


def variable_cost_per_million(use: PerDelivery, *, nat_gateway: bool) -> dict[str, float]:
    """Dollars per million deliveries, by item (compute of the database excepted)."""
    million = 1e6
    invocations = sum(use.invocations.values())
    api_calls = use.sqs_requests + use.sns_requests + use.other_api_calls
    costs = {
        "Lambda": million * (use.gb_seconds * LAMBDA_GB_SECOND + invocations * LAMBDA_REQUEST),
        "API Gateway": million * use.api_requests * HTTP_API_REQUEST,
        "SQS": million * use.sqs_requests * SQS_REQUEST,
        "SNS": million * use.sns_requests * SNS_PUBLISH,
        "Secrets Manager calls": million * use.secrets_manager_calls * SECRETS_MANAGER_CALL,
        "Aurora I/O": million * AURORA_IOS_PER_DELIVERY * AURORA_IO_REQUEST,
        "CloudWatch Logs": million
        * invocations
        * LOG_BYTES_PER_INVOCATION
        / 1e9
        * CLOUDWATCH_LOGS_GB,
        "X-Ray": million * TRACES_PER_DELIVERY * XRAY_TRACE,
    }
    if nat_gateway:
        gigabytes = million * (api_calls * BYTES_PER_API_CALL + BYTES_PER_PROVIDER_CALL) / 1e9
        costs["NAT data"] = gigabytes * NAT_GATEWAY_GB
    return costs


def idle_cost(profile: str) -> dict[str, float]:
    """Dollars a month with nothing sent, by item."""
    common = {
        "Secrets Manager": SECRETS * SECRETS_MANAGER_SECRET_MONTH,
        "Alarms": ALARMS * CLOUDWATCH_ALARM_MONTH,
        "Aurora storage": DATABASE_STORAGE_GB * AURORA_STORAGE_GB_MONTH,
        "SQS idle polling": IDLE_POLLING_REQUESTS_MONTH * SQS_REQUEST,
        "Public IPv4": PUBLIC_IPV4_HOUR * HOURS_PER_MONTH,
    }
    if profile == "small":
        return {
            **common,
            "NAT instance (t4g.nano + 8 GB gp3)": T4G_NANO_HOUR * HOURS_PER_MONTH
            + NAT_INSTANCE_VOLUME_GB * GP3_GB_MONTH,
            "Aurora compute (paused)": 0.0,
        }
    return {
        **common,
        "NAT gateway": NAT_GATEWAY_HOUR * HOURS_PER_MONTH,
        "RDS Proxy (8 ACU minimum)": RDS_PROXY_MIN_ACU * RDS_PROXY_ACU_HOUR * HOURS_PER_MONTH,
        "Aurora compute (0.5 ACU minimum)": 0.5 * AURORA_ACU_HOUR * HOURS_PER_MONTH,
    }


def monthly_cost(profile: str, deliveries: int, use: PerDelivery) -> float:
    """The month's bill for `deliveries` deliveries spread over the month."""
    idle = sum(idle_cost(profile).values())
    variable = sum(variable_cost_per_million(use, nat_gateway=profile == "production").values())
    acu = AURORA_ACU_UNDER_LOAD[deliveries]
    if profile == "production":
        acu = max(acu, 0.5)
        idle -= 0.5 * AURORA_ACU_HOUR * HOURS_PER_MONTH  # counted in `acu` below
    return idle + variable * deliveries / 1e6 + acu * AURORA_ACU_HOUR * HOURS_PER_MONTH


def report(use: PerDelivery) -> None:
    print("\nCost per delivery, measured (single-recipient email notifications):")
    for name, count in sorted(use.invocations.items()):
        print(f"  {name:14} {count:6.3f} invocations per delivery")
    print(
        f"  Lambda {use.gb_seconds * 1e3:.2f} GB-ms, SQS {use.sqs_requests:.2f} requests, "
        f"SNS {use.sns_requests:.2f} publishes, HTTP API {use.api_requests:.2f} requests, "
        f"other AWS calls {use.other_api_calls:.3f} per delivery"
    )
    for profile in ("small", "production"):
        costs = variable_cost_per_million(use, nat_gateway=profile == "production")
        items = ", ".join(f"{name} ${value:.2f}" for name, value in costs.items())
        print(f"  {profile}: ${sum(costs.values()):.2f} per million deliveries ({items})")
    print("\nMonthly bill (us-east-1 list prices; assumptions in bench/costs.py):")
    print(f"  {'profile':11} {'idle':>9} {'1M deliveries':>15} {'10M deliveries':>16}")
    for profile in ("small", "production"):
        idle = sum(idle_cost(profile).values())
        print(
            f"  {profile:11} {f'${idle:.2f}':>9} "
            f"{f'${monthly_cost(profile, 1_000_000, use):.2f}':>15} "
            f"{f'${monthly_cost(profile, 10_000_000, use):.2f}':>16}"
        )
