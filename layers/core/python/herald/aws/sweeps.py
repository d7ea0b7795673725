"""The sweeper's one-time schedules, configured from the settings."""

from __future__ import annotations

from datetime import timedelta

from herald.aws.scheduler import OneTimeScheduler
from herald.services.sweep_schedule import SweepSchedule
from herald.settings import Settings


def sweep_schedule(settings: Settings, scheduler: OneTimeScheduler) -> SweepSchedule:
    """Sweeps in the scheduler's group, invoking the sweeper function (HERALD_SWEEPER_ARN)."""
    return SweepSchedule(
        scheduler.for_target(settings.required("sweeper_arn")),
        interval=timedelta(seconds=settings.sweep_interval_seconds),
        # The first sweep comes when an accepted notification could first count as stalled.
        stall_grace=timedelta(seconds=settings.sweeper_notification_grace_seconds),
    )
