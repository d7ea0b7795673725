"""What the simulated providers accepted, for `GET /_dev/outbox` and for tests."""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger(__name__)


class Outbox:
    """A thread-safe record of accepted messages, newest first, bounded in size.

    Entries have the shape API.md documents: `id`, `channel`, `provider`, `to`, `from`,
    `subject`, `text`, `html`, `headers`, `title`, `body`, `data`, `received_at`, and
    `delivery_id` where the provider request names the delivery.

    With a `path`, every entry is also appended to that file as one JSON line, written
    through to the operating system before the provider answers, so a process killed
    outright (SIGKILL) loses none of what the simulator accepted; the file's entries are
    loaded again at start. The file keeps everything (until `clear()`); memory keeps the
    newest `max_entries`.
    """

    def __init__(self, max_entries: int = 10_000, path: Path | None = None) -> None:
        # Bounded so a long benchmark run doesn't grow the process without end.
        self._entries: deque[dict[str, Any]] = deque(maxlen=max_entries)
        self._lock = threading.Lock()
        self._path = path
        self._file: IO[str] | None = None
        if path is not None:
            self._entries.extendleft(_read_lines(path))
            self._file = path.open("a", encoding="utf-8")
            if not _ends_a_line(path):
                self._file.write("\n")  # end the line a crash cut short

    def record(self, entry: dict[str, Any]) -> None:
        """Add one entry (one recipient of one message)."""
        entry = dict(entry)
        line = json.dumps(entry, separators=(",", ":"), default=str) + "\n" if self._file else ""
        with self._lock:
            if self._file is not None:
                self._file.write(line)
                self._file.flush()
            self._entries.appendleft(entry)

    def list(self) -> list[dict[str, Any]]:
        """Copies of the entries, newest first."""
        with self._lock:
            return [dict(entry) for entry in self._entries]

    def clear(self) -> None:
        """Forget every entry (and empty the file)."""
        with self._lock:
            self._entries.clear()
            if self._file is not None:
                self._file.truncate(0)
                self._file.flush()

    def close(self) -> None:
        """Close the file; entries recorded after this are kept in memory only."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def _read_lines(path: Path) -> list[dict[str, Any]]:
    """The entries of an outbox file, oldest first. A last line cut short by a crash (the
    process killed in the middle of a write) is dropped."""
    if not path.exists():
        return []
    entries = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            try:
                entry = json.loads(line)
            except ValueError:
                logger.warning("%s:%d: not a whole entry, skipped", path, number)
                continue
            if isinstance(entry, dict):
                entries.append(entry)
    return entries


def _ends_a_line(path: Path) -> bool:
    """True when the file is empty or its last byte ends a line."""
    with path.open("rb") as raw:
        if raw.seek(0, 2) == 0:
            return True
        raw.seek(-1, 2)
        return raw.read(1) == b"\n"
