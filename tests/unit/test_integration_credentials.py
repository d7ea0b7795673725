"""Each provider's credentials, checked before anything is stored."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from herald.errors import InvalidRequest
from herald.services.integration_credentials import check


def _fields(provider: str, credentials: dict[str, object], settings: dict[str, object]) -> set[str]:
    with pytest.raises(InvalidRequest) as refused:
        check(provider, credentials, settings)
    return {d["field"] for d in refused.value.details}


def test_a_sendgrid_key_is_kept_with_its_last_four_characters() -> None:
    # when
    checked = check(
        "sendgrid",
        {"api_key": "SG.abcdefghij.0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"},
        {"from_email": "News@Example.com"},
    )

    # then
    assert checked.last4 == "DEFG"
    assert checked.settings == {"from_email": "news@example.com"}


def test_every_problem_is_named_at_once() -> None:
    assert _fields("sendgrid", {"api_key": "nope", "extra": "x"}, {"from_email": "no"}) == {
        "credentials.api_key",
        "credentials.extra",
        "settings.from_email",
    }


def test_twilio_needs_a_sid_a_token_and_a_sender() -> None:
    assert _fields("twilio", {"account_sid": "AC1"}, {}) == {
        "credentials.account_sid",
        "credentials.auth_token",
        "settings",
    }
    checked = check(
        "twilio",
        {"account_sid": "AC" + "a" * 32, "auth_token": "b" * 32},
        {"whatsapp_from": "whatsapp:+14155238886"},
    )
    assert checked.settings == {"whatsapp_from": "whatsapp:+14155238886"}


def test_ses_keys_come_in_pairs_and_the_sender_is_required() -> None:
    assert _fields("ses", {"access_key_id": "AKIA0123456789ABCDEF"}, {}) == {
        "credentials",
        "settings.from_email",
    }
    checked = check("ses", {}, {"from_email": "a@example.com", "region": "eu-west-1"})
    assert (checked.credentials, checked.last4) == ({}, None)


def test_vapid_keys_are_generated_or_checked_and_only_the_public_one_is_shown() -> None:
    # when
    generated = check("web_push", {"generate": True}, {})
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    given = check("web_push", {"vapid_private_key": pem}, {"subject": "mailto:a@example.com"})

    # then
    assert "PRIVATE KEY" in generated.credentials["vapid_private_key"]
    assert len(generated.settings["vapid_public_key"]) == 87
    assert "PRIVATE" not in str(given.settings)
    assert _fields("web_push", {"vapid_private_key": "AAAA"}, {}) == {
        "credentials.vapid_private_key"
    }


def test_an_fcm_service_account_must_carry_a_loadable_key() -> None:
    assert _fields("fcm", {"service_account": {"type": "service_account"}}, {}) == {
        "credentials.service_account.project_id",
        "credentials.service_account.private_key",
        "credentials.service_account.client_email",
        "credentials.service_account.token_uri",
    }
