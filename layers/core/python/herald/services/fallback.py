"""Fallback channels: the next way through for a recipient no primary channel reached.

A recipient's deliveries form steps: the primary channels, then each fallback channel in the
order given. The next step is taken when every delivery of the current one gave up (failed,
bounced, or skipped for want of an address or device) or, with `fallback_after_seconds`, when
none reached the recipient (`delivered` or further) within that time. A fallback delivery is
planned like any other (suppressions, preferences and quiet hours apply) and records the
deliveries it replaces. Once any delivery reaches the recipient, fallbacks still waiting are
canceled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from herald.db import deliveries, notifications
from herald.db.connection import Connection, Database, Row
from herald.db.deliveries import NewDelivery
from herald.models.common import Channel
from herald.services import audience, templates

# A delivery in one of these reached its recipient: no fallback is needed any more.
REACHED = frozenset({"delivered", "opened", "clicked", "read"})
# Skips that mean "this channel cannot reach the recipient", not "the recipient said no".
UNREACHABLE = frozenset({"no_address", "no_device"})
# Attempted, so a fallback deadline may run against it.
ATTEMPTED = frozenset({"queued", "deferred", "sending", "sent", "failed", "bounced"})
CANCEL_REASON = "reached_by_another_channel"


def gave_up(delivery: Mapping[str, Any]) -> bool:
    """Whether this delivery can no longer reach its recipient."""
    status = delivery["status"]
    return status in ("failed", "bounced") or (
        status == "skipped" and delivery["reason"] in UNREACHABLE
    )


@dataclass(frozen=True)
class DueFallback:
    recipient_index: int
    channel: str
    replaces: tuple[str, ...]


@dataclass
class Decisions:
    due: list[DueFallback] = field(default_factory=list)
    # Fallback deliveries not yet sent whose recipient another delivery has reached.
    to_cancel: list[str] = field(default_factory=list)
    # The earliest fallback deadline still ahead, if any.
    check_at: datetime | None = None


def decide(
    rows: Sequence[Mapping[str, Any]],
    fallback: Sequence[str],
    *,
    after: timedelta | None,
    now: datetime,
    untimed: frozenset[str] = frozenset(),
) -> Decisions:
    """Which recipients take their next fallback step now, which fallbacks to cancel, and
    when to look again. `rows` are a notification's deliveries; `untimed` are ids of
    deliveries whose deadline must not run yet (created in this very pass)."""
    decisions = Decisions()
    by_recipient: dict[int, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_recipient.setdefault(row["recipient_index"], []).append(row)
    for index, own in sorted(by_recipient.items()):
        if any(r["status"] in REACHED for r in own):
            decisions.to_cancel.extend(
                r["id"]
                for r in own
                if r["channel"] in fallback and r["status"] in ("queued", "deferred")
            )
            continue
        channels = {r["channel"] for r in own}
        taken = [c for c in fallback if c in channels]
        if len(taken) == len(fallback):
            continue
        step = (
            [r for r in own if r["channel"] == taken[-1]]
            if taken
            else [r for r in own if r["channel"] not in fallback]
        )
        if not step:
            continue
        replaces = tuple(r["id"] for r in step)
        next_step = DueFallback(index, fallback[len(taken)], replaces)
        if all(gave_up(r) for r in step):
            decisions.due.append(next_step)
            continue
        attempted = [r for r in step if r["status"] in ATTEMPTED]
        if after is None or not attempted or any(r["id"] in untimed for r in step):
            continue
        deadline = max(r["created_at"] for r in step) + after
        if deadline <= now:
            decisions.due.append(next_step)
        elif decisions.check_at is None or deadline < decisions.check_at:
            decisions.check_at = deadline
    return decisions


@dataclass
class CascadeOutcome:
    planned: list[NewDelivery] = field(default_factory=list)
    canceled: list[str] = field(default_factory=list)
    check_at: datetime | None = None


def cascade(conn: Connection, notification: Mapping[str, Any], *, now: datetime) -> CascadeOutcome:
    """Take every fallback step now due for the recipients of `notification` (a locked row),
    cancel the fallbacks no longer needed, and record when to look again.

    Idempotent: a recipient's step is one delivery per channel (inserted at most once), and a
    step planned as skipped for want of an address leads straight to the next one, in this
    same pass.
    """
    outcome = CascadeOutcome()
    fallback: list[str] = list(notification["fallback"])
    seconds = notification["fallback_after_seconds"]
    after = timedelta(seconds=seconds) if seconds else None
    tenant_id = notification["tenant_id"]
    template = None
    created: set[str] = set()
    for _ in range(len(fallback) + 1):
        rows = deliveries.steps_of(conn, notification["id"])
        decisions = decide(rows, fallback, after=after, now=now, untimed=frozenset(created))
        outcome.check_at = decisions.check_at
        outcome.canceled.extend(deliveries.cancel_waiting(conn, decisions.to_cancel, CANCEL_REASON))
        if not decisions.due:
            break
        if template is None and notification["template_id"] is not None:
            template = templates.load_compiled(
                conn, tenant_id, notification["template_id"], notification["template_version"]
            )
        planned = _plan(conn, notification, decisions.due, template=template, now=now)
        deliveries.insert_deliveries(conn, tenant_id, notification["id"], planned)
        created.update(d.id for d in planned)
        outcome.planned.extend(planned)
    notifications.set_fallback_check(conn, notification["id"], outcome.check_at)
    return outcome


def _plan(
    conn: Connection,
    notification: Mapping[str, Any],
    due: Sequence[DueFallback],
    *,
    template: Any,
    now: datetime,
) -> list[NewDelivery]:
    """The fallback deliveries of these steps, decided like primary ones."""
    # Imported here: dispatch imports this module to run the cascade.
    from herald.services.dispatch import plan_deliveries

    tenant_id = notification["tenant_id"]
    channels = sorted({d.channel for d in due})
    given = [notification["recipients"][d.recipient_index] for d in due]
    recipients = audience.with_devices(
        conn, tenant_id, audience.resolve(conn, tenant_id, given), channels
    )
    suppressed = audience.suppressed_addresses(conn, tenant_id, recipients, channels)
    planned = []
    for step, recipient in zip(due, recipients, strict=True):
        (delivery,) = plan_deliveries(
            [recipient],
            [cast(Channel, step.channel)],
            template=template,
            suppressed=suppressed,
            category=notification["category"],
            critical=notification["critical"],
            now=now,
        )
        planned.append(
            replace(delivery, recipient_index=step.recipient_index, replaces=step.replaces)
        )
    return planned


def wake_after_late_failures(db: Database, changes: Sequence[Mapping[str, Any]]) -> list[Row]:
    """The notifications whose dispatch must run again because a provider reported, after
    their send was recorded, that a delivery gave up (a SendGrid bounce, Twilio's
    `undelivered`): `changes` are the status events the callback recorded. Only those whose
    next fallback step is now due are returned; a closed one is reopened (`processing`)
    first, so dispatch takes the step and closes it again."""
    given_up = sorted(
        {c["notification_id"] for c in changes if c["status"] in ("failed", "bounced")}
    )
    if not given_up:
        return []
    woken = []
    with db.transaction() as conn:
        for row in notifications.lock_fallback_notifications(conn, given_up):
            steps = deliveries.steps_of(conn, row["id"])
            if not decide(steps, row["fallback"], after=None, now=datetime.now(UTC)).due:
                continue
            if row["status"] != "processing":
                notifications.reopen(conn, row["id"])
            woken.append(row)
    return woken
