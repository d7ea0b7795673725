"""The Jinja2 sandbox templates render in: Jinja's immutable sandbox plus size, loop and
time checks on every operation that can make a render expensive.

Attribute access to internals is Jinja's sandbox's job. On top of it:
- `*`, `**`, `%` and `+` are intercepted and refused when the result would be too large;
- calls check the clock and the size of what string methods would build;
- `str.format` checks each field's width and value before formatting it;
- macro bodies and blocks are joined by a size-checked `concat`;
- the compiler (see parts.py) rewrites loops, `~` and literals to go through the
  budgeted filters registered here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import chain
from types import BuiltinMethodType, MethodType
from typing import Any

from jinja2 import StrictUndefined, pass_eval_context
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, LoopContext, Macro, markup_join, str_join
from jinja2.sandbox import (
    ImmutableSandboxedEnvironment,
    SandboxedEscapeFormatter,
    SandboxedFormatter,
)
from jinja2.utils import Cycler
from markupsafe import Markup

from herald.templating.filters import account, guarded_filters
from herald.templating.limits import (
    LimitExceeded,
    RenderBudget,
    current_budget,
)
from herald.templating.sizes import MAX_INT_BITS, format_spec_size, measure, printf_size

# Filters the compiler inserts (and that templates may not name themselves).
LOOP_FILTER = "herald_loop"
CONCAT_FILTER = "herald_concat"
BUILT_FILTER = "herald_built"
INTERNAL_FILTERS = frozenset({LOOP_FILTER, CONCAT_FILTER, BUILT_FILTER})
_DICT_ATTRIBUTES = frozenset(dir(dict))
_PLAIN_TYPES = frozenset({str, Markup, int, float, bool, LoopContext})
_SELECTING_HELPERS = frozenset({LoopContext, Cycler})


def _cap(budget: RenderBudget) -> int:
    return budget.limits.max_output_chars


def budgeted_iterable(iterable: Any) -> Any:
    """What a `for` loop iterates: counted against the loop budget."""
    budget = current_budget()
    try:
        count = len(iterable)
    except TypeError:  # a generator (map, select, batch...): count as it goes
        return _counted(budget, iterable)
    budget.iterate(count)
    return iterable


def _counted(budget: RenderBudget, iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        budget.iterate(1)
        yield item


@pass_eval_context
def checked_concat(eval_ctx: EvalContext, parts: list[Any]) -> str:
    """`a ~ b`: Jinja's own join, once the size of the result is known to fit."""
    budget = current_budget()
    size = 0
    for part in parts:
        size += measure(budget, part)
        budget.ensure(size)
    budget.charge(size)
    result = markup_join(parts) if eval_ctx.autoescape else str_join(parts)
    budget.ensure(len(result))  # escaping may have lengthened it
    return result


def checked_container(value: Any) -> Any:
    """A list, tuple or dict literal, refused when its text form would be too long
    (sharing one value many times builds exponentially large structures cheaply)."""
    budget = current_budget()
    budget.ensure(measure(budget, value))
    budget.charge(len(value))
    return value


def _range(*args: int) -> range:
    budget = current_budget()
    numbers = range(*args)
    try:
        too_long = len(numbers) > budget.limits.max_range
    except OverflowError:
        too_long = True
    if too_long:
        raise LimitExceeded(f"range() is limited to {budget.limits.max_range:,} items")
    return numbers


def _checked_join(parts: Iterable[str]) -> str:
    """`environment.concat`: joins macro bodies, `{% set %}` blocks and block calls."""
    budget = current_budget()
    if isinstance(parts, list):
        budget.charge(sum(map(len, parts)))
        return "".join(parts)
    collected, size = [], 0
    for part in parts:  # a block's output, produced as it is joined
        size += len(part)
        budget.ensure(size)
        collected.append(part)
    budget.charge(size)
    return "".join(collected)


class _CheckedFormatter(SandboxedFormatter):
    """`str.format` that refuses a field before formatting it when the result would be
    too long: `'{:>999999999}'.format(1)` never allocates."""

    _size = 0

    def vformat(self, format_string: str, args: Any, kwargs: Mapping[str, Any]) -> str:
        self._size = len(format_string)
        return super().vformat(format_string, args, kwargs)

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion is not None:  # !r / !s / !a build the value's text
            budget = current_budget()
            budget.ensure(measure(budget, value))
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        budget = current_budget()
        self._size += measure(budget, value) + format_spec_size(format_spec)
        budget.ensure(self._size)
        return super().format_field(value, format_spec)


class _CheckedEscapeFormatter(_CheckedFormatter, SandboxedEscapeFormatter):
    """The same for `Markup.format`, which escapes each field."""


