"""The fallback cascade's decisions, one recipient's deliveries at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from herald.services.fallback import decide

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def row(
    delivery_id: str, channel: str, status: str, reason: str | None = None, index: int = 0
) -> dict[str, Any]:
    return {
        "id": delivery_id,
        "recipient_index": index,
        "channel": channel,
        "status": status,
        "reason": reason,
        "created_at": T0,
    }


def test_the_first_fallback_follows_when_every_primary_gave_up() -> None:
    rows = [row("d1", "email", "failed"), row("d2", "push", "skipped", "no_device")]

    decisions = decide(rows, ["sms", "whatsapp"], after=None, now=T0)

    assert [(d.channel, d.replaces) for d in decisions.due] == [("sms", ("d1", "d2"))]


def test_nothing_follows_while_one_primary_is_in_flight_or_sent() -> None:
    for status in ("queued", "sending", "sent"):
        rows = [row("d1", "email", "failed"), row("d2", "push", status)]
        assert decide(rows, ["sms"], after=None, now=T0).due == []


def test_a_primary_the_recipient_refused_does_not_fall_back() -> None:
    for reason in ("opted_out", "suppressed", "category_disabled"):
        rows = [row("d1", "email", "skipped", reason)]
        assert decide(rows, ["sms"], after=None, now=T0).due == []


def test_fallbacks_follow_in_order_each_replacing_the_step_before() -> None:
    rows = [row("d1", "email", "failed"), row("d2", "sms", "bounced")]

    (due,) = decide(rows, ["sms", "whatsapp"], after=None, now=T0).due

    assert (due.channel, due.replaces) == ("whatsapp", ("d2",))


def test_the_chain_ends_after_the_last_fallback() -> None:
    rows = [row("d1", "email", "failed"), row("d2", "sms", "failed")]
    assert decide(rows, ["sms"], after=None, now=T0).due == []


def test_the_deadline_fires_the_next_fallback_only_once_passed() -> None:
    rows = [row("d1", "push", "sent")]

    before = decide(rows, ["sms"], after=10 * MINUTE, now=T0 + 9 * MINUTE)
    after = decide(rows, ["sms"], after=10 * MINUTE, now=T0 + 10 * MINUTE)

    assert (before.due, before.check_at) == ([], T0 + 10 * MINUTE)
    assert [d.channel for d in after.due] == ["sms"]


def test_a_delivery_reached_cancels_the_waiting_fallbacks_and_the_deadline() -> None:
    rows = [row("d1", "push", "delivered"), row("d2", "sms", "deferred", "quiet_hours")]

    decisions = decide(rows, ["sms", "email"], after=10 * MINUTE, now=T0 + 20 * MINUTE)

    assert (decisions.due, decisions.to_cancel, decisions.check_at) == ([], ["d2"], None)


def test_a_step_created_in_this_pass_gets_its_own_deadline() -> None:
    rows = [row("d1", "push", "failed"), row("d2", "sms", "queued")]

    decisions = decide(
        rows, ["sms", "email"], after=MINUTE, now=T0 + 5 * MINUTE, untimed=frozenset({"d2"})
    )

    assert decisions.due == []


def test_recipients_fall_back_independently() -> None:
    rows = [row("d1", "email", "failed", index=0), row("d2", "email", "sent", index=1)]

    decisions = decide(rows, ["sms"], after=None, now=T0)

    assert [(d.recipient_index, d.channel) for d in decisions.due] == [(0, "sms")]
