"""Whether anything is still moving through the pipeline (the sweeper's reason to run again)."""

from __future__ import annotations

from datetime import datetime

from herald.db.connection import Connection


def work_in_flight(conn: Connection, *, horizon: datetime) -> bool:
    """Notifications not dispatched yet, or deliveries not finished, that are due by `horizon`.

    Both tables keep partial indexes on exactly these statuses, so the answer is a probe of
    two small indexes whatever the history's size.
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
        ") AS pending",
        {"horizon": horizon},
    ).fetchone()
    return bool(row and row["pending"])
