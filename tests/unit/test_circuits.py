"""The circuit breaker's states, as one batch's sends see them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from herald.services.circuits import BreakerPolicy, Circuit, shown_state

POLICY = BreakerPolicy(failure_rate=0.5, min_calls=20, open_seconds=30, probes=3)


def _circuit(**fields: object) -> Circuit:
    return Circuit(
        integration_id="int_1",
        tenant_id="ten_1",
        provider="sendgrid",
        channel="email",
        policy=POLICY,
        **fields,  # type: ignore[arg-type]
    )


def test_it_opens_once_the_window_is_full_and_half_of_it_failed() -> None:
    # given ten successes and nine failures
    circuit = _circuit()
    for failed in [False] * 10 + [True] * 9:
        circuit.record(failed)
    assert circuit.state == "closed"

    # when the twentieth call fails too (10 of 20)
    circuit.record(True)

    # then
    assert circuit.state == "open"
    assert circuit.opened_here
    assert not circuit.allows()


def test_fewer_calls_than_the_window_never_open_it() -> None:
    # given
    circuit = _circuit()

    # when every call of fewer than the window fails
    for _ in range(19):
        circuit.record(True)

    # then
    assert circuit.state == "closed"
    assert circuit.allows()


def test_the_window_slides_over_the_latest_calls() -> None:
    # given a window once nearly half failed, then successes
    circuit = _circuit(outcomes=[True] * 9 + [False] * 11)

    # when more successes push the failures out, then failures come back
    for failed in [False] * 9 + [True] * 9:
        circuit.record(failed)

    # then the window holds 20 calls: 9 failures, still under half
    assert len(circuit.outcomes) == 20
    assert circuit.state == "closed"


def test_after_the_wait_a_few_probes_go_through_and_a_success_closes_it() -> None:
    # given a breaker open for longer than the wait
    opened = datetime.now(UTC) - timedelta(seconds=31)
    circuit = _circuit(state="open", outcomes=[True] * 20, opened_at=opened)
    assert shown_state("open", opened, POLICY) == "half_open"

    # when
    allowed = [circuit.allows() for _ in range(5)]
    circuit.record(False)

    # then three probes went through, and the success closed it with a fresh window
    assert allowed == [True, True, True, False, False]
    assert (circuit.state, circuit.outcomes, circuit.opened_at) == ("closed", [], None)
    assert circuit.closed_here
    assert circuit.allows()


def test_a_failed_probe_opens_it_again_for_another_wait() -> None:
    # given
    opened = datetime.now(UTC) - timedelta(seconds=31)
    circuit = _circuit(state="open", outcomes=[True] * 20, opened_at=opened)
    assert circuit.allows()

    # when
    circuit.record(True)

    # then
    assert circuit.state == "open"
    assert circuit.opened_at is not None and circuit.opened_at > opened
    assert not circuit.allows()
    reopens = circuit.reopens_at()
    assert reopens is not None and reopens > datetime.now(UTC) + timedelta(seconds=29)


def test_an_open_breaker_within_its_wait_lets_nothing_through() -> None:
    # given
    opened = datetime.now(UTC) - timedelta(seconds=5)
    circuit = _circuit(state="open", outcomes=[True] * 20, opened_at=opened)

    # then
    assert not circuit.allows()
    assert shown_state("open", opened, POLICY) == "open"
