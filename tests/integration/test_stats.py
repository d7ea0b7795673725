"""GET /v1/stats counts what the deliveries say, per bucket and channel."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import psycopg
from herald.services.sweeper import sweep

from tests.integration.conftest import Stack, Tenant
from tests.integration.pipeline import call_api, call_callback, email_body, run_pipeline


def _stats(stack: Stack, tenant: Tenant, **query: str) -> tuple[int, Any]:
    status, _, body = call_api(stack, "GET", "/v1/stats", key=tenant.key, query=query)
    return status, body


def test_stats_match_the_deliveries(stack: Stack, tenant: Tenant, other_tenant: Tenant) -> None:
    # given emails sent (one to a suppressed-looking bounce address is not special here),
    # an SMS to a recipient without a phone (skipped), and another tenant's send
    emails = {
        "recipients": [{"email": f"s{i}@example.com"} for i in range(6)] + [{"user_id": "unknown"}],
        "content": {"email": {"subject": "Hi", "text": "Hello"}, "sms": {"text": "Hello"}},
        "category": "news",
    }
    assert call_api(stack, "POST", "/v1/notifications", key=tenant.key, body=emails)[0] == 202
    other = {
        "recipients": [{"email": "o@example.com"}],
        "content": {"email": {"subject": "x", "text": "y"}},
    }
    call_api(stack, "POST", "/v1/notifications", key=other_tenant.key, body=other)
    run_pipeline(stack)
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        # two deliveries as the provider's callbacks would leave them
        conn.execute(
            "UPDATE deliveries SET status = 'delivered' WHERE id IN (SELECT id FROM deliveries"
            " WHERE tenant_id = %s AND channel = 'email' AND status = 'sent' ORDER BY id LIMIT 2)",
            (tenant.id,),
        )
        conn.execute(
            "UPDATE deliveries SET status = 'bounced' WHERE id IN (SELECT id FROM deliveries"
            " WHERE tenant_id = %s AND channel = 'email' AND status = 'sent' ORDER BY id LIMIT 1)",
            (tenant.id,),
        )
        expected = {
            (r[0], r[1]): r[2]
            for r in conn.execute(
                "SELECT channel, status, count(*) FROM deliveries WHERE tenant_id = %s"
                " GROUP BY 1, 2",
                (tenant.id,),
            )
        }

    # when
    status, stats = _stats(stack, tenant)
    _, by_day = _stats(stack, tenant, granularity="day", channel="email")
    _, other_category = _stats(stack, tenant, category="alerts")

    # then every count is the deliveries' own
    assert status == 200
    got = {(b["channel"], s): n for b in stats["buckets"] for s, n in b["counts"].items() if n}
    assert got == expected
    email = next(b for b in stats["buckets"] if b["channel"] == "email")
    assert email["total"] == 7
    assert email["counts"] == {
        **email["counts"],
        "sent": 3,
        "delivered": 2,
        "bounced": 1,
        "skipped": 1,
    }
    assert email["rates"]["delivery"] == round(2 / 6, 4)
    assert email["rates"]["bounce"] == round(1 / 6, 4)
    assert email["rates"]["failure"] == 0
    latency = email["accept_to_sent_seconds"]
    assert 0 <= latency["p50"] <= latency["p90"] <= latency["p99"] < 120
    sms = next(b for b in stats["buckets"] if b["channel"] == "sms")
    assert sms["counts"]["skipped"] == 7 and sms["rates"]["delivery"] is None
    assert sms["accept_to_sent_seconds"]["p50"] is None
    assert [b["channel"] for b in by_day["buckets"]] == ["email"]
    assert by_day["buckets"][0]["counts"] == email["counts"]
    assert other_category["buckets"] == []


def test_bad_stats_ranges_are_refused(stack: Stack, tenant: Tenant) -> None:
    # when
    backwards = _stats(stack, tenant, since="2026-12-02T00:00:00Z", until="2026-12-01T00:00:00Z")
    too_long = _stats(stack, tenant, since="2026-01-01T00:00:00Z", until="2026-12-01T00:00:00Z")
    bad_granularity = _stats(stack, tenant, granularity="minute")

    # then
    assert backwards[0] == 422 and too_long[0] == 422
    assert bad_granularity[0] == 400


def _rollup_rows() -> tuple[int, int]:
    """Rows in the hourly rollup, and stats changes not folded into it yet."""
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM delivery_stats_hourly),"
            " (SELECT count(*) FROM delivery_stats_changes)"
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def _counts(stats: Any) -> dict[tuple[str, str], int]:
    return {(b["channel"], s): n for b in stats["buckets"] for s, n in b["counts"].items() if n}


def _from_deliveries(tenant: Tenant) -> dict[tuple[str, str], int]:
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        return {
            (r[0], r[1]): r[2]
            for r in conn.execute(
                "SELECT channel, status, count(*) FROM deliveries WHERE tenant_id = %s"
                " GROUP BY 1, 2",
                (tenant.id,),
            )
        }


def _callback(stack: Stack, tenant: Tenant, *moves: tuple[dict[str, Any], str]) -> None:
    """SendGrid's signed Event Webhook moving each delivery to its event."""
    now = int(time.time())
    payload = json.dumps(
        [
            {
                "email": delivery["recipient"]["email"],
                "timestamp": now + n,
                "event": event,
                "sg_event_id": f"evt-{delivery['id']}-{event}",
                "sg_message_id": f"{delivery['provider_message_id']}.filter0001",
                "delivery_id": delivery["id"],
                "tenant_id": tenant.id,
            }
            for n, (delivery, event) in enumerate(moves)
        ]
    )
    status, _ = call_callback(
        stack, "/v1/callbacks/sendgrid", payload, stack.sign_sendgrid(payload)
    )
    assert status == 200


