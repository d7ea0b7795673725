"""One-time EventBridge Scheduler schedules that drop a message on a queue at an instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from herald.aws.clients import aws_client


class OneTimeScheduler:
    def __init__(
        self, group: str, role_arn: str, target_arn: str, client: Any | None = None
    ) -> None:
        self.group = group
        self._role_arn = role_arn
        self._target_arn = target_arn
        if client is not None:
            self._client = client

    @cached_property
    def _client(self) -> Any:
        """Made on first use: see herald.aws.clients."""
        return aws_client("scheduler")

    def for_target(self, target_arn: str) -> OneTimeScheduler:
        """The same group and role (and client, if made), for schedules with another target."""
        # The client is shared once made; not made here (this runs at cold start).
        made = self.__dict__.get("_client")
        return OneTimeScheduler(self.group, self._role_arn, target_arn, made)

    def schedule(self, name: str, at: datetime, payload: str) -> bool:
        """Create a schedule firing once at `at` and deleting itself; False when a schedule
        of that name exists already (names identify the work, so it is the same one).

        at() takes whole seconds: a fractional instant is rounded up, never fired early.
        """
        at = at.astimezone(UTC)
        if at.microsecond:
            at = at.replace(microsecond=0) + timedelta(seconds=1)
        when = at.strftime("%Y-%m-%dT%H:%M:%S")
        try:
            self._create(name, when, payload)
        except self._client.exceptions.ConflictException:
            return False
        return True

    def _create(self, name: str, when: str, payload: str) -> None:
        self._client.create_schedule(
            Name=name,
            GroupName=self.group,
            ScheduleExpression=f"at({when})",
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Target={
                "Arn": self._target_arn,
                "RoleArn": self._role_arn,
                "Input": payload,
                "RetryPolicy": {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185},
            },
        )

    def cancel(self, name: str) -> bool:
        """Delete a schedule; False when it no longer exists (it already fired)."""
        try:
            self._client.delete_schedule(Name=name, GroupName=self.group)
        except self._client.exceptions.ResourceNotFoundException:
            return False
        return True
