"""Signed webhook requests: Standard Webhooks signing, and one guarded POST per attempt.

Used by both outbound webhooks (event subscriptions) and the `webhook` channel. The request
goes to the address the SSRF guard checked (`url_guard`), redirects are not followed (a
3xx is a failed attempt), and only a 2xx is success.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

from herald.channels.base import PermanentSendError, RetryableSendError
from herald.channels.url_guard import Resolver, Target, UnsafeUrl, UrlPolicy, resolve_target

TIMEOUT_SECONDS = 15.0
EXCERPT_BYTES = 1024
USER_AGENT = "Herald-Webhooks/1"
PROVIDER = "webhook"
# A Retry-After further out than this is read as this: the retry schedule spans about a day.
MAX_RETRY_AFTER_SECONDS = 24 * 3600


def signature_headers(
    message_id: str, timestamp: datetime, body: str, secrets: Sequence[str]
) -> dict[str, str]:
    """The Standard Webhooks headers; one `v1,` signature per secret, space-separated."""
    signatures = " ".join(Webhook(secret).sign(message_id, timestamp, body) for secret in secrets)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signatures,
    }


@dataclass(frozen=True)
class PostResult:
    """What one attempt got back."""

    status_code: int | None
    latency_ms: int
    excerpt: str
    error: str | None = None
    retry_after_seconds: int | None = None
    # The SSRF guard refused the URL: no request was made.
    refused: bool = False

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookPoster:
    """POSTs a signed JSON body to a customer URL through the SSRF guard."""

    def __init__(
        self,
        policy: UrlPolicy,
        resolver: Resolver | None = None,
        timeout: float = TIMEOUT_SECONDS,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._policy = policy
        self._resolver = resolver
        self._timeout = timeout
        self._tls = tls or ssl.create_default_context()

    def post(self, url: str, body: str, headers: dict[str, str]) -> PostResult:
        """One attempt. Never raises for what the far end does: the result says it."""
        started = time.monotonic()
        try:
            if self._resolver is None:
                target = resolve_target(url, self._policy)
            else:
                target = resolve_target(url, self._policy, self._resolver)
        except UnsafeUrl as exc:
            return PostResult(None, _ms_since(started), "", f"refused: {exc}", refused=True)
        connection = self._connection(target)
        try:
            connection.request(
                "POST",
                target.path,
                body=body.encode(),
                headers={
                    **headers,
                    "Content-Type": "application/json",
                    "User-Agent": USER_AGENT,
                },
            )
            response = connection.getresponse()
            excerpt = response.read(EXCERPT_BYTES).decode("utf-8", errors="replace")
            return PostResult(
                response.status,
                _ms_since(started),
                excerpt,
                retry_after_seconds=_retry_after(
                    response.status, response.getheader("retry-after")
                ),
            )
        except (OSError, http.client.HTTPException) as exc:
            kind = "timeout" if isinstance(exc, TimeoutError | socket.timeout) else "error"
            return PostResult(None, _ms_since(started), "", f"{kind}: {exc}"[:500])
        finally:
            connection.close()

    def _connection(self, target: Target) -> http.client.HTTPConnection:
        if target.scheme == "https":
            return _PinnedHTTPSConnection(target, self._timeout, self._tls)
        return _PinnedHTTPConnection(target, self._timeout)


def _pinned(address: str) -> Any:
    """A `socket.create_connection` that connects to `address`, whatever host it is given:
    the Host header and TLS (SNI, certificate check) still use the URL's host name."""

    def create_connection(
        host_port: tuple[str, int], timeout: float, source_address: Any = None
    ) -> socket.socket:
        return socket.create_connection((address, host_port[1]), timeout, source_address)

    return create_connection


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._create_connection = _pinned(target.address)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float, tls: ssl.SSLContext) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=tls)
        self._create_connection = _pinned(target.address)


def _retry_after(status: int, header: str | None) -> int | None:
    """Seconds to wait per `Retry-After` (delta seconds or an HTTP date), on 429 and 503."""
    if status not in (429, 503) or not header:
        return None
    header = header.strip()
    if header.isdigit():
        return min(int(header), MAX_RETRY_AFTER_SECONDS)
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = int((when - datetime.now(UTC)).total_seconds())
    return min(max(seconds, 0), MAX_RETRY_AFTER_SECONDS)


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


@dataclass(frozen=True)
class WebhookMessage:
    """What the `webhook` channel sends: a rendered JSON body to a recipient's URL."""

    url: str
    message_id: str  # the `webhook-id`: the delivery's id, the same on every attempt
    body: str
    secret: str


class WebhookChannelSender:
    """The `webhook` channel's adapter: the guarded, signed POST, read as a send result."""

    def __init__(self, poster: WebhookPoster) -> None:
        self._poster = poster

    def send(self, message: WebhookMessage) -> str:
        """POST it; returns the message id on a 2xx, else raises a SendError.

        410 (gone) and a URL the guard refuses fail at once; anything else is retried."""
        headers = signature_headers(
            message.message_id, datetime.now(UTC), message.body, [message.secret]
        )
        result = self._poster.post(message.url, message.body, headers)
        if result.succeeded:
            return message.message_id
        detail = result.error or f"HTTP {result.status_code}: {result.excerpt[:200]}"
        if result.refused or result.status_code == 410:
            raise PermanentSendError(detail)
        raise RetryableSendError(detail, retry_after_seconds=result.retry_after_seconds)