def _string_result_size(
    owner: str | bytes, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> int | None:
    """The length of what a string (or bytes) method would return, when it can be much
    longer than the string itself; None for the others."""
    first = args[0] if args else kwargs.get("tabsize")
    if name in ("ljust", "rjust", "center", "zfill") and isinstance(first, int):
        return max(len(owner), first)
    if name == "expandtabs":
        tab = b"\t" if isinstance(owner, bytes) else "\t"
        return len(owner) + owner.count(tab) * (first if isinstance(first, int) else 8)  # type: ignore[arg-type]
    if name == "replace" and len(args) >= 2:
        old, new = args[0], args[1]
        found = owner.count(old) if old else len(owner) + 1
        if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
            found = min(found, args[2])
        return len(owner) + found * max(0, len(new) - len(old))
    if name == "translate" and isinstance(first, Mapping):
        longest = max((len(v) for v in first.values() if isinstance(v, (str, bytes))), default=1)
        return len(owner) * max(longest, 1)
    return None


class HeraldSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with strict undefined and the render budget enforced."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    concat = staticmethod(_checked_join)

    def __init__(self, *, autoescape: bool) -> None:
        # No `finalize` hook on printed values: it would cost a call per `{{ }}`, and
        # every structure a template can print is either the caller's (bounded by the
        # request) or was size-checked when built.
        super().__init__(autoescape=autoescape, undefined=StrictUndefined, cache_size=0)
        del self.globals["lipsum"]  # generates text by the paragraph: a cheap way to hang
        self.globals["range"] = _range
        self.filters = guarded_filters()
        self.filters[LOOP_FILTER] = budgeted_iterable
        self.filters[CONCAT_FILTER] = checked_concat
        self.filters[BUILT_FILTER] = checked_container

    def getattr(self, obj: Any, attribute: str) -> Any:
        """`a.b`. Variables are JSON objects, so a key that is not also a dict attribute
        is read directly: the same result as Jinja's getattr-then-item lookup, without
        raising and catching an AttributeError for every `{{ item.name }}`."""
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        # For these types Jinja's checks come down to the name; skipping its isinstance
        # checks (against ABCs, slow) matters for `loop.index` and `loop.cycle`.
        if type(obj) in _PLAIN_TYPES:
            return not attr.startswith("_")
        return super().is_safe_attribute(obj, attr, value)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = current_budget()
        if operator == "*":
            self._check_multiply(budget, left, right)
        elif operator == "**":
            self._check_power(left, right)
        elif operator == "%" and isinstance(left, (str, bytes)):
            budget.ensure(printf_size(left, right, _cap(budget), budget.sizes))
        elif operator == "+" and isinstance(left, (str, bytes, list, tuple)):
            budget.ensure(measure(budget, left) + measure(budget, right))
        result = self.binop_table[operator](left, right)
        if isinstance(result, (str, bytes, list, tuple)):
            budget.charge(len(result))
        return result

    @staticmethod
    def _check_multiply(budget: RenderBudget, left: Any, right: Any) -> None:
        if isinstance(left, int) and isinstance(right, int):
            if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise LimitExceeded("a number would be too large")
            return
        sequence, count = (right, left) if isinstance(left, int) else (left, right)
        if isinstance(count, int) and isinstance(sequence, (str, bytes, list, tuple)):
            budget.ensure(measure(budget, sequence) * max(count, 0))

    @staticmethod
    def _check_power(base: Any, exponent: Any) -> None:
        if (
            isinstance(base, int)
            and isinstance(exponent, int)
            and exponent > 0
            and abs(base) > 1
            and exponent * math.log2(abs(base)) > MAX_INT_BITS
        ):
            raise LimitExceeded("a number would be too large")

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget = current_budget()
        budget.check_time()
        owner = getattr(obj, "__self__", None)
        if type(owner) in _SELECTING_HELPERS:  # loop.cycle(...), cycler.next()
            # They return one of their arguments; Jinja's own call path would only cost
            # time here (they take no context and are not marked unsafe).
            kwargs.pop("_loop_vars", None)
            kwargs.pop("_block_vars", None)
            return obj(*args, **kwargs)
        if isinstance(obj, LoopContext) and args:  # `loop(children)` in a recursive loop
            args = (budgeted_iterable(args[0]), *args[1:])
        if isinstance(owner, (str, bytes)) and isinstance(obj, (BuiltinMethodType, MethodType)):
            args = self._check_string_method(budget, owner, obj.__name__, args, kwargs)
        elif isinstance(owner, (int, float)):  # e.g. (1).to_bytes(10**9)
            for value in chain(args, kwargs.values()):
                if isinstance(value, int):
                    budget.ensure(value)
        result = super().call(context, obj, *args, **kwargs)
        if not isinstance(obj, Macro):  # a macro's output was charged as it was joined
            account(budget, result)
        return result

    @staticmethod
    def _check_string_method(
        budget: RenderBudget,
        owner: str | bytes,
        name: str,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
    ) -> tuple[Any, ...]:
        if name == "join" and args:
            items = list(args[0])
            size = len(owner) * max(len(items) - 1, 0)
            for item in items:
                size += measure(budget, item)
                budget.ensure(size)
            return (items, *args[1:])
        result_size = _string_result_size(owner, name, args, kwargs)
        if result_size is not None:
            budget.ensure(result_size)
        return args

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Jinja's sandboxed `str.format`/`format_map`, with the size-checked formatter."""
        if not isinstance(value, (MethodType, BuiltinMethodType)):
            return None
        owner = value.__self__
        if value.__name__ not in ("format", "format_map") or not isinstance(owner, str):
            return None
        formatter: SandboxedFormatter = (
            _CheckedEscapeFormatter(self, escape=owner.escape)
            if isinstance(owner, Markup)
            else _CheckedFormatter(self)
        )
        is_format_map = value.__name__ == "format_map"

        def format_checked(*args: Any, **kwargs: Any) -> str:
            if is_format_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                kwargs, args = args[0], ()
            return type(owner)(formatter.vformat(owner, args, kwargs))

        return format_checked


HTML = HeraldSandbox(autoescape=True)
TEXT = HeraldSandbox(autoescape=False)
