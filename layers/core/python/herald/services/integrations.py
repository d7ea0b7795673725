"""Integrations as the admin API manages them: a tenant's own provider accounts per channel.

Credentials are checked per provider, stored in one Secrets Manager secret per integration
and never returned (only their last four characters); settings (from addresses, region, a
VAPID public key) are kept on the row and shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from herald.db import integrations
from herald.db.connection import Database, Row
from herald.errors import InvalidRequest, NotFound, Unprocessable
from herald.ids import new_id
from herald.models.common import Page
from herald.models.integrations import (
    PROVIDERS_BY_CHANNEL,
    CircuitOut,
    IntegrationIn,
    IntegrationOut,
    IntegrationPatch,
    IntegrationTestResult,
)
from herald.services import integration_credentials
from herald.services.circuits import BreakerPolicy, failure_rate, shown_state

# A tenant keeps at most this many integrations (all channels together).
MAX_INTEGRATIONS = 50


class SecretStore(Protocol):
    def name_for(self, tenant_id: str, integration_id: str) -> str: ...
    def create(self, name: str, credentials: dict[str, Any]) -> str: ...
    def replace(self, secret_id: str, credentials: dict[str, Any]) -> None: ...
    def delete(self, secret_id: str) -> None: ...
    def read(self, secret_id: str) -> dict[str, Any]: ...


Probe = Callable[[str, dict[str, Any], dict[str, Any]], str]
"""Makes one real call with (provider, credentials, settings); returns what the provider
answered, or raises ProbeFailed."""


class ProbeFailed(Exception):
    """The provider refused or failed the test call."""


@dataclass(frozen=True)
class IntegrationPorts:
    secrets: SecretStore
    probe: Probe
    breaker: BreakerPolicy


def create_integration(
    db: Database, tenant_id: str, body: IntegrationIn, ports: IntegrationPorts
) -> IntegrationOut:
    """Check the credentials, store them as a new secret and the integration (201)."""
    _check_channel(body.channel, body.provider)
    checked = integration_credentials.check(body.provider, body.credentials, body.settings)
    _check_sender(body.channel, checked.settings)
    integration_id = new_id("int")
    with db.transaction() as conn:
        if len(integrations.list_for_tenant(conn, tenant_id, None)) >= MAX_INTEGRATIONS:
            raise Unprocessable(f"a tenant has at most {MAX_INTEGRATIONS} integrations")
        secret_id = None
        if checked.credentials:
            name = ports.secrets.name_for(tenant_id, integration_id)
            secret_id = ports.secrets.create(name, checked.credentials)
        integrations.insert(
            conn,
            integration_id=integration_id,
            tenant_id=tenant_id,
            channel=body.channel,
            provider=body.provider,
            name=body.name,
            settings=checked.settings,
            priority=body.priority,
            active=body.active,
            secret_id=secret_id,
            credentials_last4=checked.last4,
        )
        row = integrations.get(conn, tenant_id, integration_id)
    assert row is not None
    return _out(row, ports.breaker)


def list_integrations(
    db: Database, tenant_id: str, channel: str | None, breaker: BreakerPolicy
) -> Page[IntegrationOut]:
    """Every integration of the tenant (a few per channel: one page)."""
    rows = integrations.list_for_tenant(db.connection(), tenant_id, channel)
    return Page[IntegrationOut](items=[_out(r, breaker) for r in rows], next_cursor=None)


def get_integration(
    db: Database, tenant_id: str, integration_id: str, breaker: BreakerPolicy
) -> IntegrationOut:
    return _out(_integration(db, tenant_id, integration_id), breaker)


def update_integration(
    db: Database,
    tenant_id: str,
    integration_id: str,
    body: IntegrationPatch,
    ports: IntegrationPorts,
) -> IntegrationOut:
    """Change name, priority, active, settings or credentials (checked as on create; new
    credentials are a new version of the same secret)."""
    row = _integration(db, tenant_id, integration_id)
    changes: dict[str, Any] = {
        k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None
    }
    if "credentials" in changes or "settings" in changes:
        credentials = changes.pop("credentials", None)
        settings = changes["settings"] if "settings" in changes else row["settings"]
        if credentials is None:
            credentials = ports.secrets.read(row["secret_id"]) if row["secret_id"] else {}
        checked = integration_credentials.check(row["provider"], credentials, settings)
        _check_sender(row["channel"], checked.settings)
        changes["settings"] = checked.settings
        changes["credentials_last4"] = checked.last4
        if body.credentials is not None:
            _store_credentials(db, tenant_id, row, checked.credentials, ports.secrets)
    with db.transaction() as conn:
        if not integrations.update(conn, tenant_id, integration_id, changes):
            raise _not_found(integration_id)
        updated = integrations.get(conn, tenant_id, integration_id)
    assert updated is not None
    return _out(updated, ports.breaker)


def delete_integration(
    db: Database, tenant_id: str, integration_id: str, secrets: SecretStore
) -> None:
    """Delete an integration and its secret (at once, without a recovery window)."""
    with db.transaction() as conn:
        row = integrations.delete(conn, tenant_id, integration_id)
        if row is None:
            raise _not_found(integration_id)
        if row["secret_id"]:
            secrets.delete(row["secret_id"])


def test_integration(
    db: Database, tenant_id: str, integration_id: str, ports: IntegrationPorts
) -> IntegrationTestResult:
    """One real call to the provider with the stored credentials (a sandbox or validate-only
    call where the provider has one); its verdict, not an error, when the provider refuses."""
    row = _integration(db, tenant_id, integration_id)
    credentials = ports.secrets.read(row["secret_id"]) if row["secret_id"] else {}
    try:
        detail = ports.probe(row["provider"], credentials, row["settings"])
    except ProbeFailed as exc:
        return IntegrationTestResult(ok=False, provider=row["provider"], detail=str(exc)[:500])
    return IntegrationTestResult(ok=True, provider=row["provider"], detail=detail[:500])


def web_push_public_key(db: Database, integration_id: str) -> str:
    """The VAPID public key of a `web_push` integration (active or not), for browsers that
    subscribe to a tenant's own key: public by nature, so no API key is asked for."""
    row = integrations.web_push_settings(db.connection(), integration_id)
    if row is None or not row["settings"].get("vapid_public_key"):
        raise NotFound(f"web push integration {integration_id} not found")
    return str(row["settings"]["vapid_public_key"])


