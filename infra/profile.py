"""Deployment profiles: what a deployed Herald costs while it waits, chosen with one context value.

`cdk deploy -c profile=small` (the default) or `-c profile=production`. The profile is read
once in app.py and handed to the constructs that differ (Network, Database, the functions'
platform); everything else is the same stack.

- `small`: nothing billed by the hour but a t4g.nano NAT instance. No RDS Proxy (its minimum is
  8 ACU-hours an hour): the functions connect to Aurora directly, and their reserved concurrency
  keeps the connection count under what the cluster takes at its smallest running capacity.
  Aurora scales to 0 ACU and pauses; nothing periodic wakes it (the sweeper runs only while
  work is in flight, see herald.services.sweep_schedule).
- `production`: a NAT gateway, RDS Proxy (connection multiplexing, faster failover), a minimum
  capacity that never pauses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aws_cdk import Duration

from infra.constants import DATABASE_AUTO_PAUSE_AFTER, DATABASE_MAX_ACU

PROFILE_CONTEXT_KEY = "profile"
DEFAULT_PROFILE = "small"

# Aurora PostgreSQL sets max_connections to LEAST(DBInstanceClassMemory / 9531392, 5000); an ACU
# is 2 GiB. A resumed cluster starts at 0.5 ACU: 1 GiB, ~112 connections, of which PostgreSQL
# reserves 3 for superusers and RDS a few for its own monitoring.
ACU_MEMORY_BYTES = 2 * 1024**3
CONNECTION_MEMORY_BYTES = 9_531_392
RESERVED_SERVER_CONNECTIONS = 6
# Connections outside the functions' reserved concurrency: the secret rotation function, the
# migrations trigger, an operator's psql session.
CONNECTION_HEADROOM = 6


def max_connections(acu: float) -> int:
    """Aurora PostgreSQL's connection limit at `acu` capacity units, less what RDS reserves."""
    return int(acu * ACU_MEMORY_BYTES // CONNECTION_MEMORY_BYTES) - RESERVED_SERVER_CONNECTIONS


@dataclass(frozen=True)
class DeploymentProfile:
    name: str
    # Egress of the function subnets: a NAT instance of this type, else NAT gateways.
    nat_instance_type: str | None
    nat_count: int
    rds_proxy: bool
    database_min_acu: float
    database_max_acu: float
    # None: never pauses (a minimum above 0 ACU cannot pause anyway).
    database_auto_pause_after: Duration | None
    # The server closes connections idle this long (PostgreSQL idle_session_timeout): a warm
    # Lambda environment keeps its connection open, and Aurora pauses only without any.
    database_idle_session_timeout: Duration | None
    # Per function (FunctionSpec.name): reserved concurrency, which caps its execution
    # environments and so its database connections (one each, herald.db.connection). Functions
    # not named get `default_reserved_concurrency`; None leaves them unreserved.
    reserved_concurrency: Mapping[str, int] = field(default_factory=dict)
    default_reserved_concurrency: int | None = None

    def reserved_concurrency_of(self, function_name: str) -> int | None:
        return self.reserved_concurrency.get(function_name, self.default_reserved_concurrency)

    @property
    def connection_budget(self) -> int | None:
        """Connections the functions may hold at once without a proxy: the cluster's limit at
        the smallest capacity it runs at (0.5 ACU after a resume), less the headroom."""
        if self.rds_proxy:
            return None
        return max_connections(max(self.database_min_acu, 0.5)) - CONNECTION_HEADROOM


SMALL = DeploymentProfile(
    name="small",
    nat_instance_type="t4g.nano",
    nat_count=1,
    rds_proxy=False,
    database_min_acu=0,
    database_max_acu=DATABASE_MAX_ACU,
    database_auto_pause_after=DATABASE_AUTO_PAUSE_AFTER,
    # herald.db.connection checks a connection idle over 30 s before reuse and reopens it.
    database_idle_session_timeout=Duration.minutes(5),
    # 106 connections at 0.5 ACU, 100 after the headroom: the API takes the most, the queue
    # consumers what their event source mappings' maximum concurrency allows (95 in all). A
    # channel worker's reservation covers both its mappings: its normal lane's maximum plus
    # its bulk lane's (infra/constants.py), so a draining batch never takes the normal
    # lane's share.
    reserved_concurrency={
        "api": 30,
        "webhooks": 10,
        "dispatch": 5,
        "email-worker": 10,
        "sms-worker": 5,
        "whatsapp-worker": 5,
        "push-worker": 5,
        "web-push-worker": 5,
        "in-app-worker": 5,
        "webhook-events-worker": 5,
        "webhook-worker": 5,
        # SES events (its event source mapping's maximum concurrency is 2).
        "ses-events": 2,
        # WebSocket connects and disconnects: one short statement each.
        "realtime": 3,
        "sweeper": 1,
        "migrations": 1,
    },
    # A function added later starts small; the infra tests check the sum against the budget.
    default_reserved_concurrency=5,
)

PRODUCTION = DeploymentProfile(
    name="production",
    nat_instance_type=None,
    nat_count=1,
    rds_proxy=True,
    database_min_acu=0.5,
    database_max_acu=DATABASE_MAX_ACU,
    database_auto_pause_after=None,
    database_idle_session_timeout=None,
)

PROFILES: Mapping[str, DeploymentProfile] = {p.name: p for p in (SMALL, PRODUCTION)}


def profile_named(name: object) -> DeploymentProfile:
    """The profile a context value names (None: the default); a clear error for anything else."""
    key = DEFAULT_PROFILE if name is None else str(name)
    if key not in PROFILES:
        raise ValueError(
            f"unknown deployment profile {key!r}: use -c {PROFILE_CONTEXT_KEY}= one of "
            f"{', '.join(sorted(PROFILES))}"
        )
    return PROFILES[key]
