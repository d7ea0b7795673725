"""Suppressions: addresses Herald does not send to (bounces, complaints, unsubscribes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from herald.db.connection import Connection, Row, jsonb

# (address, reason, source, detail), as `add_suppressions` takes them.
SuppressionEntry = tuple[str, str, str, dict[str, Any]]


def normalize_address(address: str) -> str:
    """The form addresses are stored and compared in: emails lower-cased, phones as given.

    Phones are expected in E.164 already (the API validates them on the way in).
    """
    address = address.strip()
    return address.lower() if "@" in address else address


def suppressed(conn: Connection, tenant_id: str, addresses: Sequence[str]) -> dict[str, str]:
    """Which of `addresses` are suppressed, in one query: address as given -> reason.

    Addresses are compared normalized, so `Ada@Example.com` matches `ada@example.com`.
    """
    if not addresses:
        return {}
    given = {address: normalize_address(address) for address in addresses}
    rows = conn.execute(
        "SELECT address, reason FROM suppressions WHERE tenant_id = %s AND address = ANY(%s)",
        (tenant_id, list(set(given.values()))),
    ).fetchall()
    reasons = {row["address"]: row["reason"] for row in rows}
    return {address: reasons[key] for address, key in given.items() if key in reasons}


def add_suppressions(
    conn: Connection, tenant_id: str, entries: Sequence[SuppressionEntry]
) -> list[str]:
    """Suppress addresses in one statement; return the (normalized) addresses newly suppressed.

    An address already suppressed keeps its first reason. Each new suppression is recorded
    as a preference event (source `api`, `one_click`, or `provider` for a provider's report).
    """
    unique: dict[str, SuppressionEntry] = {}
    for address, reason, source, detail in entries:
        unique.setdefault(normalize_address(address), (address, reason, source, detail))
    if not unique:
        return []
    rows = conn.execute(
        "WITH new AS ("
        "  INSERT INTO suppressions (tenant_id, address, reason, source, detail)"
        "  SELECT %(tenant)s, e.address, e.reason, e.source, e.detail"
        "  FROM unnest(%(addresses)s::text[], %(reasons)s::text[], %(sources)s::text[],"
        "              %(details)s::jsonb[]) AS e(address, reason, source, detail)"
        "  ON CONFLICT (tenant_id, address) DO NOTHING"
        "  RETURNING address, reason, source"
        "), events AS ("
        "  INSERT INTO preference_events (tenant_id, address, source, change)"
        "  SELECT %(tenant)s, address,"
        "         CASE WHEN source IN ('api', 'one_click') THEN source ELSE 'provider' END,"
        "         jsonb_build_object('suppressed', reason)"
        "  FROM new"
        ")"
        " SELECT address FROM new ORDER BY address",
        {
            "tenant": tenant_id,
            "addresses": list(unique),
            "reasons": [entry[1] for entry in unique.values()],
            "sources": [entry[2] for entry in unique.values()],
            "details": [jsonb(entry[3]) for entry in unique.values()],
        },
    ).fetchall()
    return [row["address"] for row in rows]


def find_suppressions(conn: Connection, tenant_id: str, addresses: Sequence[str]) -> list[Row]:
    """The full suppression rows of some addresses (normalized here), by address."""
    return conn.execute(
        "SELECT address, reason, source, detail, created_at FROM suppressions"
        " WHERE tenant_id = %s AND address = ANY(%s) ORDER BY address",
        (tenant_id, [normalize_address(a) for a in addresses]),
    ).fetchall()


def list_suppressions(
    conn: Connection, tenant_id: str, *, after_address: str | None, limit: int
) -> list[Row]:
    """By address; `after_address` is the last address of the previous page."""
    return conn.execute(
        "SELECT address, reason, source, detail, created_at FROM suppressions"
        " WHERE tenant_id = %s AND (%s::text IS NULL OR address > %s)"
        " ORDER BY address LIMIT %s",
        (tenant_id, after_address, after_address, limit),
    ).fetchall()


def delete_suppression(conn: Connection, tenant_id: str, address: str) -> bool:
    """Lift a suppression; False when the address was not suppressed."""
    cur = conn.execute(
        "DELETE FROM suppressions WHERE tenant_id = %s AND address = %s",
        (tenant_id, normalize_address(address)),
    )
    return cur.rowcount == 1


def tenants_messaging(conn: Connection, phone: str) -> list[str]:
    """The tenants that have sent SMS or WhatsApp to a phone number (E.164) through the
    deployment's own Twilio account (not through an integration of theirs: a user who
    answers the deployment's number has not answered theirs)."""
    rows = conn.execute(
        "SELECT DISTINCT tenant_id FROM deliveries"
        " WHERE address = %s AND channel IN ('sms', 'whatsapp') AND integration_id IS NULL"
        " ORDER BY tenant_id",
        (phone,),
    ).fetchall()
    return [row["tenant_id"] for row in rows]


def lift_suppression(
    conn: Connection, tenant_id: str, address: str, reason: str, source: str
) -> bool:
    """Lift a suppression of one reason only (START lifts a STOP, never a manual one), with
    its preference event; False when there was none."""
    rows = conn.execute(
        "WITH lifted AS ("
        "  DELETE FROM suppressions WHERE tenant_id = %(tenant)s AND address = %(address)s"
        "    AND reason = %(reason)s RETURNING tenant_id, address"
        ")"
        " INSERT INTO preference_events (tenant_id, address, source, change)"
        " SELECT tenant_id, address, %(source)s, '{\"suppressed\": null}' FROM lifted"
        " RETURNING id",
        {
            "tenant": tenant_id,
            "address": normalize_address(address),
            "reason": reason,
            "source": source,
        },
    ).fetchall()
    return bool(rows)
