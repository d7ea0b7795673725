"""Integrations (a tenant's provider accounts) and their circuit breakers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from herald.db.connection import Connection, Row, jsonb

_COLUMNS = (
    "i.id, i.tenant_id, i.channel, i.provider, i.name, i.settings, i.priority, i.active,"
    " i.secret_id, i.credentials_last4, i.created_at, i.updated_at,"
    " COALESCE(c.state, 'closed') AS circuit_state, c.opened_at AS circuit_opened_at,"
    " COALESCE(c.outcomes, '{}') AS circuit_outcomes"
)
_FROM = " FROM integrations i LEFT JOIN integration_circuits c ON c.integration_id = i.id"


def insert(
    conn: Connection,
    *,
    integration_id: str,
    tenant_id: str,
    channel: str,
    provider: str,
    name: str,
    settings: dict[str, Any],
    priority: int,
    active: bool,
    secret_id: str | None,
    credentials_last4: str | None,
) -> None:
    conn.execute(
        "INSERT INTO integrations (id, tenant_id, channel, provider, name, settings, priority,"
        " active, secret_id, credentials_last4) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            integration_id,
            tenant_id,
            channel,
            provider,
            name,
            jsonb(settings),
            priority,
            active,
            secret_id,
            credentials_last4,
        ),
    )


def get(conn: Connection, tenant_id: str, integration_id: str) -> Row | None:
    return conn.execute(
        f"SELECT {_COLUMNS}{_FROM} WHERE i.tenant_id = %s AND i.id = %s",
        (tenant_id, integration_id),
    ).fetchone()


def list_for_tenant(conn: Connection, tenant_id: str, channel: str | None) -> list[Row]:
    return conn.execute(
        f"SELECT {_COLUMNS}{_FROM} WHERE i.tenant_id = %s"
        " AND (%s::text IS NULL OR i.channel = %s) ORDER BY i.channel, i.priority, i.id",
        (tenant_id, channel, channel),
    ).fetchall()


def active_for_channel(conn: Connection, tenant_id: str, channel: str) -> list[Row]:
    """A tenant's active integrations of a channel, in the order they are tried."""
    return conn.execute(
        f"SELECT {_COLUMNS}{_FROM} WHERE i.tenant_id = %s AND i.channel = %s AND i.active"
        " ORDER BY i.priority, i.id",
        (tenant_id, channel),
    ).fetchall()


def update(conn: Connection, tenant_id: str, integration_id: str, changes: dict[str, Any]) -> bool:
    """Set the given columns (name, settings, priority, active, credentials_last4)."""
    assignments = ["updated_at = now()"]
    params: dict[str, Any] = {"tenant": tenant_id, "id": integration_id}
    for column in ("name", "settings", "priority", "active", "credentials_last4"):
        if column in changes:
            assignments.append(f"{column} = %({column})s")
            value = changes[column]
            params[column] = jsonb(value) if column == "settings" else value
    updated = conn.execute(
        f"UPDATE integrations SET {', '.join(assignments)}"
        " WHERE tenant_id = %(tenant)s AND id = %(id)s",
        params,
    )
    return updated.rowcount == 1


def delete(conn: Connection, tenant_id: str, integration_id: str) -> Row | None:
    """Delete an integration (its breaker goes with it); returns what it was."""
    return conn.execute(
        "DELETE FROM integrations WHERE tenant_id = %s AND id = %s RETURNING id, secret_id",
        (tenant_id, integration_id),
    ).fetchone()


def circuits_for_update(conn: Connection, integration_ids: Sequence[str]) -> list[Row]:
    """The breakers of these integrations, locked until the transaction ends (a worker
    recording its batch must not interleave with another's)."""
    return conn.execute(
        "SELECT i.id AS integration_id, i.tenant_id, COALESCE(c.state, 'closed') AS state,"
        " COALESCE(c.outcomes, '{}') AS outcomes, c.opened_at"
        " FROM integrations i LEFT JOIN integration_circuits c ON c.integration_id = i.id"
        " WHERE i.id = ANY(%s) ORDER BY i.id FOR UPDATE OF i",
        (list(integration_ids),),
    ).fetchall()


def save_circuits(
    conn: Connection, circuits: Sequence[tuple[str, str, str, list[bool], datetime | None]]
) -> None:
    """Write breakers (integration_id, tenant_id, state, outcomes, opened_at) in one
    statement."""
    if not circuits:
        return
    conn.execute(
        "INSERT INTO integration_circuits (integration_id, tenant_id, state, outcomes, opened_at)"
        " SELECT t.integration_id, t.tenant_id, t.state, t.outcomes::boolean[], t.opened_at"
        " FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::timestamptz[])"
        "   AS t(integration_id, tenant_id, state, outcomes, opened_at)"
        " ON CONFLICT (integration_id) DO UPDATE SET state = EXCLUDED.state,"
        "   outcomes = EXCLUDED.outcomes, opened_at = EXCLUDED.opened_at, updated_at = now()",
        (
            [c[0] for c in circuits],
            [c[1] for c in circuits],
            [c[2] for c in circuits],
            [_booleans(c[3]) for c in circuits],
            [c[4] for c in circuits],
        ),
    )


