"""Deciding each recipient x channel: suppressions, preferences, critical, quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from herald.services.audience import Decision, Recipient, decide

NOON_UTC = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def user(preferences: dict[str, Any], timezone: str | None = None) -> Recipient:
    return Recipient(
        fields={"user_id": "u_1", "email": "Ada@Example.com"},
        preferences=preferences,
        timezone=timezone,
    )


def decision(recipient: Recipient, **fields: Any) -> Decision:
    options: dict[str, Any] = {"suppressed": {}, "category": None, "critical": False}
    options.update(fields)
    return decide(recipient, "email", now=NOON_UTC, **options)


@pytest.mark.parametrize(
    ("preferences", "fields", "expected"),
    [
        ({}, {}, Decision("queued")),
        ({"channels": {"email": False}}, {}, Decision("skipped", "opted_out")),
        ({"channels": {"email": False}}, {"critical": True}, Decision("skipped", "opted_out")),
        ({"channels": {"sms": False}}, {}, Decision("queued")),
        (
            {"categories": {"marketing": False}},
            {"category": "marketing"},
            Decision("skipped", "category_disabled"),
        ),
        ({"categories": {"marketing": False}}, {"category": "receipts"}, Decision("queued")),
        (
            {"categories": {"marketing": False}},
            {"category": "marketing", "critical": True},
            Decision("queued"),
        ),
        ({}, {"suppressed": {"ada@example.com": "bounce"}}, Decision("skipped", "suppressed")),
        (
            {},
            {"suppressed": {"ada@example.com": "bounce"}, "critical": True},
            Decision("skipped", "suppressed"),
        ),
    ],
)
def test_each_rule_decides_with_its_reason(
    preferences: dict[str, Any], fields: dict[str, Any], expected: Decision
) -> None:
    assert decision(user(preferences), **fields) == expected


def test_quiet_hours_defer_until_the_window_ends_in_the_users_time_zone() -> None:
    # given 12:00 UTC is 21:00 in Tokyo, inside 20:00-07:00
    recipient = user({"quiet_hours": {"start": "20:00", "end": "07:00"}}, "Asia/Tokyo")

    # when
    deferred = decision(recipient)
    critical = decision(recipient, critical=True)

    # then it waits until 07:00 Tokyo time, 22:00 UTC; critical ones go now
    assert deferred == Decision(
        "deferred", "quiet_hours", datetime(2026, 11, 21, 22, 0, tzinfo=UTC)
    )
    assert critical == Decision("queued")
    # without a time zone, the window is read in UTC (12:00 is outside it)
    assert decision(user({"quiet_hours": {"start": "20:00", "end": "07:00"}})) == Decision("queued")


def test_a_recipient_without_an_address_for_the_channel_is_skipped() -> None:
    assert decision(Recipient(fields={"user_id": "gone"})) == Decision("skipped", "no_address")
