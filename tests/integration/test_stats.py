"""GET /v1/stats counts what the deliveries say, per bucket and channel."""

from __future__ import annotations

import os
from typing import Any

import psycopg

from tests.integration.conftest import Stack, Tenant
from tests.integration.pipeline import call_api, run_pipeline


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
