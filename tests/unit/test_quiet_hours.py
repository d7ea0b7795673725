"""Quiet hours: when a window is on and when it ends, in the user's zone, across DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from herald.models.users import QuietHours
from herald.services.quiet_hours import quiet_until

NEW_YORK = "America/New_York"
BERLIN = "Europe/Berlin"
NIGHT = QuietHours(start="22:00", end="08:00")
LUNCH = QuietHours(start="13:00", end="14:00")


def utc(iso: str) -> datetime:
    return datetime.fromisoformat(iso).replace(tzinfo=UTC)


def local(zone: str, iso: str, *, fold: int = 0) -> datetime:
    """A wall-clock time in `zone`; `fold=1` picks the second of a repeated hour."""
    return datetime.fromisoformat(iso).replace(tzinfo=ZoneInfo(zone), fold=fold)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (local(BERLIN, "2026-06-10 12:59"), None),
        (local(BERLIN, "2026-06-10 13:00"), local(BERLIN, "2026-06-10 14:00")),  # start is in
        (local(BERLIN, "2026-06-10 13:59:59"), local(BERLIN, "2026-06-10 14:00")),
        (local(BERLIN, "2026-06-10 14:00"), None),  # end is out
        (local(BERLIN, "2026-06-10 23:00"), None),
    ],
)
def test_a_window_within_one_day(now: datetime, expected: datetime | None) -> None:
    assert quiet_until(now, LUNCH, BERLIN) == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (local(BERLIN, "2026-06-10 21:59"), None),
        (local(BERLIN, "2026-06-10 22:00"), local(BERLIN, "2026-06-11 08:00")),
        (local(BERLIN, "2026-06-10 23:59"), local(BERLIN, "2026-06-11 08:00")),
        (local(BERLIN, "2026-06-11 00:00"), local(BERLIN, "2026-06-11 08:00")),
        (local(BERLIN, "2026-06-11 07:59"), local(BERLIN, "2026-06-11 08:00")),
        (local(BERLIN, "2026-06-11 08:00"), None),
        (local(BERLIN, "2026-06-11 12:00"), None),
    ],
)
def test_a_window_across_midnight(now: datetime, expected: datetime | None) -> None:
    assert quiet_until(now, NIGHT, BERLIN) == expected


def test_the_end_is_an_aware_utc_instant_whatever_zone_now_is_given_in() -> None:
    # given: 23:00 in New York, given as a Berlin time
    now = local(NEW_YORK, "2026-06-10 23:00").astimezone(ZoneInfo(BERLIN))

    # when
    until = quiet_until(now, NIGHT, NEW_YORK)

    # then: 08:00 EDT
    assert until == utc("2026-06-11 12:00")
    assert until is not None and until.tzinfo is UTC


def test_the_window_is_read_in_the_users_zone_not_in_utc() -> None:
    now = utc("2026-06-11 03:00")  # 05:00 in Berlin, 23:00 the day before in New York
    assert quiet_until(now, NIGHT, BERLIN) == utc("2026-06-11 06:00")
    assert quiet_until(now, NIGHT, NEW_YORK) == utc("2026-06-11 12:00")
    assert quiet_until(now, NIGHT, "Asia/Tokyo") is None  # 12:00 in Tokyo


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        quiet_until(datetime(2026, 6, 10, 23, 0), NIGHT, BERLIN)


# New York springs forward on 2026-03-08: 02:00 EST becomes 03:00 EDT (07:00 UTC).


def test_a_night_across_spring_forward_ends_at_the_local_time_one_hour_sooner() -> None:
    # given: 23:00 EST on the Saturday
    now = utc("2026-03-08 04:00")

    # when
    until = quiet_until(now, NIGHT, NEW_YORK)

    # then: 08:00 EDT, eight hours later where the clock moves nine
    assert until == local(NEW_YORK, "2026-03-08 08:00") == utc("2026-03-08 12:00")
    assert until is not None and until - now == timedelta(hours=8)


def test_an_end_in_the_spring_forward_gap_is_the_first_instant_after_it() -> None:
    # given: 02:30 does not exist on 2026-03-08 in New York
    window = QuietHours(start="22:00", end="02:30")

    # when
    until = quiet_until(utc("2026-03-08 04:00"), window, NEW_YORK)

    # then: 03:00 EDT, the transition
    assert until == utc("2026-03-08 07:00")
    assert quiet_until(utc("2026-03-08 06:59:59"), window, NEW_YORK) == until  # 01:59:59 EST
    assert quiet_until(utc("2026-03-08 07:00"), window, NEW_YORK) is None  # 03:00 EDT


def test_a_start_in_the_spring_forward_gap_opens_the_window_at_the_transition() -> None:
    window = QuietHours(start="02:30", end="06:00")
    assert quiet_until(utc("2026-03-08 06:59:59"), window, NEW_YORK) is None  # 01:59:59 EST
    assert quiet_until(utc("2026-03-08 07:00"), window, NEW_YORK) == utc("2026-03-08 10:00")
    # The day after, 02:30 exists again.
    assert quiet_until(utc("2026-03-09 06:29"), window, NEW_YORK) is None  # 02:29 EDT
    assert quiet_until(utc("2026-03-09 06:30"), window, NEW_YORK) == utc("2026-03-09 10:00")


def test_a_window_inside_the_spring_forward_gap_never_happens_that_day() -> None:
    window = QuietHours(start="02:10", end="02:50")
    for minute in range(0, 24 * 60, 5):
        now = utc("2026-03-08 00:00") + timedelta(minutes=minute)
        assert quiet_until(now, window, NEW_YORK) is None


# New York falls back on 2026-11-01: 02:00 EDT becomes 01:00 EST (06:00 UTC); 01:xx repeats.


def test_a_night_across_fall_back_ends_at_the_local_time_one_hour_later() -> None:
    # given: 23:00 EDT on the Saturday
    now = utc("2026-11-01 03:00")

    # when
    until = quiet_until(now, NIGHT, NEW_YORK)

    # then: 08:00 EST, ten hours later where the clock moves nine
    assert until == local(NEW_YORK, "2026-11-01 08:00") == utc("2026-11-01 13:00")
    assert until is not None and until - now == timedelta(hours=10)


def test_an_end_in_the_fall_back_overlap_is_its_first_occurrence() -> None:
    # given: 01:30 happens at 05:30 UTC (EDT) and again at 06:30 UTC (EST)
    window = QuietHours(start="22:00", end="01:30")

    # then: the window ends at the first 01:30...
    assert quiet_until(utc("2026-11-01 05:00"), window, NEW_YORK) == utc("2026-11-01 05:30")
    assert local(NEW_YORK, "2026-11-01 01:30", fold=0).astimezone(UTC) == utc("2026-11-01 05:30")
    # ... and does not reopen when the clock shows 01:00-01:30 again
    assert quiet_until(utc("2026-11-01 05:30"), window, NEW_YORK) is None
    assert quiet_until(utc("2026-11-01 06:00"), window, NEW_YORK) is None  # 01:00 EST


def test_a_start_in_the_fall_back_overlap_is_its_first_occurrence() -> None:
    window = QuietHours(start="01:30", end="06:00")
    assert quiet_until(utc("2026-11-01 05:29"), window, NEW_YORK) is None  # 01:29 EDT
    assert quiet_until(utc("2026-11-01 05:30"), window, NEW_YORK) == utc("2026-11-01 11:00")
    # Still on through the repeated hour, though the clock shows 01:00 again.
    assert quiet_until(utc("2026-11-01 06:00"), window, NEW_YORK) == utc("2026-11-01 11:00")


# Berlin: 2026-03-29 02:00 CET becomes 03:00 CEST; 2026-10-25 03:00 CEST becomes 02:00 CET,
# both at 01:00 UTC.


def test_berlin_across_both_transitions() -> None:
    assert quiet_until(utc("2026-03-28 22:00"), NIGHT, BERLIN) == utc("2026-03-29 06:00")
    assert quiet_until(utc("2026-10-24 21:00"), NIGHT, BERLIN) == utc("2026-10-25 07:00")
    gap = QuietHours(start="00:00", end="02:30")
    assert quiet_until(utc("2026-03-28 23:30"), gap, BERLIN) == utc("2026-03-29 01:00")
    overlap = QuietHours(start="00:00", end="02:30")
    assert quiet_until(utc("2026-10-24 23:00"), overlap, BERLIN) == utc("2026-10-25 00:30")
    assert quiet_until(utc("2026-10-25 01:00"), overlap, BERLIN) is None  # 02:00 CET


@pytest.mark.parametrize("zone", [NEW_YORK, BERLIN, "Australia/Lord_Howe", "UTC"])
@pytest.mark.parametrize(
    "window",
    [NIGHT, LUNCH, QuietHours(start="01:30", end="02:30"), QuietHours(start="02:30", end="01:30")],
)
@pytest.mark.parametrize("day", ["2026-03-08", "2026-03-29", "2026-10-25", "2026-11-01"])
def test_a_deferred_delivery_wakes_up_outside_the_window(
    zone: str, window: QuietHours, day: str
) -> None:
    # given: every 10 minutes over two days around a transition
    first = datetime.fromisoformat(f"{day}T00:00:00+00:00") - timedelta(days=1)
    for step in range(2 * 24 * 6):
        now = first + timedelta(minutes=10 * step)

        # when
        until = quiet_until(now, window, zone)

        # then: re-dispatching then finds the window over, within a day
        if until is not None:
            assert now < until <= now + timedelta(hours=25)
            assert quiet_until(until, window, zone) is None
