"""Provider callbacks to Herald's webhooks, posted later and retried, as providers do."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

logger = logging.getLogger(__name__)

# Returns the request headers, content type included, for a body; called at each attempt since
# providers sign with the time of sending.
Signer = Callable[[bytes], dict[str, str]]

RETRY_DELAYS_SECONDS = (0.5, 1.0, 2.0, 4.0)
POST_TIMEOUT_SECONDS = 10.0


@dataclass(order=True)
class _Callback:
    due: float
    sequence: int
    url: str = field(compare=False)
    body: bytes = field(compare=False)
    sign: Signer = field(compare=False)
    attempt: int = field(default=0, compare=False)


class CallbackDispatcher:
    """Posts callbacks when due, one at a time, from a daemon thread.

    A connection error or a 5xx is retried with backoff (`RETRY_DELAYS_SECONDS`); a 4xx is
    Herald refusing the callback and is only logged, since repeating it can't help.
    """

    def __init__(self) -> None:
        self._queue: list[_Callback] = []
        self._sequence = itertools.count()  # keeps equal due times in submission order
        self._wakeup = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start posting in a daemon thread."""
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="provider-callbacks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop; callbacks not yet posted are dropped."""
        with self._wakeup:
            self._stopping = True
            self._wakeup.notify()
        if self._thread is not None:
            self._thread.join(timeout=POST_TIMEOUT_SECONDS)

    def schedule(self, url: str, body: bytes, sign: Signer, delay_seconds: float) -> None:
        """Post `body` to `url` after `delay_seconds`, signed by `sign` at each attempt."""
        self._push(
            _Callback(time.monotonic() + delay_seconds, next(self._sequence), url, body, sign)
        )

    def _push(self, callback: _Callback) -> None:
        with self._wakeup:
            heapq.heappush(self._queue, callback)
            self._wakeup.notify()

    def _run(self) -> None:
        with httpx.Client(timeout=POST_TIMEOUT_SECONDS) as client:
            while (callback := self._next_due()) is not None:
                self._post(client, callback)

    def _next_due(self) -> _Callback | None:
        with self._wakeup:
            while not self._stopping:
                if self._queue and self._queue[0].due <= time.monotonic():
                    return heapq.heappop(self._queue)
                timeout = self._queue[0].due - time.monotonic() if self._queue else None
                self._wakeup.wait(timeout)
            return None

    def _post(self, client: httpx.Client, callback: _Callback) -> None:
        try:
            response = client.post(
                callback.url, content=callback.body, headers=callback.sign(callback.body)
            )
        except httpx.HTTPError as error:
            reason = f"{type(error).__name__}: {error}"
        else:
            if response.status_code < 500:
                if response.is_error:
                    logger.warning(
                        "callback to %s refused: %d %s",
                        callback.url,
                        response.status_code,
                        response.text[:500],
                    )
                return
            reason = f"HTTP {response.status_code}"
        if callback.attempt >= len(RETRY_DELAYS_SECONDS):
            logger.error(
                "callback to %s dropped after %d attempts: %s",
                callback.url,
                callback.attempt + 1,
                reason,
            )
            return
        delay = RETRY_DELAYS_SECONDS[callback.attempt]
        logger.info("callback to %s failed (%s); retrying in %.1f s", callback.url, reason, delay)
        callback.due = time.monotonic() + delay
        callback.attempt += 1
        self._push(callback)
