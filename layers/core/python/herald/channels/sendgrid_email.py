"""Email through SendGrid's v3 mail API, with the official `sendgrid` library."""

from __future__ import annotations

from typing import Any

from python_http_client import exceptions as http_errors
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Category, CustomArg, Header, Mail, MailSettings, SandBoxMode

from herald.channels.base import EmailMessage, PermanentSendError, RetryableSendError

PROVIDER = "sendgrid"
_TIMEOUT_SECONDS = 10
# 401/403 mean our credentials are wrong: retrying gives an operator time to fix the
# secret before deliveries fail; other 4xx will never succeed.
_RETRYABLE_STATUS = {401, 403, 408, 429}


class SendGridEmailSender:
    def __init__(self, api_key: str, host: str = "https://api.sendgrid.com") -> None:
        self._client = SendGridAPIClient(api_key=api_key, host=host)
        # The library builds its HTTP client without a timeout; a hung provider must not
        # hold the worker until Lambda kills it.
        self._client.client.timeout = _TIMEOUT_SECONDS

    def send(self, message: EmailMessage) -> str:
        """Send one email; return SendGrid's message id (X-Message-Id)."""
        mail = Mail(
            from_email=(message.from_email, message.from_name),
            to_emails=message.to,
            subject=message.subject,
            plain_text_content=message.text,
            html_content=message.html,
        )
        for name, value in message.headers.items():
            mail.header = Header(name, value)
        for name, value in message.custom_args.items():
            mail.custom_arg = CustomArg(name, value)
        if message.category:
            mail.category = Category(message.category)
        response = self._send(mail)
        message_id = response.headers.get("X-Message-Id")
        if not message_id:
            raise RetryableSendError("SendGrid accepted the mail but returned no X-Message-Id")
        return str(message_id)

    def check(self, from_email: str) -> str:
        """A real send in sandbox mode (`mail_settings.sandbox_mode`): SendGrid validates the
        key and the mail, answers 200 and sends nothing."""
        mail = Mail(
            from_email=from_email,
            to_emails=from_email,
            subject="Herald integration test",
            plain_text_content="Sent by POST /v1/integrations/{id}/test in sandbox mode.",
        )
        settings = MailSettings()
        settings.sandbox_mode = SandBoxMode(True)
        mail.mail_settings = settings
        return f"SendGrid {self._send(mail).status_code}: sandbox send accepted"

    def _send(self, mail: Mail) -> Any:
        try:
            return self._client.send(mail)
        except http_errors.HTTPError as exc:
            detail = f"SendGrid {exc.status_code}: {exc.body!r}"[:500]
            if exc.status_code in _RETRYABLE_STATUS or exc.status_code >= 500:
                raise RetryableSendError(detail) from exc
            raise PermanentSendError(detail) from exc
        except OSError as exc:  # connection refused, reset, timeout
            raise RetryableSendError(f"SendGrid unreachable: {exc}") from exc
