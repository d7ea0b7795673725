"""Outbound webhooks without I/O: the retry schedule, the SSRF guard, signatures, payloads."""

from __future__ import annotations

import ipaddress
import socket
from datetime import UTC, datetime, timedelta

import pytest
from herald.channels.url_guard import (
    UnsafeUrl,
    UrlPolicy,
    check_url,
    refused_address,
    resolve_target,
)
from herald.channels.webhook_http import (
    WebhookPoster,
    _pinned,
    _retry_after,
    signature_headers,
)
from herald.services.delivering import RetryPolicy
from herald.services.webhook_endpoints import new_secret
from herald.services.webhook_sending import _grouped, event_payload
from herald.settings import Settings
from standardwebhooks.webhooks import Webhook

DEPLOYED = UrlPolicy()
LOCAL = UrlPolicy(allow_local_sink=True)


def _resolver(*addresses: str):  # type: ignore[no-untyped-def]
    """A test resolver: every host resolves to `addresses`."""
    return lambda host, port: list(addresses)


def test_the_production_schedule_is_svixs_about_a_day_in_eight_attempts() -> None:
    # given the default settings (whatever this process's environment says)
    schedule = Settings.model_fields["webhook_retry_schedule"].default

    # then: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h
    assert schedule == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    assert timedelta(seconds=sum(schedule)) == timedelta(hours=27, minutes=35, seconds=5)


def test_retry_waits_follow_the_schedule_with_at_most_ten_percent_jitter() -> None:
    policy = RetryPolicy(schedule=(0, 5, 300, 1800))
    for _ in range(200):
        assert 4.5 <= (policy.next_delay(1) or 0) <= 5.5
        assert 270 <= (policy.next_delay(2) or 0) <= 330
        assert 1620 <= (policy.next_delay(3) or 0) <= 1980
    # the fourth attempt was the last: nothing more
    assert policy.next_delay(4) is None


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "169.254.169.254",
        "::1",
        "100.64.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "0.0.0.0",  # noqa: S104 - an address refused, not one bound to
        "::",
        "fd00:ec2::254",
        "fe80::1",
        "::ffff:127.0.0.1",
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "2002:a00:1::",  # 6to4 of 10.0.0.1
        "224.0.0.1",
    ],
)
def test_a_url_resolving_to_a_non_public_address_is_refused_when_sending(address: str) -> None:
    # given a host whose DNS answer is `address`
    resolver = _resolver(address)

    # then it is refused when deployed, and locally too (only http://127.0.0.1 is allowed)
    for policy in (DEPLOYED, LOCAL):
        with pytest.raises(UnsafeUrl, match="non-public"):
            resolve_target("https://hooks.example.com/in", policy, resolver)


def test_one_private_address_among_public_ones_refuses_the_host() -> None:
    # a rebinding answer mixing a public and a private address
    with pytest.raises(UnsafeUrl):
        resolve_target("https://x.example.com/", DEPLOYED, _resolver("93.184.215.14", "10.0.0.1"))


