"""How a worker reaches a tenant's integrations: resolved by priority, cached briefly.

The integrations themselves (and the provider clients built from their credentials) are
kept for `max_age` seconds per tenant; their breakers are read afresh for every batch, in
one statement, so an integration another worker just cut off is not tried again. The
credentials come through Powertools' cached secrets provider. A tenant without an active
integration of the channel gets no routes: the worker sends through the deployment's
default account.

A channel whose addresses belong to one account cannot fail over: an FCM registration token
works only with the Firebase project its app registered with, a browser subscription only
with the VAPID key it was made with. Such a channel (`failover=False`) gets one route, the
tenant's first active integration: its open breaker defers the deliveries rather than hand
them to an account that would refuse (or, for FCM, unregister) every device.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

from herald.db import integrations
from herald.db.connection import Connection, Row
from herald.services.circuits import BreakerPolicy, Circuit
from herald.services.delivering import Route, Send

M = TypeVar("M")

SenderFor = Callable[[Row, dict[str, Any]], Send[M]]
"""Builds the send function of one integration from its row (provider, settings) and its
credentials."""
ReadCredentials = Callable[[str], dict[str, Any]]
"""Reads an integration's secret (cached by the caller's secrets provider)."""


class IntegrationRoutes(Generic[M]):
    """The routes of one channel's deliveries, per tenant."""

    def __init__(
        self,
        channel: str,
        sender_for: SenderFor[M],
        read_credentials: ReadCredentials,
        *,
        policy: BreakerPolicy,
        max_age_seconds: float,
        failover: bool = True,
    ) -> None:
        self._channel = channel
        self._failover = failover
        self._sender_for = sender_for
        self._read_credentials = read_credentials
        self._policy = policy
        self._max_age = max_age_seconds
        self._cache: dict[str, tuple[float, list[Row]]] = {}
        self._senders: dict[tuple[str, datetime, str], Send[M]] = {}
        self._lock = threading.Lock()

    def for_tenant(self, conn: Connection, tenant_id: str) -> list[Route[M]] | None:
        """The tenant's active integrations of the channel by priority (only the first
        without failover), each with its breaker as stored now; None when the tenant has none
        (the deployment's default)."""
        rows = self.active(conn, tenant_id)
        if not rows:
            return None
        breakers = {r["id"]: r for r in integrations.circuits_of(conn, [r["id"] for r in rows])}
        # Those deleted since they were cached are left out (without failover, before the
        # first is picked: the next in line serves, not the deployment's account).
        rows = [row for row in rows if row["id"] in breakers]
        if not self._failover:
            rows = rows[:1]
        routes = []
        for row in rows:
            circuit = Circuit(
                integration_id=row["id"],
                tenant_id=tenant_id,
                provider=row["provider"],
                channel=row["channel"],
                policy=self._policy,
                state=breakers[row["id"]]["circuit_state"],
                outcomes=list(breakers[row["id"]]["circuit_outcomes"]),
                opened_at=breakers[row["id"]]["circuit_opened_at"],
            )
            routes.append(
                Route(
                    provider=row["provider"],
                    send=self._sender(row),
                    integration_id=row["id"],
                    circuit=circuit,
                )
            )
        return routes

    def active(self, conn: Connection, tenant_id: str) -> list[Row]:
        """The tenant's active integrations of the channel, by priority (cached for
        `max_age_seconds`)."""
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(tenant_id)
        if cached is not None and now - cached[0] < self._max_age:
            return cached[1]
        rows = integrations.active_for_channel(conn, tenant_id, self._channel)
        with self._lock:
            self._cache[tenant_id] = (now, rows)
        return rows

    def _sender(self, row: Row) -> Send[M]:
        credentials = self._read_credentials(row["secret_id"]) if row["secret_id"] else {}
        # A changed integration or a rotated secret gets a new client.
        fingerprint = hashlib.sha256(json.dumps(credentials, sort_keys=True).encode()).hexdigest()
        key = (row["id"], row["updated_at"], fingerprint)
        with self._lock:
            sender = self._senders.get(key)
        if sender is None:
            sender = self._sender_for(row, credentials)
            with self._lock:
                self._senders = {k: v for k, v in self._senders.items() if k[0] != row["id"]}
                self._senders[key] = sender
        return sender
