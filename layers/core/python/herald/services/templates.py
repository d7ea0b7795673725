"""Templates: versioned, localized content per channel, rendered in a sandbox."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from herald.db import templates
from herald.db.connection import Connection, Database, Row
from herald.errors import Conflict, InvalidRequest, NotFound, Unprocessable
from herald.ids import new_id
from herald.models.common import CHANNELS, INT4_MAX, Channel, Page
from herald.models.templates import (
    CreateTemplateRequest,
    PayloadInfo,
    PreviewOut,
    PreviewRequest,
    SmsInfo,
    TemplateOut,
    TemplateStatus,
    TemplateSummary,
    TemplateVersionIn,
    TemplateVersionSummary,
)
from herald.services import idempotency, push
from herald.services.cursors import decode_cursor, page_rows
from herald.services.email import complete_email
from herald.templating import TemplateCache, sms_encoding

if TYPE_CHECKING:
    from herald.templating import CompiledTemplate

# Variables Herald provides itself: the fields of the recipient being rendered for.
RESERVED_VARIABLES = frozenset({"recipient"})
RECIPIENT_FIELDS = ("user_id", "email", "phone", "locale", "name")

# Versions never change once written, so compiled ones stay valid for the life of the
# execution environment; the bound keeps memory flat when a tenant has many templates.
_compiled = TemplateCache(maxsize=256)


@dataclass(frozen=True)
class TemplateSend:
    """What a notification sent by template records at accept time."""

    template_id: str
    version: int
    channels: list[Channel]


def _compile(
    locale: str, contents: Any, field_prefix: Callable[[str, str], str] | None = None
) -> CompiledTemplate:
    """Compile a version (the compiler, and Jinja2, load on the first one: herald.templating)."""
    from herald.templating import CompiledTemplate

    return CompiledTemplate.compile(locale, contents, field_prefix=field_prefix)


def _compiled_row(row: Mapping[str, Any]) -> CompiledTemplate:
    """The compiled version of a template row already read with its content (cached)."""
    return _compiled.get_or_compile(
        (row["id"], row["version"]),
        lambda: _compile(row["locale"], row["contents"]),
    )


def load_compiled(
    conn: Connection, tenant_id: str, template_id: str, version: int
) -> CompiledTemplate:
    """A version by id, compiled; read from the database only on a cache miss."""

    def build() -> CompiledTemplate:
        row = templates.get_version(conn, tenant_id, template_id, version)
        if row is None:
            raise NotFound(f"template version {template_id} v{version} not found")
        return _compile(row["locale"], row["contents"])

    return _compiled.get_or_compile((template_id, version), build)


def content_for(conn: Connection, delivery: Mapping[str, Any]) -> dict[str, Any]:
    """What a claimed delivery sends on its channel: the inline content as given, or its
    pinned template version rendered in the delivery's locale for its recipient.

    Raises RenderFailed when the template cannot render for this recipient.
    """
    channel = delivery["channel"]
    if delivery["template_id"] is None:
        content: dict[str, Any] = delivery["content"][channel]
        return content
    compiled = load_compiled(
        conn, delivery["tenant_id"], delivery["template_id"], delivery["template_version"]
    )
    recipient = recipient_variables(delivery["recipient"])
    return compiled.render(
        channel, delivery["locale"], render_variables(delivery["variables"], recipient)
    )


def recipient_variables(recipient: Mapping[str, Any], **known: Any) -> dict[str, Any]:
    """`recipient.*` for templates: every field present (None when unknown), so a template
    can test `recipient.name` without failing on strict undefined."""
    fields: dict[str, Any] = dict.fromkeys(RECIPIENT_FIELDS)
    fields.update(recipient)
    fields.update({k: v for k, v in known.items() if v is not None})
    return fields


def render_variables(variables: Mapping[str, Any], recipient: Mapping[str, Any]) -> dict[str, Any]:
    return {**variables, "recipient": recipient}


def _compile_request(body: TemplateVersionIn) -> tuple[CompiledTemplate, list[str]]:
    """Compile every part (rejecting unsafe or broken ones) and list the variables needed."""

    def field(locale: str, channel: str) -> str:
        if locale == body.locale:
            return f"channels.{channel}"
        return f"translations.{locale}.{channel}"

    compiled = _compile(body.locale, body.contents(), field_prefix=field)
    return compiled, sorted(compiled.variables - RESERVED_VARIABLES)


def create_template(
    db: Database, tenant_id: str, body: CreateTemplateRequest, *, idempotency_key: str | None
) -> idempotency.StoredResponse:
    """Create a template at version 1. 409 when the key exists (archived ones included)."""
    compiled, variables = _compile_request(body)
    template_id = new_id("tpl")

    def store(conn: Connection) -> dict[str, Any]:
        if not templates.insert_template(
            conn, template_id=template_id, tenant_id=tenant_id, key=body.key
        ):
            raise Conflict(f"a template with key '{body.key}' already exists")
        _insert_version(
            conn,
            tenant_id=tenant_id,
            template_id=template_id,
            version=1,
            body=body,
            variables=variables,
        )
        return _template_out(_get_row(conn, tenant_id, body.key, None)).model_dump(mode="json")

    with db.transaction() as conn:
        result = idempotency.respond_once(
            conn,
            tenant_id,
            idempotency_key,
            body,
            operation="create_template",
            status_code=201,
            create=lambda: store(conn),
        )
    if not result.replayed:  # sends use it next: compiled once already, on save
        _compiled.get_or_compile((template_id, 1), lambda: compiled)
    return result


def update_template(db: Database, tenant_id: str, key: str, body: TemplateVersionIn) -> TemplateOut:
    """Add the next version and make it active; an archived template is restored."""
    compiled, variables = _compile_request(body)
    with db.transaction() as conn:
        reserved = templates.next_version(conn, tenant_id, key)
        if reserved is None:
            raise NotFound(f"template '{key}' not found")
        _insert_version(
            conn,
            tenant_id=tenant_id,
            template_id=reserved["id"],
            version=reserved["version"],
            body=body,
            variables=variables,
        )
        out = _template_out(_get_row(conn, tenant_id, key, None))
    # Sends use it next: compiled once already, on save.
    _compiled.get_or_compile((reserved["id"], reserved["version"]), lambda: compiled)
    return out


def _insert_version(
    conn: Connection,
    *,
    tenant_id: str,
    template_id: str,
    version: int,
    body: TemplateVersionIn,
    variables: list[str],
) -> None:
    templates.insert_version(
        conn,
        template_id=template_id,
        tenant_id=tenant_id,
        version=version,
        name=body.name,
        locale=body.locale,
        contents=body.contents(),
        variables=variables,
    )


def get_template(
    db: Database, tenant_id: str, key: str, *, version: int | None, locale: str | None
) -> TemplateOut:
    """The active version (or `version`); with `locale`, each channel's content for it."""
    row = _get_row(db.connection(), tenant_id, key, version)
    return _template_out(row, locale)


