"""Quiet hours: whether a user's daily window is on now, and when it ends.

The window is wall-clock time in the user's zone, so its length in real time changes on
DST days. Each day's window is turned into two instants, and `now` is inside when
start <= now < end. A wall-clock time that does not exist or exists twice is resolved the
same way for start and end:

- In a spring-forward gap (02:30 on 2026-03-08 in New York never happens) it becomes the
  first instant after the gap, the transition itself (03:00 EDT): the earliest moment the
  wall clock has reached the time.
- In a fall-back overlap (01:30 on 2026-11-01 in New York happens twice) it is the first
  occurrence (fold=0, 01:30 EDT): a window ends as soon as its end time is first shown, and
  does not reopen when the clock repeats the hour.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from herald.models.users import QuietHours


def quiet_until(now: datetime, window: QuietHours, timezone: str) -> datetime | None:
    """The UTC instant the quiet window ends, or None when `now` is outside it.

    `now` must be timezone-aware; `timezone` is an IANA name (validated on the user).
    """
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    crosses_midnight = window.end_time <= window.start_time
    # The window that started yesterday may still be on (22:00-08:00 at 07:00), or today's.
    for start_day in (today - timedelta(days=1), today):
        end_day = start_day + timedelta(days=1) if crosses_midnight else start_day
        start = _instant(start_day, window.start_time, zone)
        end = _instant(end_day, window.end_time, zone)
        if start <= now < end:
            return end
    return None


def _instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant the wall clock in `zone` shows `at` on `day` (see the module notes)."""
    wall = datetime.combine(day, at, tzinfo=zone)  # fold=0: the first occurrence
    instant = wall.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall.replace(tzinfo=None):
        return instant
    # In a gap: fold=1 reads the wall time with the offset after the transition, which lands
    # before it; fold=0, with the offset before it, lands on or after it.
    return _transition(wall.replace(fold=1).astimezone(UTC), instant, zone)


def _transition(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The first instant in (before, after] with the UTC offset `after` has (whole seconds)."""
    offset = after.astimezone(zone).utcoffset()
    low, high = int(before.timestamp()), int(after.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == offset:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)