def circuits_of(conn: Connection, integration_ids: Sequence[str]) -> list[Row]:
    """The breakers of these integrations as they stand (none stored yet: closed)."""
    return conn.execute(
        "SELECT i.id, COALESCE(c.state, 'closed') AS circuit_state,"
        " c.opened_at AS circuit_opened_at, COALESCE(c.outcomes, '{}') AS circuit_outcomes"
        " FROM integrations i LEFT JOIN integration_circuits c ON c.integration_id = i.id"
        " WHERE i.id = ANY(%s)",
        (list(integration_ids),),
    ).fetchall()


def sendgrid_by_id(conn: Connection, integration_id: str) -> Row | None:
    """An active SendGrid integration, whatever its tenant (its Event Webhook names it)."""
    return conn.execute(
        "SELECT id, tenant_id, settings FROM integrations"
        " WHERE id = %s AND provider = 'sendgrid' AND active",
        (integration_id,),
    ).fetchone()


def web_push_settings(conn: Connection, integration_id: str) -> Row | None:
    """A web push integration's settings, whatever its tenant (browsers subscribe with its
    public key without an API key)."""
    return conn.execute(
        "SELECT settings FROM integrations WHERE id = %s AND provider = 'web_push'",
        (integration_id,),
    ).fetchone()


def twilio_of_tenant(conn: Connection, tenant_id: str, integration_id: str) -> Row | None:
    """A tenant's Twilio integration (active or not: callbacks of messages it sent still
    come), for its secret."""
    return conn.execute(
        "SELECT id, secret_id FROM integrations"
        " WHERE tenant_id = %s AND id = %s AND provider = 'twilio'",
        (tenant_id, integration_id),
    ).fetchone()


def twilio_by_id(conn: Connection, integration_id: str) -> Row | None:
    """A Twilio integration, whatever its tenant and active or not (the incoming-message
    webhook of its numbers names it; a STOP to a paused account's number still counts)."""
    return conn.execute(
        "SELECT id, tenant_id, channel, secret_id, settings FROM integrations"
        " WHERE id = %s AND provider = 'twilio'",
        (integration_id,),
    ).fetchone()


def default_circuits(conn: Connection, channels: Sequence[str]) -> list[Row]:
    """The breakers of the deployment's own accounts of these channels that have one stored
    (a channel without a row is closed)."""
    return conn.execute(
        "SELECT channel, provider, state, outcomes, opened_at FROM default_circuits"
        " WHERE channel = ANY(%s) ORDER BY channel",
        (list(channels),),
    ).fetchall()


def default_circuits_for_update(
    conn: Connection, providers_by_channel: dict[str, str]
) -> list[Row]:
    """The breakers of the deployment's accounts of these channels (created closed when
    missing), locked until the transaction ends."""
    conn.execute(
        "INSERT INTO default_circuits (channel, provider)"
        " SELECT * FROM unnest(%s::text[], %s::text[]) ON CONFLICT (channel) DO NOTHING",
        (list(providers_by_channel), list(providers_by_channel.values())),
    )
    return conn.execute(
        "SELECT channel, state, outcomes, opened_at FROM default_circuits"
        " WHERE channel = ANY(%s) ORDER BY channel FOR UPDATE",
        (list(providers_by_channel),),
    ).fetchall()


def save_default_circuits(
    conn: Connection, circuits: Sequence[tuple[str, str, list[bool], datetime | None]]
) -> None:
    """Write the deployment accounts' breakers (channel, state, outcomes, opened_at)."""
    if not circuits:
        return
    conn.execute(
        "UPDATE default_circuits d SET state = t.state, outcomes = t.outcomes::boolean[],"
        " opened_at = t.opened_at, updated_at = now()"
        " FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[])"
        "   AS t(channel, state, outcomes, opened_at)"
        " WHERE d.channel = t.channel",
        (
            [c[0] for c in circuits],
            [c[1] for c in circuits],
            [_booleans(c[2]) for c in circuits],
            [c[3] for c in circuits],
        ),
    )


def _booleans(outcomes: list[bool]) -> str:
    """A boolean[] literal (unnest cannot take an array of arrays of varying length)."""
    return "{" + ",".join("t" if o else "f" for o in outcomes) + "}"
