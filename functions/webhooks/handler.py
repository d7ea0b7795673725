"""Provider callbacks: signature-verified status events in, delivery status out."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import parse_qsl

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from herald.aws.secrets import database_url, provider_credentials
from herald.aws.sns import EventPublisher
from herald.aws.sqs import MessageQueue
from herald.channels import sendgrid_events, twilio_signatures
from herald.db import integrations
from herald.db.connection import Database
from herald.models.messages import DispatchMessage
from herald.services import fallback, twilio_callbacks
from herald.services.provider_events import apply_sendgrid_events
from herald.settings import Settings

logger = Logger()
tracer = Tracer()
settings = Settings()
db = Database(database_url(settings), settings.database_prepare_threshold)
publisher = EventPublisher(settings.required("events_topic_arn"))
# A failure reported after a notification's send was recorded may call for its fallback.
dispatch_queue = MessageQueue(settings.required("dispatch_queue_url"))
secret_id = settings.required("provider_secret_id")
app = APIGatewayHttpResolver()


def _error(status: int, code: str, message: str) -> Response[str]:
    body = {
        "error": {"code": code, "message": message, "details": []},
        "request_id": app.current_event.request_context.request_id,
    }
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body)
    )


def _raw_body() -> str:
    # Bytes that are not UTF-8 are kept as U+FFFD: the signature, made over the real bytes,
    # then fails (401), as for any other forged body.
    event = app.current_event
    body = event.body or ""
    return base64.b64decode(body).decode("utf-8", "replace") if event.is_base64_encoded else body


@app.post("/v1/callbacks/sendgrid")
def sendgrid_callback() -> Response[str]:
    public_key = str(provider_credentials(secret_id).get("sendgrid_webhook_public_key", ""))
    return _sendgrid_events(public_key, tenant_id=None)


@app.post("/v1/callbacks/sendgrid/<integration_id>")
def sendgrid_integration_callback(integration_id: str) -> Response[str]:
    """The Event Webhook of a tenant's own SendGrid account: signed with that account's key
    (the integration's `webhook_public_key`), about that tenant's deliveries only."""
    integration = integrations.sendgrid_by_id(db.connection(), integration_id)
    if integration is None:
        # Unknown and unsigned look the same: nothing tells a caller which ids exist.
        return _error(401, "UNAUTHENTICATED", "missing or invalid SendGrid signature")
    public_key = str(integration["settings"].get("webhook_public_key", ""))
    return _sendgrid_events(public_key, tenant_id=integration["tenant_id"])


def _sendgrid_events(public_key: str, *, tenant_id: str | None) -> Response[str]:
    payload = _raw_body()
    headers = app.current_event.headers
    signed = sendgrid_events.verify_signature(
        public_key,
        payload,
        headers.get(sendgrid_events.SIGNATURE_HEADER),
        headers.get(sendgrid_events.TIMESTAMP_HEADER),
    )
    if not signed:
        return _error(401, "UNAUTHENTICATED", "missing or invalid SendGrid signature")
    try:
        events = json.loads(payload)
    except json.JSONDecodeError:
        return _error(400, "VALIDATION_ERROR", "body is not JSON")
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        return _error(400, "VALIDATION_ERROR", "body must be a JSON array of event objects")
    if tenant_id is not None:
        # A tenant's account reports on that tenant's deliveries, never another's.
        events = [e for e in events if e.get("tenant_id") == tenant_id]
    result = apply_sendgrid_events(db, events)
    if result.changes:
        publisher.publish(result.changes)
        _wake_fallbacks(result.changes)
    body = {"applied": result.applied, "duplicates": result.duplicates, "ignored": result.unmatched}
    return Response(
        status_code=200, content_type=content_types.APPLICATION_JSON, body=json.dumps(body)
    )


def _wake_fallbacks(changes: list[dict[str, Any]]) -> None:
    """Dispatch again the notifications whose next fallback step a late failure made due."""
    woken = fallback.wake_after_late_failures(db, changes)
    dispatch_queue.send_many(
        [DispatchMessage(tenant_id=n["tenant_id"], notification_id=n["id"]) for n in woken]
    )


def _twilio_form(auth_token: str) -> dict[str, str] | None:
    """The form parameters of a Twilio callback, or None when it is not signed with
    `auth_token`."""
    event = app.current_event
    try:
        params = dict(parse_qsl(_raw_body(), keep_blank_values=True))
    except (ValueError, binascii.Error):  # not UTF-8, or not base64: nothing Twilio signed
        return None
    # Twilio signs the URL it called: the deployment's public URL, query included.
    url = settings.public_base_url.rstrip("/") + event.path
    if event.raw_query_string:
        url += "?" + event.raw_query_string
    signature = event.headers.get(twilio_signatures.SIGNATURE_HEADER)
    if not twilio_signatures.verify_signature(auth_token, url, params, signature):
        return None
    return params


def _deployment_twilio_token() -> str:
    return str(provider_credentials(secret_id).get("twilio_auth_token", ""))


def _twilio_auth_token(query: dict[str, str]) -> str:
    """The token a Twilio callback is signed with: the deployment's account's, or, for a
    message a tenant's own account sent (its callback URL names the integration), that
    account's. An integration the URL's tenant does not own has no token (401)."""
    integration_id = query.get("integration_id")
    if integration_id is None:
        return _deployment_twilio_token()
    integration = integrations.twilio_of_tenant(
        db.connection(), query.get("tenant_id", ""), integration_id
    )
    if integration is None or not integration["secret_id"]:
        return ""
    return str(provider_credentials(integration["secret_id"]).get("auth_token", ""))


def _twiml(text: str | None) -> Response[str]:
    return Response(
        status_code=200, content_type="application/xml", body=twilio_signatures.twiml_reply(text)
    )


@app.post("/v1/callbacks/twilio/status")
def twilio_status_callback() -> Response[str]:
    query = app.current_event.query_string_parameters or {}
    params = _twilio_form(_twilio_auth_token(query))
    if params is None:
        return _error(401, "UNAUTHENTICATED", "missing or invalid Twilio signature")
    delivery_id, tenant_id = query.get("delivery_id"), query.get("tenant_id")
    if not delivery_id or not tenant_id:
        return _error(400, "VALIDATION_ERROR", "the callback URL names no delivery")
    result = twilio_callbacks.apply_status(db, tenant_id, delivery_id, params)
    if result.changes:
        publisher.publish(result.changes)
        _wake_fallbacks(result.changes)
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"applied": result.applied}),
    )


@app.post("/v1/callbacks/twilio/inbound")
def twilio_inbound_callback() -> Response[str]:
    """Messages to the deployment's own numbers."""
    params = _twilio_form(_deployment_twilio_token())
    if params is None:
        return _error(401, "UNAUTHENTICATED", "missing or invalid Twilio signature")
    outcome = twilio_callbacks.handle_inbound(db, params, help_text=settings.sms_help_text)
    return _inbound_answer(outcome, integration_id=None)


@app.post("/v1/callbacks/twilio/inbound/<integration_id>")
def twilio_integration_inbound_callback(integration_id: str) -> Response[str]:
    """Messages to the numbers of a tenant's own Twilio account (the webhook URL the tenant
    set on them names the integration): signed with that account's token, from that
    account, and applied to that tenant alone. The answer to HELP goes out from the number
    that was written to, with the integration's `help_text` if it has one."""
    integration = integrations.twilio_by_id(db.connection(), integration_id)
    # Unknown and unsigned look the same: nothing tells a caller which ids exist.
    credentials = (
        provider_credentials(integration["secret_id"])
        if integration is not None and integration["secret_id"]
        else {}
    )
    params = _twilio_form(str(credentials.get("auth_token", "")))
    if integration is None or params is None:
        return _error(401, "UNAUTHENTICATED", "missing or invalid Twilio signature")
    if params.get("AccountSid") != credentials.get("account_sid"):
        return _error(401, "UNAUTHENTICATED", "the message is not from this integration's account")
    help_text = integration["settings"].get("help_text") or settings.sms_help_text
    outcome = twilio_callbacks.handle_inbound(
        db, params, help_text=help_text, tenant_id=integration["tenant_id"]
    )
    return _inbound_answer(outcome, integration_id=integration_id)


def _inbound_answer(
    outcome: twilio_callbacks.InboundOutcome, *, integration_id: str | None
) -> Response[str]:
    if outcome.keyword:
        logger.info(
            "twilio inbound",
            extra={
                "keyword": outcome.keyword,
                "tenants": outcome.tenants,
                "integration_id": integration_id,
            },
        )
    return _twiml(outcome.reply)


@app.not_found
def not_found(_: Exception) -> Response[str]:
    return _error(404, "NOT_FOUND", f"no callback at {app.current_event.path}")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
