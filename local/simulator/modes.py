"""Provider accounts made to fail on purpose: `POST /_dev/providers/{provider}`.

A provider account is `down` (every call answers 503 in that provider's error shape), `slow`
(every call takes `SLOW_SECONDS` longer, then succeeds as usual) or `up`. The account is what
the real client sends: the SendGrid API key, the SES access key id, the Twilio account SID,
the FCM project id, the VAPID public key (base64url) a web push is signed with; without
one, the mode is the provider's default for every account not given its own.
"""

from __future__ import annotations

import threading
from typing import Literal, get_args

from local.http import DevResponse

Mode = Literal["up", "down", "slow"]
MODES: tuple[str, ...] = get_args(Mode)
PROVIDERS = ("sendgrid", "ses", "twilio", "fcm", "web_push")
SLOW_SECONDS = 2.0


class ProviderModes:
    def __init__(self) -> None:
        self._modes: dict[tuple[str, str | None], str] = {}
        self._lock = threading.Lock()

    def set(self, provider: str, mode: str, account: str | None = None) -> None:
        """Set a provider account's mode (every account's, without `account`; that also
        clears the modes set per account)."""
        if provider not in PROVIDERS:
            raise ValueError(f"unknown provider {provider!r}; one of {', '.join(PROVIDERS)}")
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        with self._lock:
            if account is None:
                self._modes = {k: v for k, v in self._modes.items() if k[0] != provider}
            self._modes[(provider, account)] = mode

    def mode_for(self, provider: str, account: str) -> str:
        with self._lock:
            return self._modes.get((provider, account), self._modes.get((provider, None), "up"))

    def reset(self) -> None:
        with self._lock:
            self._modes.clear()


def unavailable(provider: str) -> DevResponse:
    """A 503 as the provider answers it when it is down."""
    if provider == "sendgrid":
        return DevResponse(
            503, {"errors": [{"message": "Service Unavailable", "field": None, "help": None}]}
        )
    if provider == "ses":
        return DevResponse(
            503, {"message": "Service Unavailable"}, {"x-amzn-ErrorType": "ServiceUnavailable:"}
        )
    if provider == "twilio":
        return DevResponse(
            503,
            {
                "code": 20503,
                "message": "Service Unavailable",
                "more_info": "https://www.twilio.com/docs/errors/20503",
                "status": 503,
            },
        )
    if provider == "fcm":
        body = {
            "error": {
                "code": 503,
                "message": "The service is currently unavailable.",
                "status": "UNAVAILABLE",
                "details": [],
            }
        }
        return DevResponse(503, body)
    return DevResponse(503, b"Service Unavailable", {"Content-Type": "text/plain"})
