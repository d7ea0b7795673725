"""Compiled templates kept for the life of the execution environment."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from herald.templating.content import CompiledTemplate


class TemplateCache:
    """A bounded LRU of compiled templates, safe to share between threads.

    Keys identify an immutable version, e.g. (template_id, version), so entries never go
    stale; the bound keeps memory flat however many templates a tenant has.
    """

    def __init__(self, maxsize: int = 256) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, CompiledTemplate] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compile(
        self, key: Hashable, build: Callable[[], CompiledTemplate]
    ) -> CompiledTemplate:
        """The template cached under `key`, or the one `build` returns, then cached.

        `build` runs outside the lock (it may compile for milliseconds or read the
        database), so two threads missing the same key at once may both build it; either
        result is the same version.
        """
        with self._lock:
            compiled = self._items.get(key)
            if compiled is not None:
                self._items.move_to_end(key)
                return compiled
        compiled = build()
        with self._lock:
            self._items[key] = compiled
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return compiled

    def __len__(self) -> int:
        return len(self._items)
