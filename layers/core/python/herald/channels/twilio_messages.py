"""SMS and WhatsApp through Twilio's Messages API, with the official `twilio` library."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from herald.channels.base import PermanentSendError, RetryableSendError, TextMessage

PROVIDER = "twilio"
_TIMEOUT_SECONDS = 10
# Twilio error codes Herald names in a delivery's reason; any other 4xx is `rejected`.
REASONS = {
    21211: "invalid_number",
    21614: "not_mobile",
    21610: "opted_out",
    63016: "outside_session_window",
}
# 21610: the number replied STOP to this sender; Twilio refuses every message until START.
OPTED_OUT = 21610
# 401 and 20003 mean our credentials are wrong: retrying gives an operator time to fix the
# secret before deliveries fail.
_RETRYABLE_STATUS = {401, 403, 408, 429}


class RedirectedHttpClient(TwilioHttpClient):  # type: ignore[misc] # the library is untyped
    """Sends every request meant for a *.twilio.com host to `base_url` instead.

    Local runtime only (the provider simulator): the library builds its URLs from fixed
    Twilio hosts, and this is its own extension point for changing how requests go out.
    """

    def __init__(self, base_url: str, timeout: float = _TIMEOUT_SECONDS) -> None:
        super().__init__(timeout=timeout)
        target = urlsplit(base_url)
        self._scheme, self._netloc = target.scheme, target.netloc
        if self.session is not None:
            # As many connections as a worker has sends in flight (the default is 10).
            self.session.mount(f"{self._scheme}://", HTTPAdapter(pool_maxsize=32))

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(url)
        if parts.hostname and parts.hostname.endswith(".twilio.com"):
            url = urlunsplit((self._scheme, self._netloc, parts.path, parts.query, ""))
        response: Response = super().request(method, url, *args, **kwargs)
        return response


class TwilioMessageSender:
    def __init__(self, account_sid: str, auth_token: str, *, api_base_url: str | None) -> None:
        http_client = (
            RedirectedHttpClient(api_base_url)
            if api_base_url
            else TwilioHttpClient(timeout=_TIMEOUT_SECONDS)
        )
        self._client = Client(account_sid, auth_token, http_client=http_client)
        self._account_sid = account_sid

    def check(self) -> str:
        """Fetch the account: proves the SID and token without sending (or paying for) a
        message, Twilio having no sandbox for Messages."""
        try:
            account = self._client.api.v2010.accounts(self._account_sid).fetch()
        except TwilioRestException as exc:
            raise classify(exc) from exc
        except OSError as exc:
            raise RetryableSendError(f"Twilio unreachable: {exc}") from exc
        return f"Twilio account {account.friendly_name!r} is {account.status}"

    def send(self, message: TextMessage) -> str:
        """Send one message; return Twilio's message SID (SM…)."""
        fields: dict[str, Any] = {"to": message.to, "status_callback": message.status_callback}
        if message.messaging_service_sid:
            fields["messaging_service_sid"] = message.messaging_service_sid
        if message.sender:
            fields["from_"] = message.sender
        if message.content_sid:
            fields["content_sid"] = message.content_sid
            if message.content_variables:
                fields["content_variables"] = json.dumps(message.content_variables)
        else:
            fields["body"] = message.text
        try:
            created = self._client.messages.create(**fields)
        except TwilioRestException as exc:
            raise classify(exc) from exc
        except OSError as exc:  # connection refused or reset, timeouts (requests' errors)
            raise RetryableSendError(f"Twilio unreachable: {exc}") from exc
        return str(created.sid)


def classify(exc: TwilioRestException) -> RetryableSendError | PermanentSendError:
    """Throttling, provider trouble and our own credentials retry; the rest never will."""
    detail = f"Twilio {exc.status} error {exc.code}: {exc.msg}"[:500]
    if exc.status in _RETRYABLE_STATUS or exc.status >= 500:
        return RetryableSendError(detail)
    code = int(exc.code) if exc.code is not None else None
    return PermanentSendError(
        detail,
        reason=REASONS.get(code or 0, "rejected"),
        suppression="stop" if code == OPTED_OUT else None,
    )


_senders: dict[tuple[str, str, str | None], TwilioMessageSender] = {}


def sender_for(account_sid: str, auth_token: str, api_base_url: str | None) -> TwilioMessageSender:
    """One sender per execution environment and credentials: a rotated token gets a new one."""
    key = (account_sid, auth_token, api_base_url)
    if key not in _senders:
        _senders.clear()
        _senders[key] = TwilioMessageSender(account_sid, auth_token, api_base_url=api_base_url)
    return _senders[key]
