"""Templates and their immutable versions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from herald.db.connection import Connection, Row, jsonb

_TEMPLATE_WITH_VERSION = (
    "SELECT t.id, t.key, t.status, t.active_version, t.latest_version, t.created_at,"
    " t.updated_at, v.version, v.name, v.locale, v.contents, v.variables,"
    " v.created_at AS version_created_at"
    " FROM templates t JOIN template_versions v ON v.template_id = t.id"
)


def insert_template(conn: Connection, *, template_id: str, tenant_id: str, key: str) -> bool:
    """Create the template row at version 1; False when the key is taken (even archived)."""
    row = conn.execute(
        "INSERT INTO templates (id, tenant_id, key, active_version, latest_version)"
        " VALUES (%s, %s, %s, 1, 1) ON CONFLICT (tenant_id, key) DO NOTHING RETURNING id",
        (template_id, tenant_id, key),
    ).fetchone()
    return row is not None


def insert_version(
    conn: Connection,
    *,
    template_id: str,
    tenant_id: str,
    version: int,
    name: str,
    locale: str,
    contents: dict[str, dict[str, Any]],
    variables: Sequence[str],
) -> None:
    conn.execute(
        "INSERT INTO template_versions"
        " (template_id, version, tenant_id, name, locale, contents, variables)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (template_id, version, tenant_id, name, locale, jsonb(contents), list(variables)),
    )


def next_version(conn: Connection, tenant_id: str, key: str) -> Row | None:
    """Reserve the next version number of a template and make it active (and unarchived).

    The row lock serialises concurrent PUTs of one key: each gets its own number.
    """
    return conn.execute(
        "UPDATE templates SET latest_version = latest_version + 1,"
        " active_version = latest_version + 1, status = 'active', archived_at = NULL,"
        " updated_at = now()"
        " WHERE tenant_id = %s AND key = %s RETURNING id, latest_version AS version",
        (tenant_id, key),
    ).fetchone()


def get_template(
    conn: Connection, tenant_id: str, key: str, version: int | None = None
) -> Row | None:
    """The template with one version's content: the active one unless `version` is given."""
    return conn.execute(
        _TEMPLATE_WITH_VERSION + " WHERE t.tenant_id = %s AND t.key = %s"
        " AND v.version = COALESCE(%s, t.active_version)",
        (tenant_id, key, version),
    ).fetchone()


def get_send_state(conn: Connection, tenant_id: str, key: str) -> Row | None:
    """What a send by key needs to pin a version: id, status, active version; no content."""
    return conn.execute(
        "SELECT id, status, active_version FROM templates WHERE tenant_id = %s AND key = %s",
        (tenant_id, key),
    ).fetchone()


def get_version(conn: Connection, tenant_id: str, template_id: str, version: int) -> Row | None:
    return conn.execute(
        "SELECT template_id, version, locale, contents FROM template_versions"
        " WHERE tenant_id = %s AND template_id = %s AND version = %s",
        (tenant_id, template_id, version),
    ).fetchone()


def list_templates(
    conn: Connection, tenant_id: str, *, status: str, after_key: str | None, limit: int
) -> list[Row]:
    """By key; `after_key` is the last key of the previous page."""
    return conn.execute(
        "SELECT t.id, t.key, t.status, t.active_version, t.latest_version, t.updated_at,"
        " v.name, v.locale"
        " FROM templates t JOIN template_versions v"
        "   ON v.template_id = t.id AND v.version = t.active_version"
        " WHERE t.tenant_id = %s AND t.status = %s AND (%s::text IS NULL OR t.key > %s)"
        " ORDER BY t.key LIMIT %s",
        (tenant_id, status, after_key, after_key, limit),
    ).fetchall()


def list_versions(
    conn: Connection, tenant_id: str, key: str, *, before: int | None, limit: int
) -> list[Row]:
    """Newest first; `before` is the last version of the previous page."""
    return conn.execute(
        "SELECT v.version, v.name, v.locale, v.contents, v.variables, v.created_at,"
        " v.version = t.active_version AS active"
        " FROM templates t JOIN template_versions v ON v.template_id = t.id"
        " WHERE t.tenant_id = %s AND t.key = %s AND (%s::int IS NULL OR v.version < %s)"
        " ORDER BY v.version DESC LIMIT %s",
        (tenant_id, key, before, before, limit),
    ).fetchall()


def activate_version(conn: Connection, tenant_id: str, key: str, version: int) -> Row | None:
    """Point sends at an existing version (a rollback), restoring an archived template."""
    return conn.execute(
        "UPDATE templates t SET active_version = %s, status = 'active', archived_at = NULL,"
        " updated_at = now()"
        " WHERE t.tenant_id = %s AND t.key = %s AND EXISTS (SELECT 1 FROM template_versions v"
        "   WHERE v.template_id = t.id AND v.version = %s)"
        " RETURNING t.id",
        (version, tenant_id, key, version),
    ).fetchone()


def archive_template(conn: Connection, tenant_id: str, key: str) -> Row | None:
    return conn.execute(
        "UPDATE templates SET status = 'archived',"
        " archived_at = COALESCE(archived_at, now()), updated_at = now()"
        " WHERE tenant_id = %s AND key = %s RETURNING id",
        (tenant_id, key),
    ).fetchone()


def template_exists(conn: Connection, tenant_id: str, key: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM templates WHERE tenant_id = %s AND key = %s", (tenant_id, key)
    ).fetchone()
    return row is not None
