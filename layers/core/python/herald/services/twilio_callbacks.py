"""Twilio's callbacks, once verified: message statuses, and inbound messages (STOP, START,
HELP, and the opening of WhatsApp windows)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from herald.db import deliveries, preference_events, suppressions, whatsapp_sessions
from herald.db.connection import Database
from herald.services.provider_events import next_status
from herald.services.text_messages import WHATSAPP_PREFIX, phone_of

logger = logging.getLogger(__name__)

# Twilio MessageStatus -> delivery status; queued/accepted/sending confirm nothing new.
TWILIO_STATUS: dict[str, str] = {
    "sent": "sent",
    "delivered": "delivered",
    "undelivered": "failed",
    "failed": "failed",
    "read": "read",
}
# Twilio's standard opt-out keywords (plus REVOKE and OPTOUT), matched on the whole body.
STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
START_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP"})
SUPPRESSION_REASON = "stop"
SUPPRESSION_SOURCE = "twilio"


@dataclass(frozen=True)
class StatusApplied:
    applied: bool
    # For the events topic, as for email: the delivery's new status, if it moved.
    changes: list[dict[str, Any]]


def apply_status(
    db: Database, tenant_id: str, delivery_id: str, params: Mapping[str, str]
) -> StatusApplied:
    """Record one status callback on its delivery's history and move its status forward.

    Idempotent (a status is recorded once per message) and tolerant of order: a late `sent`
    never moves a `delivered` delivery back. `undelivered` and `failed` keep Twilio's
    ErrorCode as the delivery's error.
    """
    twilio_status = params.get("MessageStatus") or params.get("SmsStatus") or ""
    incoming = TWILIO_STATUS.get(twilio_status)
    if incoming is None:
        return StatusApplied(False, [])
    now = datetime.now(UTC)
    with db.transaction() as conn:
        rows = deliveries.for_update_by_ids(conn, [delivery_id])
        if not rows or rows[0]["tenant_id"] != tenant_id:
            logger.info("twilio status for unknown delivery %s", delivery_id)
            return StatusApplied(False, [])
        row = rows[0]
        if row["status"] == incoming:
            # `sent` after the worker recorded it: no news, as for SendGrid's `processed`.
            return StatusApplied(False, [])
        detail = {
            "event": twilio_status,
            "message_sid": params.get("MessageSid"),
            "error_code": params.get("ErrorCode") or None,
        }
        event = deliveries.ProviderEvent(
            delivery_id=row["id"],
            tenant_id=row["tenant_id"],
            status=incoming,
            at=now,
            detail={k: v for k, v in detail.items() if v},
            provider_event_id=f"{params.get('MessageSid', '')}/{twilio_status}",
        )
        if not deliveries.insert_provider_events(conn, [event]):
            return StatusApplied(False, [])
        moved = next_status(row["status"], incoming)
        if moved is None:
            return StatusApplied(True, [])
        reason = twilio_status if moved == "failed" else None
        deliveries.set_statuses(conn, [(row["id"], moved, reason)])
        if params.get("ErrorCode"):
            error = f"Twilio error {params['ErrorCode']}: message {twilio_status}"
            deliveries.record_provider_errors(conn, [(row["id"], error)])
    change = {
        "type": f"delivery.{moved}",
        "tenant_id": row["tenant_id"],
        "notification_id": row["notification_id"],
        "delivery_id": row["id"],
        "channel": row["channel"],
        "status": moved,
        "at": now.isoformat(),
    }
    return StatusApplied(True, [change])


@dataclass(frozen=True)
class InboundOutcome:
    keyword: Literal["stop", "start", "help"] | None
    tenants: list[str]
    reply: str | None
    """Text to answer with (HELP); None for no reply."""


def handle_inbound(
    db: Database, params: Mapping[str, str], *, help_text: str, tenant_id: str | None = None
) -> InboundOutcome:
    """Act on a message a user sent to Herald's number, or (`tenant_id`) to a number of a
    tenant's own Twilio account.

    STOP and its synonyms suppress the number (for SMS and WhatsApp alike), START and its
    synonyms lift that suppression, and HELP is answered with `help_text`; each is recorded
    as a preference event with source `provider`. To Herald's number, this holds for every
    tenant that messages the user through the deployment's account; to a tenant's own
    number, for that tenant alone. A WhatsApp message also opens the user's 24-hour window
    with that business number.
    """
    sender_address = params.get("From", "")
    phone = phone_of(sender_address)
    keyword = _keyword(params.get("Body", ""))
    now = datetime.now(UTC)
    with db.transaction() as conn:
        if sender_address.startswith(WHATSAPP_PREFIX) and params.get("To"):
            whatsapp_sessions.record_inbound(conn, params["To"], phone, now)
        if keyword is None or not phone:
            return InboundOutcome(None, [], None)
        tenants = (
            [tenant_id] if tenant_id is not None else suppressions.tenants_messaging(conn, phone)
        )
        detail = {"message_sid": params.get("MessageSid"), "body": params.get("Body", "")[:160]}
        for tenant in tenants:
            if keyword == "stop":
                suppressions.add_suppressions(
                    conn, tenant, [(phone, SUPPRESSION_REASON, SUPPRESSION_SOURCE, detail)]
                )
            elif keyword == "start":
                suppressions.lift_suppression(
                    conn, tenant, phone, SUPPRESSION_REASON, source="provider"
                )
            else:
                preference_events.record_event(
                    conn,
                    tenant,
                    user_id=None,
                    address=phone,
                    source="provider",
                    change={"help": "requested"},
                )
    return InboundOutcome(keyword, tenants, help_text if keyword == "help" else None)


def _keyword(body: str) -> Literal["stop", "start", "help"] | None:
    word = body.strip().upper()
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    if word in HELP_WORDS:
        return "help"
    return None
