"""Render limits and the per-render budget that enforces them.

A render runs untrusted templates, so every costly operation the sandbox allows goes
through the budget: loop iterations, the size of each value built, the total text built,
the output and the wall clock. The budget of the render in progress lives in a context
variable, so renders on several threads each see their own.
"""

from __future__ import annotations

import time
from contextvars import ContextVar, Token
from dataclasses import dataclass
from types import TracebackType


@dataclass(frozen=True)
class RenderLimits:
    """What one render may cost; shared by every part of a channel's content."""

    max_output_chars: int = 1_000_000
    """Output of all parts together; no single value may be built longer than this."""
    max_loop_iterations: int = 100_000
    """Iterations of every `for` loop together, nested loops included."""
    max_range: int = 10_000
    """Items one `range()` may produce."""
    timeout_seconds: float = 1.0
    """Wall-clock time of the whole render."""
    max_built_chars: int = 10_000_000
    """Text (and list items) built along the way, output excluded: bounds memory when a
    template builds many large values, e.g. in a deep recursion."""


DEFAULT_LIMITS = RenderLimits()


class LimitExceeded(Exception):
    """A render limit was hit; the message says which, in the template author's terms."""


_current: ContextVar[RenderBudget] = ContextVar("herald_render_budget")


class RenderBudget:
    """What is left of the limits for the render in progress (a context manager)."""

    __slots__ = ("_token", "built", "deadline", "iterations", "limits", "output", "sizes")

    def __init__(self, limits: RenderLimits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.timeout_seconds
        self.iterations = 0
        self.built = 0
        self.output = 0  # characters rendered so far, by all parts
        # Text sizes of the containers met so far, by id (holding them keeps ids unique).
        self.sizes: dict[int, tuple[int, object]] = {}
        self._token: Token[RenderBudget] | None = None

    def __enter__(self) -> RenderBudget:
        self._token = _current.set(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _current.reset(self._token)

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise LimitExceeded(f"took longer than {self.limits.timeout_seconds} s")

    def iterate(self, count: int) -> None:
        """Count loop iterations about to run."""
        self.iterations += count
        if self.iterations > self.limits.max_loop_iterations:
            raise LimitExceeded(
                f"loop iteration limit ({self.limits.max_loop_iterations:,}) reached"
            )
        self.check_time()

    def ensure(self, size: int) -> None:
        """Refuse a value whose text would exceed the output limit, before it is built."""
        if size > self.limits.max_output_chars:
            raise LimitExceeded(f"a value would exceed {self.limits.max_output_chars:,} characters")

    def charge(self, size: int) -> None:
        """Account for a value of `size` characters (or items) about to be built."""
        self.ensure(size)
        self.built += size
        if self.built > self.limits.max_built_chars:
            raise LimitExceeded(
                f"builds more than {self.limits.max_built_chars:,} characters of text"
            )
        self.check_time()


def current_budget() -> RenderBudget:
    """The budget of the render in progress.

    Raises outside a render: the sandbox's checked operations then refuse to run, which
    also keeps Jinja from evaluating them at compile time (constant folding).
    """
    try:
        return _current.get()
    except LookupError:
        raise RuntimeError("not inside a render") from None
