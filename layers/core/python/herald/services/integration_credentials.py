"""Each provider's credentials and settings, checked before they are stored.

A bad value is refused with a 400 naming the field (`credentials.api_key`), and nothing is
stored. Only shapes are checked here; `POST /v1/integrations/{id}/test` asks the provider.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from herald.errors import InvalidRequest
from herald.models.validators import e164

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

# cryptography and email_validator are imported by the checks that need them: the API's cold
# start loads neither (tests/unit/test_api_cold_start.py).

# SendGrid API keys: `SG.` + key id + `.` + secret (22 and 43 url-safe characters).
_SENDGRID_KEY = re.compile(r"SG\.[A-Za-z0-9_-]{4,64}\.[A-Za-z0-9_-]{16,128}")
_TWILIO_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_TWILIO_TOKEN = re.compile(r"[0-9a-zA-Z]{32}")
_MESSAGING_SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")
_AWS_ACCESS_KEY_ID = re.compile(r"(AKIA|ASIA)[A-Z0-9]{16}")
_AWS_REGION = re.compile(r"[a-z]{2}(-gov)?-[a-z]+-\d")
_SES_CONFIGURATION_SET = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SERVICE_ACCOUNT_FIELDS = ("project_id", "private_key", "client_email", "token_uri")
# Settings Herald derives from the credentials and shows: given back on a change, ignored.
_DERIVED_SETTINGS = {"fcm": ("project_id",), "web_push": ("vapid_public_key",)}


@dataclass(frozen=True)
class Checked:
    """Credentials and settings as stored; `last4` of the credential that identifies it."""

    credentials: dict[str, Any]
    settings: dict[str, Any]
    last4: str | None


class _Problems:
    """Collects every problem of one request, so the 400 lists them all at once."""

    def __init__(self) -> None:
        self.details: list[dict[str, str]] = []

    def add(self, field: str, message: str) -> None:
        self.details.append({"field": field, "message": message})

    def raise_any(self, provider: str) -> None:
        if self.details:
            raise InvalidRequest(f"invalid {provider} integration", self.details)


def check(provider: str, credentials: dict[str, Any], settings: dict[str, Any]) -> Checked:
    """The credentials and settings of a `provider` integration, or InvalidRequest (400)."""
    problems = _Problems()
    derived = _DERIVED_SETTINGS.get(provider, ())
    settings = {k: v for k, v in settings.items() if k not in derived}
    checked = _CHECKS[provider](credentials, settings, problems)
    problems.raise_any(provider)
    return checked


def _strings(
    given: dict[str, Any], allowed: tuple[str, ...], where: str, problems: _Problems
) -> dict[str, str]:
    """The string fields of `given` (unknown or non-string ones are problems)."""
    values: dict[str, str] = {}
    for key, value in given.items():
        if key not in allowed:
            problems.add(f"{where}.{key}", f"unknown field; expected one of {', '.join(allowed)}")
        elif not isinstance(value, str) or not value or len(value) > 500 or "\x00" in value:
            problems.add(f"{where}.{key}", "must be a non-empty string of at most 500 characters")
        else:
            values[key] = value
    return values


def _email_settings(
    settings: dict[str, Any], extra: tuple[str, ...], problems: _Problems
) -> dict[str, str]:
    values = _strings(settings, ("from_email", "from_name", *extra), "settings", problems)
    if "from_email" in values:
        from email_validator import EmailNotValidError, validate_email

        try:
            values["from_email"] = validate_email(
                values["from_email"], check_deliverability=False
            ).normalized
        except EmailNotValidError as exc:
            problems.add("settings.from_email", str(exc))
    return values


def _sendgrid(
    credentials: dict[str, Any], settings: dict[str, Any], problems: _Problems
) -> Checked:
    values = _strings(credentials, ("api_key",), "credentials", problems)
    key = values.get("api_key", "")
    if "api_key" not in credentials:
        problems.add("credentials.api_key", "required")
    elif key and not _SENDGRID_KEY.fullmatch(key):
        problems.add("credentials.api_key", "not a SendGrid API key (SG.<id>.<secret>)")
    checked = _email_settings(settings, ("webhook_public_key",), problems)
    public_key = checked.get("webhook_public_key")
    if public_key and not _is_ec_public_key(public_key):
        problems.add(
            "settings.webhook_public_key",
            "not the Event Webhook verification key (base64 DER, as SendGrid shows it)",
        )
    return Checked(values, checked, key[-4:] or None)


def _is_ec_public_key(value: str) -> bool:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = serialization.load_der_public_key(base64.b64decode(value, validate=True))
    except (ValueError, TypeError, binascii.Error):
        return False
    return isinstance(key, ec.EllipticCurvePublicKey)


def _ses(credentials: dict[str, Any], settings: dict[str, Any], problems: _Problems) -> Checked:
    # Without keys the workers send with their own role (ses:SendEmail on the deployment's
    # identities and configuration set); with keys, through the tenant's own AWS account.
    values = _strings(credentials, ("access_key_id", "secret_access_key"), "credentials", problems)
    if values and set(values) != {"access_key_id", "secret_access_key"}:
        problems.add("credentials", "give both access_key_id and secret_access_key, or neither")
    key_id = values.get("access_key_id", "")
    if key_id and not _AWS_ACCESS_KEY_ID.fullmatch(key_id):
        problems.add("credentials.access_key_id", "not an AWS access key id (AKIA…/ASIA…)")
    secret = values.get("secret_access_key", "")
    if secret and len(secret) != 40:
        problems.add("credentials.secret_access_key", "an AWS secret access key is 40 characters")
    checked = _email_settings(settings, ("region", "configuration_set"), problems)
    if "from_email" not in checked and "from_email" not in settings:
        problems.add("settings.from_email", "required: an identity verified in SES")
    if "region" in checked and not _AWS_REGION.fullmatch(checked["region"]):
        problems.add("settings.region", "not an AWS region (e.g. eu-west-1)")
    config_set = checked.get("configuration_set")
    if config_set and not _SES_CONFIGURATION_SET.fullmatch(config_set):
        problems.add("settings.configuration_set", "letters, digits, _ and -, at most 64")
    return Checked(values, checked, secret[-4:] or None)


def _twilio(credentials: dict[str, Any], settings: dict[str, Any], problems: _Problems) -> Checked:
    values = _strings(credentials, ("account_sid", "auth_token"), "credentials", problems)
    for field, pattern, shape in (
        ("account_sid", _TWILIO_SID, "AC and 32 hexadecimal digits"),
        ("auth_token", _TWILIO_TOKEN, "32 letters and digits"),
    ):
        if field not in credentials:
            problems.add(f"credentials.{field}", "required")
        elif field in values and not pattern.fullmatch(values[field]):
            problems.add(f"credentials.{field}", f"not a Twilio {field} ({shape})")
    checked = _strings(
        settings,
        ("from_number", "messaging_service_sid", "whatsapp_from", "help_text"),
        "settings",
        problems,
    )
    for field in ("from_number", "whatsapp_from"):
        if field in checked:
            number = checked[field].removeprefix("whatsapp:")
            try:
                normalized = e164(number)
            except ValueError:
                problems.add(f"settings.{field}", "not a phone number in E.164 (+15551234567)")
            else:
                checked[field] = ("whatsapp:" if field == "whatsapp_from" else "") + normalized
    service = checked.get("messaging_service_sid")
    if service and not _MESSAGING_SERVICE_SID.fullmatch(service):
        problems.add("settings.messaging_service_sid", "not a Messaging Service SID (MG…)")
    if not {"from_number", "messaging_service_sid", "whatsapp_from"} & set(settings):
        problems.add("settings", "give from_number, messaging_service_sid or whatsapp_from")
    return Checked(values, checked, values.get("auth_token", "")[-4:] or None)


def _fcm(credentials: dict[str, Any], settings: dict[str, Any], problems: _Problems) -> Checked:
    from cryptography.hazmat.primitives import serialization

    for key in credentials:
        if key != "service_account":
            problems.add(f"credentials.{key}", "unknown field; expected service_account")
    account = credentials.get("service_account")
    if not isinstance(account, dict):
        problems.add("credentials.service_account", "required: the service-account JSON object")
        account = {}
    elif account.get("type") != "service_account":
        problems.add("credentials.service_account.type", 'must be "service_account"')
    for field in _SERVICE_ACCOUNT_FIELDS:
        value = account.get(field)
        if account and (not isinstance(value, str) or not value or "\x00" in value):
            problems.add(f"credentials.service_account.{field}", "required (a string)")
    pem = account.get("private_key")
    if isinstance(pem, str) and pem:
        try:
            serialization.load_pem_private_key(pem.encode(), password=None)
        except (ValueError, TypeError):
            problems.add("credentials.service_account.private_key", "not a PEM private key")
    if settings:
        problems.add("settings", "fcm takes no settings (the project is the service account's)")
    key_id = str(account.get("private_key_id") or "")
    stored = {"service_account": account} if account else {}
    return Checked(stored, {"project_id": account.get("project_id")}, key_id[-4:] or None)


def _web_push(
    credentials: dict[str, Any], settings: dict[str, Any], problems: _Problems
) -> Checked:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    checked = _strings(settings, ("subject",), "settings", problems)
    subject = checked.get("subject", "")
    if subject and not subject.startswith(("mailto:", "https://")):
        problems.add("settings.subject", "a mailto: or https: URI push services may contact")
    private: ec.EllipticCurvePrivateKey | None
    if credentials.get("generate") is True and set(credentials) == {"generate"}:
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        values = _strings(credentials, ("vapid_private_key",), "credentials", problems)
        private = _vapid_private_key(values.get("vapid_private_key"), problems)
    if private is None:
        return Checked({}, checked, None)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = _public_key_text(private)
    return Checked({"vapid_private_key": pem}, {**checked, "vapid_public_key": public}, public[-4:])


def _vapid_private_key(value: str | None, problems: _Problems) -> ec.EllipticCurvePrivateKey | None:
    """A P-256 private key given as PEM, or as the raw 32 bytes in base64url (what
    `web-push generate-vapid-keys` prints)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    field = "credentials.vapid_private_key"
    if value is None:
        problems.add(field, 'required (or give {"generate": true})')
        return None
    try:
        if value.lstrip().startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(value.encode(), password=None)
        else:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            if len(raw) != 32:
                raise ValueError("not 32 bytes")
            key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    except (ValueError, TypeError):
        problems.add(field, "not a P-256 private key (PEM, or 32 bytes in base64url)")
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        problems.add(field, "not a P-256 key")
        return None
    return key


def _public_key_text(private: ec.EllipticCurvePrivateKey) -> str:
    from cryptography.hazmat.primitives import serialization

    point = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(point).rstrip(b"=").decode("ascii")


_CHECKS: dict[str, Callable[[dict[str, Any], dict[str, Any], _Problems], Checked]] = {
    "sendgrid": _sendgrid,
    "ses": _ses,
    "twilio": _twilio,
    "fcm": _fcm,
    "web_push": _web_push,
}
