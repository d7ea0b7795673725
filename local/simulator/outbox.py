"""What the simulated providers accepted, for `GET /_dev/outbox` and for tests."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any


class Outbox:
    """A thread-safe record of accepted messages, newest first, bounded in size.

    Entries have the shape API.md documents: `id`, `channel`, `provider`, `to`, `from`,
    `subject`, `text`, `html`, `headers`, `title`, `body`, `data`, `received_at`.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        # Bounded so a long benchmark run doesn't grow the process without end.
        self._entries: deque[dict[str, Any]] = deque(maxlen=max_entries)
        self._lock = threading.Lock()

    def record(self, entry: dict[str, Any]) -> None:
        """Add one entry (one recipient of one message)."""
        with self._lock:
            self._entries.appendleft(dict(entry))

    def list(self) -> list[dict[str, Any]]:
        """Copies of the entries, newest first."""
        with self._lock:
            return [dict(entry) for entry in self._entries]

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
