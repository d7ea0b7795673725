"""Jinja's built-in filters, each wrapped to respect the render budget.

Every filter checks the clock and accounts for what it returns. Filters that turn their
value into text first check that the text would fit; those that can make their output
much larger than their input (`center`, `indent`, `replace`, `wordwrap`, `format`,
`join`, `batch`, `slice`, `urlize`) estimate the result's size from their arguments and
refuse before building it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from jinja2.exceptions import FilterArgumentError
from jinja2.filters import FILTERS, make_attrgetter

from herald.templating.limits import LimitExceeded, RenderBudget, current_budget
from herald.templating.sizes import measure, printf_size

# pprint prints nested structures with indentation proportional to their depth, which
# size checks cannot bound cheaply; nothing a notification needs.
_REMOVED = frozenset({"pprint"})
# Filters that convert their value to text.
_STRINGIFYING = frozenset(
    {
        "capitalize", "center", "e", "escape", "forceescape", "format", "indent",
        "lower", "replace", "safe", "string", "striptags", "title", "tojson", "trim",
        "truncate", "upper", "urlencode", "urlize", "wordcount", "wordwrap", "xmlattr",
    }
)  # fmt: skip
# Filters that return one of their inputs rather than building something new.
_SELECTING = frozenset({"attr", "d", "default", "first", "last", "max", "min", "random"})


class _FilterCall:
    """The arguments of one filter call, with the value at `lead` (after Jinja's
    context/environment argument, when the filter takes one)."""

    __slots__ = ("args", "kwargs", "lead")

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any], lead: int) -> None:
        self.args = list(args)
        self.kwargs = kwargs
        self.lead = lead

    @property
    def value(self) -> Any:
        return self.args[self.lead]

    def text(self) -> str:
        return self.value if isinstance(self.value, str) else str(self.value)

    def arg(self, index: int, name: str, default: Any = None) -> Any:
        position = self.lead + 1 + index
        if position < len(self.args):
            return self.args[position]
        return self.kwargs.get(name, default)


Check = Callable[[RenderBudget, _FilterCall], None]


def _check_center(budget: RenderBudget, call: _FilterCall) -> None:
    width = call.arg(0, "width", 80)
    if isinstance(width, int):
        budget.ensure(width)


def _check_indent(budget: RenderBudget, call: _FilterCall) -> None:
    text = call.text()
    width = call.arg(0, "width", 4)
    indent = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    budget.ensure(len(text) + (text.count("\n") + 2) * indent)


def _check_replace(budget: RenderBudget, call: _FilterCall) -> None:
    text = call.text()
    old = str(call.arg(0, "old", ""))
    new = call.arg(1, "new", "")
    budget.ensure(measure(budget, new))
    count = call.arg(2, "count")
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    budget.ensure(len(text) + found * max(0, len(str(new)) - len(old)))


def _check_wordwrap(budget: RenderBudget, call: _FilterCall) -> None:
    text = call.text()
    width = call.arg(0, "width", 79)
    wrapstring = call.arg(2, "wrapstring")
    joint = len(wrapstring) if isinstance(wrapstring, str) else 2
    # Two consecutive wrapped lines hold more than `width` characters together.
    lines = 2 * len(text) // max(width if isinstance(width, int) else 1, 1) + text.count("\n")
    budget.ensure(len(text) + (lines + 2) * joint)


def _check_format(budget: RenderBudget, call: _FilterCall) -> None:
    values = call.kwargs or tuple(call.args[call.lead + 1 :])
    budget.ensure(printf_size(call.text(), values, budget.limits.max_output_chars, budget.sizes))


def _check_join(budget: RenderBudget, call: _FilterCall) -> None:
    items = list(call.value)
    attribute = call.arg(1, "attribute")
    if attribute is not None:
        environment = call.args[0].environment  # join takes the eval context first
        items = list(map(make_attrgetter(environment, attribute), items))
        if len(call.args) > call.lead + 2:
            call.args[call.lead + 2] = None
        call.kwargs.pop("attribute", None)
    separator = measure(budget, call.arg(0, "d", ""))
    size = separator * max(len(items) - 1, 0)
    for item in items:
        size += measure(budget, item)
        budget.ensure(size)
    call.args[call.lead] = items


def _check_groups(count_name: str) -> Check:
    """batch(linecount, fill_with) and slice(slices, fill_with): up to `count` groups or
    items, each padded with `fill_with`."""

    def check(budget: RenderBudget, call: _FilterCall) -> None:
        count = call.arg(0, count_name)
        if not isinstance(count, int):
            return
        if count > budget.limits.max_range:
            raise LimitExceeded(f"{count_name} is limited to {budget.limits.max_range:,}")
        fill = call.arg(1, "fill_with")
        if fill is not None:
            budget.ensure(measure(budget, fill) * count)

    return check


def _check_sum(budget: RenderBudget, call: _FilterCall) -> None:
    if not isinstance(call.arg(1, "start", 0), (int, float)):
        raise FilterArgumentError("sum adds numbers: start must be a number")


def _check_tojson(budget: RenderBudget, call: _FilterCall) -> None:
    if call.arg(0, "indent") is not None:
        raise FilterArgumentError("tojson does not take an indent")


def _check_urlize(budget: RenderBudget, call: _FilterCall) -> None:
    text = call.text()
    per_link = len(str(call.arg(2, "target") or "")) + len(str(call.arg(3, "rel") or "")) + 100
    budget.ensure(2 * len(text) + len(text.split()) * per_link)


_CHECKS: dict[str, Check] = {
    "batch": _check_groups("linecount"),
    "center": _check_center,
    "format": _check_format,
    "indent": _check_indent,
    "join": _check_join,
    "replace": _check_replace,
    "slice": _check_groups("slices"),
    "sum": _check_sum,
    "tojson": _check_tojson,
    "urlize": _check_urlize,
    "wordwrap": _check_wordwrap,
}


def account(budget: RenderBudget, result: Any) -> None:
    """Charge a value just built (by a filter or a method call) to the budget."""
    if isinstance(result, (str, bytes)):
        budget.charge(len(result))
    elif isinstance(result, (list, tuple, dict, set, frozenset)):
        budget.ensure(measure(budget, result))
        budget.charge(len(result))


def _guarded(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    check = _CHECKS.get(name)
    stringifies = name in _STRINGIFYING
    selects = name in _SELECTING
    lead = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(func)  # keeps Jinja's pass_context/pass_eval_context marker
    def guarded(*args: Any, **kwargs: Any) -> Any:
        budget = current_budget()
        budget.check_time()
        if stringifies and not isinstance(args[lead], str):
            budget.ensure(measure(budget, args[lead]))
        if check is not None:
            call = _FilterCall(args, kwargs, lead)
            check(budget, call)
            args, kwargs = tuple(call.args), call.kwargs
        result = func(*args, **kwargs)
        if not selects:
            account(budget, result)
        return result

    return guarded


def guarded_filters() -> dict[str, Callable[..., Any]]:
    """Jinja's built-in filters, each wrapped by its budget checks."""
    return {name: _guarded(name, func) for name, func in FILTERS.items() if name not in _REMOVED}
