"""User and preference models: what the API accepts, and the canonical form it stores."""

from __future__ import annotations

from typing import Any

import pytest
from herald.models.notifications import Recipient
from herald.models.users import Preferences, QuietHours, UserIn
from pydantic import ValidationError


def test_a_user_is_stored_in_canonical_form() -> None:
    # when
    user = UserIn(
        email="ada@Example.COM",
        phone="+1 (415) 555-0100",
        name="Ada",
        locale="pt_br",
        timezone="America/Sao_Paulo",
        data={"plan": "pro"},
        webhook_url="https://hooks.example.com/ada",
    )

    # then
    assert user.model_dump() == {
        "email": "ada@example.com",
        "phone": "+14155550100",
        "name": "Ada",
        "locale": "pt-BR",
        "timezone": "America/Sao_Paulo",
        "data": {"plan": "pro"},
        "webhook_url": "https://hooks.example.com/ada",
    }
    assert UserIn().model_dump() == dict.fromkeys(
        ("email", "phone", "name", "locale", "timezone", "webhook_url"), None
    ) | {"data": {}}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-email"),
        ("phone", "4155550100"),  # no country code
        ("phone", "+1 555"),
        ("name", "x" * 201),
        ("locale", "12"),
        ("locale", "en-"),
        ("timezone", "Local"),
        ("timezone", "localtime"),
        ("timezone", "/etc/localtime"),
        ("timezone", "../../etc/passwd"),
        ("timezone", "europe/berlin"),
        ("timezone", "+02:00"),
        ("timezone", "Factory"),
        ("nickname", "extra fields are refused"),
    ],
)
def test_invalid_user_fields_are_refused(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as raised:
        UserIn.model_validate({field: value})
    assert raised.value.errors()[0]["loc"][0] == field


def test_users_and_recipients_share_one_phone_rule() -> None:
    assert UserIn(phone="+44 20 7946 0958").phone == Recipient(phone="+44 20 7946 0958").phone
    for model in (UserIn, Recipient):
        with pytest.raises(ValidationError, match=r"E\.164"):
            model.model_validate({"phone": "call me"})


def test_preferences_keep_the_api_shape() -> None:
    body = {
        "channels": {"email": True, "sms": False},
        "categories": {"marketing": False},
        "quiet_hours": {"start": "22:00", "end": "08:00"},
    }
    assert Preferences.model_validate(body).model_dump(mode="json") == body
    assert Preferences().model_dump(mode="json") == {
        "channels": {},
        "categories": {},
        "quiet_hours": None,
    }


@pytest.mark.parametrize(
    "body",
    [
        {"channels": {"pigeon": True}},
        {"categories": {"Marketing": False}},
        {"categories": {"-marketing": False}},
        {"categories": {"m" * 65: False}},
        {"quiet_hours": {"start": "22:00", "end": "22:00"}},
        {"quiet_hours": {"start": "24:00", "end": "08:00"}},
        {"quiet_hours": {"start": "9:00", "end": "17:00"}},
        {"quiet_hours": {"start": "22:00"}},
        {"quiet_hours": {"start": "22:00", "end": "08:00", "days": [1]}},
        {"email": False},
    ],
)
def test_invalid_preferences_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Preferences.model_validate(body)


def test_quiet_hours_read_as_times() -> None:
    window = QuietHours(start="22:00", end="08:30")
    assert (window.start_time.hour, window.end_time.minute) == (22, 30)
