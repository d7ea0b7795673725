"""The sweeper runs only while work is in flight, so an idle Herald lets Aurora pause.

There is no fixed-rate rule. Sweeps are one-time EventBridge Scheduler schedules aligned on
slots of `interval` and named after their slot (`sweep-<slot>`), so arming the same slot twice
is one schedule (the second CreateSchedule is a conflict, not a second run):

- the API arms the first slot at least `stall_grace` after a notification is accepted (or after
  its send_at), when the sweeper could first find it stalled; dispatch does the same for the end
  of a recipient's quiet hours;
- the sweeper, after its run, arms the next slot while anything is still in flight, and also
  when the run failed, so a failure never ends the chain. Once nothing is pending it arms
  nothing, and no schedule is left.

Why nothing is missed: sweep schedules are never cancelled, so an armed slot fires. Work is
committed before its slot is armed, the slot lies in the future, and the sweeper queries after
its slot fired: it sees the work, and renews. Arming is remembered per execution environment
(`_armed`), so a busy API calls CreateSchedule about once per environment per interval.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from herald.db import in_flight
from herald.db.connection import Database

logger = logging.getLogger(__name__)

SCHEDULE_PREFIX = "sweep-"

T = TypeVar("T")


class Scheduler(Protocol):
    def schedule(self, name: str, at: datetime, payload: str) -> bool: ...


class SweepSchedule:
    """Arms sweeper runs on slot boundaries (see the module docstring)."""

    def __init__(
        self,
        scheduler: Scheduler,
        *,
        interval: timedelta = timedelta(minutes=5),
        stall_grace: timedelta = timedelta(minutes=2),
        renew_lead: timedelta = timedelta(minutes=1),
    ) -> None:
        if not timedelta(0) < renew_lead < interval:
            raise ValueError("renew_lead must be shorter than the sweep interval")
        self._scheduler = scheduler
        self.interval = interval
        self._interval = interval.total_seconds()
        self._stall_grace = stall_grace
        self._renew_lead = renew_lead
        # Slots this execution environment has seen armed (created here, or by someone else).
        self._armed: set[int] = set()

    def slot_after(self, at: datetime) -> int:
        """The first slot boundary at or after `at`."""
        return math.ceil(at.timestamp() / self._interval)

    def slot_time(self, slot: int) -> datetime:
        return datetime.fromtimestamp(slot * self._interval, UTC)

    def work_started(self, due: datetime | None = None, *, now: datetime | None = None) -> None:
        """Work was committed that is due at `due` (default: now): make sure a sweep runs
        once it could have stalled. Never raises: the caller's work is already accepted."""
        start = max(due or now or datetime.now(UTC), now or datetime.now(UTC))
        self._arm(self.slot_after(start + self._stall_grace))

    def renew(self, now: datetime | None = None) -> int:
        """Arm the sweep after this one (the sweeper, while work is pending); its slot."""
        slot = self.slot_after((now or datetime.now(UTC)) + self._renew_lead)
        self._arm(slot)
        return slot

    def _arm(self, slot: int) -> None:
        if slot in self._armed:
            return
        payload = json.dumps({"source": "herald.sweep", "slot": slot})
        try:
            self._scheduler.schedule(f"{SCHEDULE_PREFIX}{slot}", self.slot_time(slot), payload)
        except Exception:
            # The sweeper is a safety net: losing one arming delays recovery of stalled work
            # until the next accepted notification arms again; it loses nothing accepted.
            logger.exception("could not arm the sweeper for slot %d", slot)
            return
        self._armed = {armed for armed in self._armed if armed >= slot - 1} | {slot}


def run_while_pending(
    db: Database,
    schedule: SweepSchedule,
    sweep: Callable[[], T],
    *,
    now: datetime | None = None,
) -> tuple[T, bool]:
    """Run `sweep`, then renew the schedule if work is still in flight or the run failed;
    its result, and whether the schedule was renewed.

    "In flight" counts what a later sweep could have to rescue: accepted notifications,
    scheduled ones due before the next slot, deliveries queued or sending, deferred ones due
    before the next slot. Later sends and quiet hours arm their own slot (`work_started`).
    """
    now = now or datetime.now(UTC)
    try:
        result = sweep()
        pending = in_flight.work_in_flight(db.connection(), horizon=now + schedule.interval)
    except Exception:
        schedule.renew(now)
        raise
    if pending:
        schedule.renew(now)
    return result, pending