def _get_row(conn: Connection, tenant_id: str, key: str, version: int | None) -> Row:
    row = templates.get_template(conn, tenant_id, key, version)
    if row is None:
        if version is not None and templates.template_exists(conn, tenant_id, key):
            raise NotFound(f"template '{key}' has no version {version}")
        raise NotFound(f"template '{key}' not found")
    return row


def _template_out(row: Row, locale: str | None = None) -> TemplateOut:
    contents: dict[str, dict[str, Any]] = row["contents"]
    default = row["locale"]
    channels = contents[default]
    content_locales = None
    if locale is not None:
        compiled = _compiled_row(row)
        content_locales = {}
        channels = {}
        for channel in sorted(compiled.channels()):
            chosen = compiled.resolve_locale(locale, channel)
            if chosen is not None:
                channels[channel] = contents[chosen][channel]
                content_locales[channel] = chosen
    return TemplateOut(
        id=row["id"],
        key=row["key"],
        status=row["status"],
        version=row["version"],
        active_version=row["active_version"],
        latest_version=row["latest_version"],
        name=row["name"],
        locale=default,
        channels=channels,
        content_locales=content_locales,
        translations={tag: c for tag, c in contents.items() if tag != default},
        variables=row["variables"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version_created_at=row["version_created_at"],
    )


def list_templates(
    db: Database, tenant_id: str, *, status: TemplateStatus, cursor: str | None, limit: int
) -> Page[TemplateSummary]:
    """Templates by key, `limit` per page."""
    after = decode_cursor(cursor) if cursor else None
    rows = templates.list_templates(
        db.connection(), tenant_id, status=status, after_key=after, limit=limit + 1
    )
    rows, next_cursor = page_rows(rows, limit, "key")
    return Page[TemplateSummary](
        items=[TemplateSummary(**r) for r in rows], next_cursor=next_cursor
    )


def list_versions(
    db: Database, tenant_id: str, key: str, *, cursor: str | None, limit: int
) -> Page[TemplateVersionSummary]:
    """Every version of a template, newest first."""
    before = _decode_version_cursor(cursor) if cursor else None
    conn = db.connection()
    rows = templates.list_versions(conn, tenant_id, key, before=before, limit=limit + 1)
    if not rows and not templates.template_exists(conn, tenant_id, key):
        raise NotFound(f"template '{key}' not found")
    rows, next_cursor = page_rows(rows, limit, "version")
    items = [
        TemplateVersionSummary(
            version=r["version"],
            name=r["name"],
            locale=r["locale"],
            locales=list(r["contents"]),
            channels=sorted({c for content in r["contents"].values() for c in content}),
            variables=r["variables"],
            active=r["active"],
            created_at=r["created_at"],
        )
        for r in rows
    ]
    return Page[TemplateVersionSummary](items=items, next_cursor=next_cursor)


def activate_version(db: Database, tenant_id: str, key: str, version: int) -> TemplateOut:
    """Make an existing version the one sends use: a rollback (or roll forward)."""
    with db.transaction() as conn:
        if templates.activate_version(conn, tenant_id, key, version) is None:
            _get_row(conn, tenant_id, key, version)  # raises the precise 404
        return _template_out(_get_row(conn, tenant_id, key, None))


def archive_template(db: Database, tenant_id: str, key: str) -> None:
    """Archive: sends by this key are refused; its versions stay for history and rollback."""
    if templates.archive_template(db.connection(), tenant_id, key) is None:
        raise NotFound(f"template '{key}' not found")


def preview(db: Database, tenant_id: str, key: str, request: PreviewRequest) -> PreviewOut:
    """Render one channel of a version for the given variables, locale and recipient."""
    row = _get_row(db.connection(), tenant_id, key, request.version)
    compiled = _compiled_row(row)
    locale = compiled.resolve_locale(request.locale, request.channel)
    if locale is None:
        raise Unprocessable(
            f"template '{key}' has no {request.channel} content",
            [{"field": "channel", "message": "not defined by this template"}],
        )
    _require_variables(compiled.channel_variables(locale, request.channel), request.variables)
    recipient = recipient_variables(request.recipient, locale=request.locale)
    content = compiled.render(
        request.channel, locale, render_variables(request.variables, recipient)
    )
    if request.channel == "email":
        content = complete_email(content)
    sms = None
    if request.channel in ("sms", "whatsapp") and content.get("text"):
        encoding = sms_encoding(content["text"])
        sms = SmsInfo(
            encoding=encoding.encoding,
            segments=encoding.segments,
            characters=encoding.characters,
        )
    size, limit = push.payload_bytes(request.channel, content), push.payload_limit(request.channel)
    payload = None
    if size is not None and limit is not None:
        payload = PayloadInfo(bytes=size, limit_bytes=limit, fits=size <= limit)
    return PreviewOut(
        key=key,
        version=row["version"],
        channel=request.channel,
        locale=locale,
        content=content,
        sms=sms,
        payload=payload,
    )


def _require_variables(required: Iterable[str], given: Mapping[str, Any]) -> None:
    missing = sorted(set(required) - RESERVED_VARIABLES - set(given))
    if missing:
        raise Unprocessable(
            "missing template variables: " + ", ".join(missing),
            [
                {"field": f"variables.{name}", "message": "required by the template"}
                for name in missing
            ],
        )


def prepare_send(
    conn: Connection,
    tenant_id: str,
    key: str,
    *,
    channels: list[Channel] | None,
    sendable: frozenset[Channel],
    variables: Mapping[str, Any],
    sample_recipient: Mapping[str, Any],
) -> TemplateSend:
    """Check a send by template before anything is stored or queued.

    The active version is pinned; every variable its content needs for the chosen
    channels must be given (422 naming each missing one), and the content must render
    for each locale it defines, so a runaway or broken template is refused here rather
    than failing in the workers.
    """
    # Only the key's state is read on every send; the content only on a cache miss.
    row = templates.get_send_state(conn, tenant_id, key)
    if row is None:
        raise Unprocessable(
            f"template '{key}' not found",
            [{"field": "template", "message": "no template with this key"}],
        )
    if row["status"] == "archived":
        raise Unprocessable(
            f"template '{key}' is archived",
            [{"field": "template", "message": "archived templates cannot be sent"}],
        )
    compiled = load_compiled(conn, tenant_id, row["id"], row["active_version"])
    defined = compiled.channels()
    if channels is None:
        channels = [c for c in CHANNELS if c in defined and c in sendable]
        if not channels:
            raise Unprocessable(
                f"template '{key}' has no content for a channel Herald can send yet",
                [{"field": "template", "message": "defines only unavailable channels"}],
            )
    used = [c for c in channels if c in defined]
    _require_variables(compiled.variables_for(used), variables)
    recipient = recipient_variables(sample_recipient)
    for locale in compiled.locales():
        for channel in used:
            if compiled.has_content(locale, channel):
                compiled.render(channel, locale, render_variables(variables, recipient))
    return TemplateSend(template_id=row["id"], version=row["active_version"], channels=channels)


def _decode_version_cursor(cursor: str) -> int:
    value = decode_cursor(cursor)
    # ASCII digits only (str.isdigit() also takes "²"), within PostgreSQL's integer.
    if not re.fullmatch(r"[0-9]{1,10}", value) or int(value) > INT4_MAX:
        raise InvalidRequest("invalid cursor", [{"field": "cursor", "message": "invalid"}])
    return int(value)