def test_the_rollup_follows_every_status_move_and_late_callbacks(
    stack: Stack, tenant: Tenant
) -> None:
    # given four emails sent, their stats folded into the rollup by the sweeper
    body = email_body([f"r{i}@example.com" for i in range(4)], category="news")
    _, _, accepted = call_api(stack, "POST", "/v1/notifications", key=tenant.key, body=body)
    run_pipeline(stack)
    sweeper: Any = stack.handlers["dispatch.sweeper"]
    sweep(stack.db, sweeper.dispatch_queue, sweeper.channel_queues)
    folded, pending = _rollup_rows()
    _, _, notification = call_api(
        stack, "GET", f"/v1/notifications/{accepted['id']}", key=tenant.key
    )
    first, second, third, _ = notification["deliveries"]

    # when callbacks move them on (sent -> delivered -> opened -> clicked, a bounce), then
    # a late open arrives after another fold
    _callback(stack, tenant, (first, "delivered"), (first, "open"), (second, "delivered"))
    _callback(stack, tenant, (third, "bounce"), (first, "click"))
    before_fold = _stats(stack, tenant)[1]
    sweep(stack.db, sweeper.dispatch_queue, sweeper.channel_queues)
    _callback(stack, tenant, (second, "open"))
    late = _stats(stack, tenant)[1]
    sweep(stack.db, sweeper.dispatch_queue, sweeper.channel_queues)
    after_fold = _stats(stack, tenant, granularity="day")[1]

    # then the stats are the deliveries' own at every step, folded or not
    assert folded > 0 and pending == 0
    assert _counts(before_fold) == {
        ("email", "sent"): 1,
        ("email", "delivered"): 1,
        ("email", "clicked"): 1,
        ("email", "bounced"): 1,
    }
    expected = {
        ("email", "sent"): 1,
        ("email", "opened"): 1,
        ("email", "clicked"): 1,
        ("email", "bounced"): 1,
    }
    assert _counts(late) == _counts(after_fold) == expected == _from_deliveries(tenant)
    assert _rollup_rows()[1] == 0
    bucket = after_fold["buckets"][0]
    assert bucket["total"] == 4 and bucket["rates"]["open"] == 0.5
    assert bucket["rates"]["click"] == 0.25 and bucket["rates"]["bounce"] == 0.25
    # a delivery's accept -> sent latency is counted once, whatever moves it after
    latency = bucket["accept_to_sent_seconds"]
    assert 0 < latency["p50"] <= latency["p99"] < 120


def test_latency_percentiles_come_within_a_bucket_of_the_exact_ones(
    stack: Stack, tenant: Tenant
) -> None:
    # given 1,000 deliveries sent 0.1 s to 100 s after their accept, in SQL
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(
            "INSERT INTO notifications (id, tenant_id, status, channels, recipients, content,"
            " variables, recipient_count, created_at)"
            " VALUES ('ntf_lat', %s, 'completed', ARRAY['email'], '[]', '{}', '{}', 1000,"
            " now() - interval '10 minutes')",
            (tenant.id,),
        )
        conn.execute(
            "INSERT INTO deliveries (id, tenant_id, notification_id, recipient_index, channel,"
            " recipient, status, created_at, sent_at)"
            " SELECT 'dlv_lat_' || g, %s, 'ntf_lat', g, 'email', '{}', 'sent',"
            "   now() - interval '10 minutes',"
            "   now() - interval '10 minutes' + make_interval(secs => 0.1 * 1000 ^ (g / 999.0))"
            " FROM generate_series(0, 999) AS g",
            (tenant.id,),
        )
        exact = conn.execute(
            "SELECT percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP"
            " (ORDER BY extract(epoch FROM sent_at - created_at)) FROM deliveries"
            " WHERE notification_id = 'ntf_lat'"
        ).fetchone()
    assert exact is not None

    # when
    _, stats = _stats(stack, tenant)

    # then each percentile is within one bucket (2^(1/8), about 9%) of the exact figure
    latency = stats["buckets"][0]["accept_to_sent_seconds"]
    for got, want in zip((latency["p50"], latency["p90"], latency["p99"]), exact[0], strict=True):
        assert abs(got - want) / want < 0.091, (got, want)
