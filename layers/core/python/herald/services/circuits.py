"""Circuit breakers per provider account: stop calling one that keeps failing.

Each integration (a tenant's own account) has one, and so has the deployment's own account
of each channel in `DEFAULT_ACCOUNTS` (what a tenant without an integration of the channel
sends through): one breaker per channel, shared by every such tenant. A default account's
breaker changing is logged and counted like an integration's, but no event is published:
it belongs to no tenant (operators see it in `GET /v1/health`).

A breaker is read when a worker resolves a tenant's integrations and written once per batch
(never per send): during the batch each send consults and feeds an in-memory `Circuit`, and
`save` merges what the batch saw into the row, under a lock, with whatever other workers
wrote meanwhile.

- closed: every call goes through. Once the window holds `min_calls` results and at least
  `failure_rate` of them failed, it opens.
- open: no call goes through for `open_seconds`; then it is half-open.
- half-open: `probes` calls per batch go through; one success closes it (its window starts
  afresh), a failure opens it again for another `open_seconds`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from herald.db import integrations
from herald.db.connection import Connection
from herald.settings import Settings

logger = logging.getLogger(__name__)

OPENED = "integration.circuit_opened"
CLOSED = "integration.circuit_closed"
# The channels whose deployment account has a breaker, and that account's provider. Web
# push and webhooks have no account to guard (each subscription or endpoint is its own
# destination), in-app no provider.
DEFAULT_ACCOUNTS: dict[str, str] = {
    "email": "sendgrid",
    "sms": "twilio",
    "whatsapp": "twilio",
    "push": "fcm",
}


@dataclass(frozen=True)
class BreakerPolicy:
    failure_rate: float = 0.5
    min_calls: int = 20
    open_seconds: float = 30
    probes: int = 3


def breaker_policy(settings: Settings) -> BreakerPolicy:
    """The circuit breakers' thresholds, as configured."""
    return BreakerPolicy(
        failure_rate=settings.circuit_failure_rate,
        min_calls=settings.circuit_min_calls,
        open_seconds=settings.circuit_open_seconds,
        probes=settings.circuit_probes,
    )


def shown_state(state: str, opened_at: datetime | None, policy: BreakerPolicy) -> str:
    """The state as callers see it: an open breaker whose wait is over is half-open."""
    if state == "open" and opened_at is not None and _reopens_at(opened_at, policy) <= _now():
        return "half_open"
    return state


def failure_rate(outcomes: Sequence[bool]) -> float | None:
    return sum(outcomes) / len(outcomes) if outcomes else None


@dataclass
class Circuit:
    """One account's breaker during one batch (shared by the batch's send threads): an
    integration's, or (no `integration_id`, no `tenant_id`) the deployment's account of
    `channel`."""

    integration_id: str | None
    tenant_id: str | None
    provider: str
    channel: str
    policy: BreakerPolicy
    state: str = "closed"
    outcomes: list[bool] = field(default_factory=list)
    opened_at: datetime | None = None
    # What this batch saw and did, for `save`.
    recorded: list[bool] = field(default_factory=list)
    opened_here: bool = False
    closed_here: bool = False
    _probes_left: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def allows(self) -> bool:
        """Whether a call may go through now (taking a probe slot when half-open)."""
        with self._lock:
            if self.state == "open":
                if self.opened_at is None or _reopens_at(self.opened_at, self.policy) > _now():
                    return False
                self.state, self._probes_left = "half_open", self.policy.probes
            if self.state == "half_open":
                if self._probes_left <= 0:
                    return False
                self._probes_left -= 1
            return True

    def record(self, failed: bool) -> None:
        """The result of one call that went through."""
        with self._lock:
            self.recorded.append(failed)
            if self.state == "half_open":
                if failed:
                    self._open()
                else:
                    self.state, self.outcomes, self.opened_at = "closed", [], None
                    self.closed_here, self.opened_here = True, False
                return
            self.outcomes = [*self.outcomes, failed][-self.policy.min_calls :]
            if self.state == "closed" and _over_threshold(self.outcomes, self.policy):
                self._open()

    def reopens_at(self) -> datetime | None:
        """When an open breaker lets probes through."""
        return _reopens_at(self.opened_at, self.policy) if self.opened_at else None

    def _open(self) -> None:
        self.state, self.opened_at = "open", _now()
        self.opened_here, self.closed_here = True, False


def default_circuit(conn: Connection, channel: str, policy: BreakerPolicy) -> Circuit:
    """The breaker of the deployment's account of `channel`, as stored now."""
    rows = integrations.default_circuits(conn, [channel])
    row = rows[0] if rows else {"state": "closed", "outcomes": [], "opened_at": None}
    return Circuit(
        integration_id=None,
        tenant_id=None,
        provider=DEFAULT_ACCOUNTS[channel],
        channel=channel,
        policy=policy,
        state=row["state"],
        outcomes=list(row["outcomes"]),
        opened_at=row["opened_at"],
    )