def _store_credentials(
    db: Database,
    tenant_id: str,
    row: Row,
    credentials: dict[str, Any],
    secrets: SecretStore,
) -> None:
    if row["secret_id"]:
        secrets.replace(row["secret_id"], credentials)
        return
    secret_id = secrets.create(secrets.name_for(tenant_id, row["id"]), credentials)
    with db.transaction() as conn:
        conn.execute(
            "UPDATE integrations SET secret_id = %s WHERE tenant_id = %s AND id = %s",
            (secret_id, tenant_id, row["id"]),
        )


def _check_channel(channel: str, provider: str) -> None:
    offered = PROVIDERS_BY_CHANNEL[channel]
    if provider not in offered:
        raise Unprocessable(
            f"{provider} does not send {channel}",
            [{"field": "provider", "message": f"for {channel}: {', '.join(offered)}"}],
        )


def _check_sender(channel: str, settings: dict[str, Any]) -> None:
    """A Twilio account sends WhatsApp from its WhatsApp sender, SMS from a number or a
    messaging service."""
    if channel == "whatsapp" and not settings.get("whatsapp_from"):
        raise InvalidRequest(
            "a WhatsApp integration needs its sender",
            [{"field": "settings.whatsapp_from", "message": "required for whatsapp"}],
        )
    if channel == "sms" and not (
        settings.get("from_number") or settings.get("messaging_service_sid")
    ):
        raise InvalidRequest(
            "an SMS integration needs a sender",
            [{"field": "settings.from_number", "message": "or messaging_service_sid"}],
        )


def _integration(db: Database, tenant_id: str, integration_id: str) -> Row:
    row = integrations.get(db.connection(), tenant_id, integration_id)
    if row is None:
        raise _not_found(integration_id)
    return row


def _not_found(integration_id: str) -> NotFound:
    return NotFound(f"integration {integration_id} not found")


def _out(row: Row, breaker: BreakerPolicy) -> IntegrationOut:
    return IntegrationOut(
        id=row["id"],
        channel=row["channel"],
        provider=row["provider"],
        name=row["name"],
        settings=row["settings"],
        priority=row["priority"],
        active=row["active"],
        credentials_last4=row["credentials_last4"],
        circuit=CircuitOut(
            state=shown_state(row["circuit_state"], row["circuit_opened_at"], breaker),
            opened_at=row["circuit_opened_at"],
            failure_rate=failure_rate(row["circuit_outcomes"]),
        ),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
