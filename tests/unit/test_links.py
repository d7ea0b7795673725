"""End-user links: signed, expiring tokens and the one-click unsubscribe headers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from herald.errors import Unauthenticated
from herald.services.links import (
    EndUserToken,
    issue_token,
    preferences_link,
    unsubscribe_headers,
    unsubscribe_link,
    verify_token,
)

SECRET = b"k" * 32
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
EXPIRES = NOW + timedelta(days=30)


def unsubscribe_token(**overrides: Any) -> str:
    claims: dict[str, Any] = {
        "tenant_id": "ten_01",
        "user_id": "user-42",
        "purpose": "unsubscribe",
        "category": "marketing",
        "expires_at": EXPIRES,
    }
    return issue_token(SECRET, **(claims | overrides))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_token_round_trips_its_claims() -> None:
    # given
    token = unsubscribe_token()

    # when
    verified = verify_token(SECRET, token, purpose="unsubscribe", now=NOW)

    # then
    assert verified == EndUserToken("ten_01", "user-42", "unsubscribe", "marketing", EXPIRES)


def test_a_token_can_name_a_raw_address_instead_of_a_user() -> None:
    # given: a message sent to an address, not to a known user
    token = unsubscribe_token(user_id=None, address="ada@example.com", category=None)

    # when
    verified = verify_token(SECRET, token, purpose="unsubscribe", now=NOW)

    # then
    assert (verified.user_id, verified.address, verified.category) == (
        None,
        "ada@example.com",
        None,
    )


@pytest.mark.parametrize(
    "recipient",
    [
        {"user_id": None, "address": None},
        {"user_id": "user-42", "address": "ada@example.com"},
        {"user_id": None, "address": "ada@example.com", "purpose": "preferences"},
    ],
)
def test_a_token_names_exactly_one_recipient_and_only_users_have_preferences(
    recipient: dict[str, Any],
) -> None:
    with pytest.raises(ValueError, match="user_id"):
        unsubscribe_token(**recipient)


def test_a_signed_payload_naming_both_a_user_and_an_address_is_refused() -> None:
    # given: what only a holder of the secret could make
    payload = b64(json.dumps(["t", "u", "a@example.com", "unsubscribe", None, 2**40]).encode())
    signature = b64(hmac.new(SECRET, payload.encode(), hashlib.sha256).digest())

    # then
    with pytest.raises(Unauthenticated, match="not valid"):
        verify_token(SECRET, f"{payload}.{signature}", purpose="unsubscribe", now=NOW)


def test_links_carry_the_token_in_the_query_string() -> None:
    assert unsubscribe_link("https://h.example.com/", "a.b") == (
        "https://h.example.com/v1/unsubscribe?token=a.b"
    )
    assert preferences_link("https://h.example.com", "a.b") == (
        "https://h.example.com/v1/preferences/page?token=a.b"
    )


def test_a_token_is_url_safe_and_short() -> None:
    token = unsubscribe_token(user_id="ü/ser?&=#", category=None, purpose="preferences")
    assert all(c.isascii() and (c.isalnum() or c in "-_.") for c in token)
    assert len(unsubscribe_token()) < 160
    verified = verify_token(SECRET, token, purpose="preferences", now=NOW)
    assert (verified.user_id, verified.category) == ("ü/ser?&=#", None)


def test_the_token_is_valid_until_the_second_it_expires() -> None:
    token = unsubscribe_token()
    verify_token(SECRET, token, purpose="unsubscribe", now=EXPIRES - timedelta(seconds=1))
    with pytest.raises(Unauthenticated, match="expired"):
        verify_token(SECRET, token, purpose="unsubscribe", now=EXPIRES)


def test_a_changed_payload_is_refused() -> None:
    # given: another user's id put into a valid token's payload
    payload, signature = unsubscribe_token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims[1] = "user-43"
    forged = f"{b64(json.dumps(claims, separators=(',', ':')).encode())}.{signature}"

    # then
    with pytest.raises(Unauthenticated, match="not valid"):
        verify_token(SECRET, forged, purpose="unsubscribe", now=NOW)


def test_a_later_expiry_cannot_be_forged() -> None:
    signature = unsubscribe_token().split(".")[1]
    later = unsubscribe_token(expires_at=EXPIRES + timedelta(days=365)).split(".")[0]
    with pytest.raises(Unauthenticated, match="not valid"):
        verify_token(SECRET, f"{later}.{signature}", purpose="unsubscribe", now=NOW)


def test_a_changed_signature_is_refused() -> None:
    payload, signature = unsubscribe_token().split(".")
    flipped = "A" if signature[0] != "A" else "B"
    for forged in (
        f"{payload}.{flipped}{signature[1:]}",
        f"{payload}.{signature[:-4]}",
        f"{payload}.{b64(b'x' * 32)}",
    ):
        with pytest.raises(Unauthenticated, match="not valid"):
            verify_token(SECRET, forged, purpose="unsubscribe", now=NOW)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = issue_token(
        b"o" * 32,
        tenant_id="ten_01",
        user_id="user-42",
        purpose="unsubscribe",
        category="marketing",
        expires_at=EXPIRES,
    )
    with pytest.raises(Unauthenticated, match="not valid"):
        verify_token(SECRET, token, purpose="unsubscribe", now=NOW)


def test_a_token_for_one_purpose_does_not_open_the_other() -> None:
    token = unsubscribe_token(purpose="preferences")
    with pytest.raises(Unauthenticated, match="not valid"):
        verify_token(SECRET, token, purpose="unsubscribe", now=NOW)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        ".",
        "abc",
        "abc.",
        ".abc",
        "a.b.c",
        "not base64!.sig",
        "=====.=====",
        "x" * 5000,
        "ünï.cødé",
        f"{b64(b'[1,2,3]')}.{b64(b'')}",
    ],
)
def test_garbage_is_refused_as_invalid(garbage: str) -> None:
    with pytest.raises(Unauthenticated, match="not valid"):
        verify_token(SECRET, garbage, purpose="unsubscribe", now=NOW)


def test_a_correctly_signed_but_malformed_payload_is_refused() -> None:
    # given: what only a holder of the secret could make, e.g. an older token format
    for claims in (b"{}", b"[1,2,3]", b'["t","u","admin",null,1}', b'["t","u","unsubscribe"]'):
        payload = b64(claims)
        signature = b64(hmac.new(SECRET, payload.encode(), hashlib.sha256).digest())

        # then
        with pytest.raises(Unauthenticated, match="not valid"):
            verify_token(SECRET, f"{payload}.{signature}", purpose="unsubscribe", now=NOW)


def test_a_short_secret_or_a_naive_expiry_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        issue_token(
            b"short",
            tenant_id="t",
            user_id="u",
            purpose="unsubscribe",
            category=None,
            expires_at=EXPIRES,
        )
    with pytest.raises(ValueError, match="aware"):
        unsubscribe_token(expires_at=datetime(2026, 7, 1))


def test_unsubscribe_headers_follow_rfc_8058() -> None:
    # given
    token = unsubscribe_token()

    # when
    headers = unsubscribe_headers("https://herald.example.com/", token)

    # then
    assert headers == {
        "List-Unsubscribe": f"<https://herald.example.com/v1/unsubscribe?token={token}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_unsubscribe_links_need_https_except_on_loopback() -> None:
    assert unsubscribe_headers("http://127.0.0.1:8000", "t")["List-Unsubscribe"] == (
        "<http://127.0.0.1:8000/v1/unsubscribe?token=t>"
    )
    with pytest.raises(ValueError, match="https"):
        unsubscribe_headers("http://herald.example.com", "t")
