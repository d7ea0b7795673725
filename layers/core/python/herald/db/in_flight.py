"""Whether anything is still moving through the pipeline (the sweeper's reason to run again)."""

from __future__ import annotations

from datetime import datetime

from herald.db.connection import Connection


def work_in_flight(conn: Connection, *, horizon: datetime) -> bool:
    """Notifications not dispatched yet, or deliveries not finished, that are due by `horizon`,
    or webhook messages not sent yet (their retries hop through the queue, so a lost queue
    message is the sweeper's to find, however far ahead the next attempt is), or
    notifications with fallback channels dispatch has still to close.

    The three tables keep partial indexes on exactly these statuses, so the answer is a probe
    of three small indexes whatever the history's size.
    """
    row = conn.execute(
        "SELECT EXISTS ("
        "  SELECT 1 FROM notifications"
        "  WHERE status = 'accepted' OR (status = 'scheduled' AND send_at <= %(horizon)s)"
        ") OR EXISTS ("
        "  SELECT 1 FROM deliveries"
        "  WHERE status IN ('queued', 'sending')"
        "     OR (status = 'deferred' AND (next_attempt_at IS NULL"
        "                                  OR next_attempt_at <= %(horizon)s))"
        ") OR EXISTS ("
        "  SELECT 1 FROM webhook_messages WHERE status IN ('pending', 'sending')"
        ") OR EXISTS ("
        # A notification with fallback channels that only dispatch can close (see
        # herald.services.fallback): its next deadline, or its closing, is still to come.
        "  SELECT 1 FROM notifications WHERE status = 'processing' AND cardinality(fallback) > 0"
        "  AND (fallback_check_at IS NULL OR fallback_check_at <= %(horizon)s)"
        ") OR EXISTS ("
        "  SELECT 1 FROM batch_slices WHERE dispatched_at IS NULL"
        ") AS pending",
        {"horizon": horizon},
    ).fetchone()
    return bool(row and row["pending"])