def test_a_public_address_is_what_the_connection_is_pinned_to() -> None:
    target = resolve_target(
        "https://hooks.example.com:8443/in?x=1", DEPLOYED, _resolver("93.184.215.14")
    )
    assert (target.host, target.port, target.path, target.address) == (
        "hooks.example.com",
        8443,
        "/in?x=1",
        "93.184.215.14",
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/",
        "http://127.0.0.1:8000/_dev/webhook-sink/a",
        "https://hooks.example.com:80/",
        "https://hooks.example.com:22/",
        "ftp://hooks.example.com/",
        "https://127.0.0.1/",
        "https://10.0.0.1/",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/",
        "https://user:pass@hooks.example.com/",
        "https:///nohost",
        "https://hooks.example.com:99999/",
    ],
)
def test_deployed_only_https_on_443_or_8443_to_a_named_or_public_host_is_saved(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        check_url(url, DEPLOYED)


def test_locally_only_http_127_0_0_1_is_added_to_what_is_allowed() -> None:
    assert check_url("http://127.0.0.1:8000/_dev/webhook-sink/a", LOCAL).path == (
        "/_dev/webhook-sink/a"
    )
    for url in ("http://localhost:8000/", "http://10.0.0.1/", "https://127.0.0.1/"):
        with pytest.raises(UnsafeUrl):
            check_url(url, LOCAL)


def test_a_refused_url_is_an_attempt_without_a_status_not_a_request() -> None:
    # given a poster whose resolver sends the host to the metadata service
    poster = WebhookPoster(DEPLOYED, resolver=_resolver("169.254.169.254"))

    # when
    result = poster.post("https://hooks.example.com/", "{}", {})

    # then
    assert result.status_code is None and not result.succeeded
    assert result.error is not None and result.error.startswith("refused:")


def test_public_addresses_pass() -> None:
    for address in ("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "8.8.8.8"):
        assert not refused_address(ipaddress.ip_address(address))


def test_signatures_verify_with_standardwebhooks_for_each_secret() -> None:
    # given two secrets (during a rotation)
    old, new = new_secret(), new_secret()
    body = '{"type":"webhook.test","timestamp":"2026-12-01T09:00:00.000Z","data":{}}'

    # when
    headers = signature_headers("msg_1", datetime.now(UTC), body, [new, old])

    # then
    assert headers["webhook-id"] == "msg_1"
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers) == {
            "type": "webhook.test",
            "timestamp": "2026-12-01T09:00:00.000Z",
            "data": {},
        }


def test_retry_after_counts_on_429_and_503_only() -> None:
    assert _retry_after(429, "120") == 120
    assert _retry_after(503, "7") == 7
    assert _retry_after(500, "120") is None
    assert _retry_after(429, "soon") is None
    assert _retry_after(429, "9" * 40) == 24 * 3600
    later = (datetime.now(UTC) + timedelta(minutes=10)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 590 <= (_retry_after(503, later) or 0) <= 600


def test_payloads_carry_type_timestamp_and_the_documented_data() -> None:
    delivery = event_payload(
        {
            "type": "delivery.bounced",
            "tenant_id": "ten_1",
            "delivery_id": "dlv_1",
            "notification_id": "ntf_1",
            "channel": "email",
            "status": "bounced",
            "reason": "mailbox full",
            "at": "2026-12-01T09:00:00+00:00",
        }
    )
    assert delivery == {
        "type": "delivery.bounced",
        "timestamp": "2026-12-01T09:00:00.000Z",
        "data": {
            "delivery_id": "dlv_1",
            "notification_id": "ntf_1",
            "channel": "email",
            "status": "bounced",
            "reason": "mailbox full",
            "provider": None,
            "recipient": None,
            "at": "2026-12-01T09:00:00.000Z",
        },
    }
    completed = event_payload(
        {
            "type": "notification.completed",
            "tenant_id": "t",
            "notification_id": "n",
            "status": "completed",
            "at": "2026-12-01T09:00:00+00:00",
        }
    )
    assert completed["data"] == {
        "notification_id": "n",
        "status": "completed",
        "at": "2026-12-01T09:00:00.000Z",
    }


def test_retries_due_within_a_minute_share_a_queue_message_due_at_the_latest() -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    groups = _grouped(
        {
            start: ["a"],
            start + timedelta(seconds=20): ["b"],
            start + timedelta(hours=2): ["c"],
        }
    )
    assert groups == {start + timedelta(seconds=20): ["a", "b"], start + timedelta(hours=2): ["c"]}


def test_the_connection_goes_to_the_checked_address_whatever_the_host_resolves_to() -> None:
    # given a listener on loopback, and a host name that resolves elsewhere (or nowhere)
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        # when the pinned connector is asked for that host
        connect = _pinned("127.0.0.1")
        with connect(("rebinding.invalid", port), 5) as sock:
            # then it reached the checked address, without resolving the name again
            assert sock.getpeername() == ("127.0.0.1", port)
