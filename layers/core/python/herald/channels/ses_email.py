"""Email through Amazon SES (API v2 `SendEmail`), with botocore.

Herald's `custom_args` travel as SES message tags (SES echoes them in its event
notifications, as SendGrid echoes custom args), and the configuration set routes those
events to Herald's SNS topic. Account-level refusals (throttled, sending paused, account
suspended, sender not verified) are retryable: another integration may well send the mail;
a refusal of the message itself is permanent.
"""

from __future__ import annotations

from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from herald.aws.clients import aws_client
from herald.channels.base import EmailMessage, PermanentSendError, RetryableSendError

PROVIDER = "ses"
_TIMEOUT_SECONDS = 10
# SES's mailbox simulator: accepts the mail and reports it delivered, sends nothing.
SIMULATOR_SUCCESS_ADDRESS = "success@simulator.amazonses.com"
_ACCOUNT_ERRORS = {
    "TooManyRequestsException",
    "LimitExceededException",
    "SendingPausedException",
    "AccountSuspendedException",
    "MailFromDomainNotVerifiedException",
    "NotFoundException",  # the configuration set or identity is gone
}


class SesEmailSender:
    def __init__(
        self,
        *,
        region: str | None = None,
        configuration_set: str | None = None,
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        options: dict[str, Any] = {
            "config": Config(
                connect_timeout=_TIMEOUT_SECONDS,
                read_timeout=_TIMEOUT_SECONDS,
                # One attempt: Herald's own retries and failover take over from there.
                retries={"max_attempts": 1, "mode": "standard"},
            )
        }
        if region:
            options["region_name"] = region
        if access_key_id and secret_access_key:
            options["aws_access_key_id"] = access_key_id
            options["aws_secret_access_key"] = secret_access_key
        self._client = aws_client("sesv2", endpoint_url, **options)
        self._configuration_set = configuration_set

    def send(self, message: EmailMessage) -> str:
        """Send one email; return SES's MessageId."""
        body: dict[str, Any] = {}
        if message.text is not None:
            body["Text"] = {"Data": message.text, "Charset": "UTF-8"}
        if message.html is not None:
            body["Html"] = {"Data": message.html, "Charset": "UTF-8"}
        simple: dict[str, Any] = {
            "Subject": {"Data": message.subject, "Charset": "UTF-8"},
            "Body": body,
        }
        if message.headers:
            simple["Headers"] = [{"Name": k, "Value": v} for k, v in message.headers.items()]
        tags = [{"Name": k, "Value": v} for k, v in message.custom_args.items()]
        if message.category:
            tags.append({"Name": "category", "Value": _tag_value(message.category)})
        request: dict[str, Any] = {
            "FromEmailAddress": _address(message.from_email, message.from_name),
            "Destination": {"ToAddresses": [message.to]},
            "Content": {"Simple": simple},
            "EmailTags": tags,
        }
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        return self._send(request)

    def check(self, from_email: str) -> str:
        """A real send to SES's mailbox simulator, which delivers nothing: proves the keys,
        the sender identity and the configuration set."""
        request: dict[str, Any] = {
            "FromEmailAddress": from_email,
            "Destination": {"ToAddresses": [SIMULATOR_SUCCESS_ADDRESS]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": "Herald integration test"},
                    "Body": {"Text": {"Data": "Sent by POST /v1/integrations/{id}/test."}},
                }
            },
        }
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        return self._send(request)

    def _send(self, request: dict[str, Any]) -> str:
        try:
            response = self._client.send_email(**request)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            detail = f"SES {status} {code}: {error.get('Message', '')}"[:500]
            if code in _ACCOUNT_ERRORS or status >= 500 or status in (401, 403, 429):
                raise RetryableSendError(detail) from exc
            raise PermanentSendError(detail) from exc
        except BotoCoreError as exc:  # connection refused, timeout, no credentials
            raise RetryableSendError(f"SES unreachable: {exc}") from exc
        return str(response["MessageId"])


def _address(email: str, name: str) -> str:
    if not name:
        return email
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}" <{email}>'


def _tag_value(value: str) -> str:
    """SES tag values take letters, digits, `_`, `-`, `.` and `@` only."""
    return "".join(c if c.isalnum() or c in "_-.@" else "_" for c in value)[:256]