def default_states(conn: Connection, policy: BreakerPolicy) -> dict[str, dict[str, Any]]:
    """How the deployment's accounts stand, per channel (for operators)."""
    stored = {r["channel"]: r for r in integrations.default_circuits(conn, list(DEFAULT_ACCOUNTS))}
    states = {}
    for channel, provider in DEFAULT_ACCOUNTS.items():
        row = stored.get(channel)
        opened_at = row["opened_at"] if row else None
        states[channel] = {
            "provider": provider,
            "state": shown_state(row["state"], opened_at, policy) if row else "closed",
            "opened_at": opened_at.isoformat() if opened_at else None,
            "failure_rate": failure_rate(row["outcomes"]) if row else None,
        }
    return states


def save(conn: Connection, circuits: Sequence[Circuit]) -> list[dict[str, Any]]:
    """Write what a batch saw of its breakers, in one transaction; returns the
    `integration.circuit_opened`/`_closed` events of the breakers that changed (a default
    account's has no `tenant_id`: it is not for publishing).

    Merged with the stored row (other workers may have written it since it was read): this
    batch's results are appended to its window, a probe's verdict (closed, or open again)
    wins, and a closed breaker whose merged window crosses the threshold opens.
    """
    used = [c for c in circuits if c.recorded]
    owned = {c.integration_id: c for c in used if c.integration_id is not None}
    defaults = {c.channel: c for c in used if c.integration_id is None}
    events: list[dict[str, Any]] = []
    if owned:
        saved = []
        for row in integrations.circuits_for_update(conn, list(owned)):
            circuit = owned[row["integration_id"]]
            state, outcomes, opened_at = _merged(circuit, row, events)
            saved.append((row["integration_id"], row["tenant_id"], state, outcomes, opened_at))
        integrations.save_circuits(conn, saved)
    if defaults:
        providers = {channel: c.provider for channel, c in defaults.items()}
        saved_defaults = []
        for row in integrations.default_circuits_for_update(conn, providers):
            state, outcomes, opened_at = _merged(defaults[row["channel"]], row, events)
            saved_defaults.append((row["channel"], state, outcomes, opened_at))
        integrations.save_default_circuits(conn, saved_defaults)
    return events


def _merged(
    circuit: Circuit, row: dict[str, Any], events: list[dict[str, Any]]
) -> tuple[str, list[bool], datetime | None]:
    """A breaker's stored row merged with what this batch saw of it; its event, if it
    changed, is appended to `events`."""
    state, opened_at = row["state"], row["opened_at"]
    outcomes = [*row["outcomes"], *circuit.recorded][-circuit.policy.min_calls :]
    if circuit.closed_here:
        state, opened_at, outcomes = "closed", None, []
    elif circuit.opened_here:
        state, opened_at = "open", circuit.opened_at
    elif state == "closed" and _over_threshold(outcomes, circuit.policy):
        state, opened_at = "open", _now()
    # A breaker opening again after a failed probe was open already: no new event.
    if state != row["state"]:
        events.append(_transition(circuit, state, outcomes))
    return state, outcomes, opened_at


def _transition(circuit: Circuit, state: str, outcomes: list[bool]) -> dict[str, Any]:
    """The event of a breaker that opened or closed, logged as a warning."""
    rate = failure_rate(outcomes) if state == "open" else None
    account = (
        f"integration {circuit.integration_id} ({circuit.provider}) of tenant {circuit.tenant_id}"
        if circuit.integration_id is not None
        else f"the deployment's {circuit.provider} account for {circuit.channel}"
    )
    logger.warning(
        "circuit %s: %s",
        state,
        account,
        extra={
            "integration_id": circuit.integration_id,
            "tenant_id": circuit.tenant_id,
            "channel": circuit.channel,
            "provider": circuit.provider,
            "failure_rate": rate,
        },
    )
    return {
        "type": OPENED if state == "open" else CLOSED,
        "tenant_id": circuit.tenant_id,
        "integration_id": circuit.integration_id,
        "channel": circuit.channel,
        "provider": circuit.provider,
        "failure_rate": rate,
        "at": _now().isoformat(),
    }


def _over_threshold(outcomes: Sequence[bool], policy: BreakerPolicy) -> bool:
    rate = failure_rate(outcomes)
    return len(outcomes) >= policy.min_calls and rate is not None and rate >= policy.failure_rate


def _reopens_at(opened_at: datetime, policy: BreakerPolicy) -> datetime:
    return opened_at + timedelta(seconds=policy.open_seconds)


def _now() -> datetime:
    return datetime.now(UTC)
