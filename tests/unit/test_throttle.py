"""A throttled batch's waves: N places a second from the start, never early, and hops past
SQS's 15-minute delay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from herald.errors import Unprocessable
from herald.services import throttle

START = datetime(2026, 12, 3, 12, 0, 0, 250_000, tzinfo=UTC)


def test_each_second_holds_per_second_places_across_channels() -> None:
    # given a batch on two channels at 3 sends a second
    channels = ["email", "sms"]

    # when
    waves = [
        (throttle.wave_at(START, 3, channels, index, channel) - START).total_seconds()
        for index in range(4)
        for channel in channels
    ]

    # then places 0-2 go at once, 3-5 a second later, 6-7 two seconds later
    assert waves == [0, 0, 0, 1, 1, 1, 2, 2]


def test_a_wave_is_delayed_until_due_and_hops_beyond_fifteen_minutes() -> None:
    # when
    now = START + timedelta(seconds=0.4)
    due_now = throttle.delay(START, now)
    soon = throttle.delay(START + timedelta(seconds=2), now)
    later = throttle.delay(START + timedelta(minutes=20), now)

    # then a wave is never sent early (the delay rounds up); one too far out hops
    assert due_now == (0, None)
    assert soon == (2, None)
    assert later == (900, START + timedelta(minutes=20))


@pytest.mark.parametrize("per_second", [0, -1, 10_001])
def test_rates_out_of_range_are_refused(per_second: int) -> None:
    with pytest.raises(Unprocessable) as refused:
        throttle.check(per_second)
    assert refused.value.details[0]["field"] == "throttle.per_second"
