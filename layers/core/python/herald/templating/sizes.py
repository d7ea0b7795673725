"""How long a value's text would be, worked out without building it.

The sandbox refuses to build a string (or container) whose text form exceeds the output
limit, so sizes are estimated from lengths and counts first. Estimates are upper bounds
up to repr escaping. Container sizes are remembered for the render, so a structure that
shares one part many times (2**60 elements once expanded) costs one pass over its
distinct parts; a walk also stops as soon as it passes `cap`.
"""

from __future__ import annotations

import re
from collections.abc import ItemsView, KeysView, Mapping, ValuesView
from types import MethodType
from typing import Any

from jinja2.utils import Cycler, Namespace

from herald.templating.limits import LimitExceeded, RenderBudget

# Python refuses to print an int of more than 4,300 digits; no template number needs more.
MAX_INT_BITS = 14_300
_MAX_DEPTH = 100
_OPAQUE_SIZE = 64  # macros, loop contexts, ranges, generators: short fixed reprs
_PRINTF_SPEC = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[-#0 +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d+))?"
    r"[hlL]?(?P<kind>.)",
    re.DOTALL,
)
_DIGITS = re.compile(r"\d+")


Sizes = dict[int, tuple[int, object]]


def measure(budget: RenderBudget, value: Any) -> int:
    """text_size() against the output limit, remembering container sizes for the render:
    a structure that shares one part many times is measured in one pass over its parts."""
    if isinstance(value, str):
        return len(value)
    return _size(value, budget.limits.max_output_chars, budget.sizes, 0)


def text_size(value: Any, cap: int, sizes: Sizes | None = None) -> int:
    """len(str(value)), estimated without building it; any result above `cap` means
    "too big" and may be a partial count."""
    if isinstance(value, str):
        return len(value)
    return _size(value, cap, {} if sizes is None else sizes, 0)


def _size(value: Any, cap: int, sizes: Sizes, depth: int) -> int:  # noqa: PLR0911 - per kind
    if isinstance(value, str):
        return len(value) + 2  # quoted inside a container
    if value is None or isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return value.bit_length() // 3 + 2  # log10(2) < 1/3
    if isinstance(value, float):
        return 24
    if isinstance(value, (bytes, bytearray)):
        return 4 * len(value) + 3
    if isinstance(value, (KeysView, ValuesView, ItemsView)):
        value = getattr(value, "mapping", value)  # dict views print their dict's items
    if isinstance(value, (Mapping, list, tuple, set, frozenset)):
        known = sizes.get(id(value))
        if known is not None:
            return known[0]
        size = _container_size(value, cap, sizes, depth)
        if isinstance(value, (dict, list, tuple, set, frozenset)):  # immutable in the sandbox
            sizes[id(value)] = (size, value)
        return size
    if isinstance(value, Namespace):
        attrs = object.__getattribute__(value, "_Namespace__attrs")
        return 13 + _container_size(attrs, cap, sizes, depth)
    if isinstance(value, Cycler):
        return _OPAQUE_SIZE + _size(value.items, cap, sizes, depth)
    if isinstance(value, MethodType):  # a bound method's repr shows its object's
        return _OPAQUE_SIZE + _size(value.__self__, cap, sizes, depth)
    return _OPAQUE_SIZE


def _container_size(value: Any, cap: int, sizes: Sizes, depth: int) -> int:
    if depth > _MAX_DEPTH:
        raise LimitExceeded("nested too deeply")
    items = (*value.keys(), *value.values()) if isinstance(value, Mapping) else value
    total = 2
    for item in items:
        total += _size(item, cap, sizes, depth + 1) + 2
        if total > cap:
            break
    return total


def printf_size(template: str | bytes, args: Any, cap: int, sizes: Sizes | None = None) -> int:
    """The length of `template % args`, estimated: every conversion counts its width,
    precision and the size of its value."""
    if isinstance(template, bytes):
        template = template.decode("latin-1")
    positional = list(args) if isinstance(args, tuple) else [args]
    mapping = args if isinstance(args, Mapping) else None
    total = len(template)
    for spec in _PRINTF_SPEC.finditer(template):
        if spec["kind"] == "%":
            continue
        for number in (spec["width"], spec["precision"]):
            if number == "*":
                star = positional.pop(0) if positional else 0
                total += abs(star) if isinstance(star, int) else 0
            elif number is not None:
                total += int(number) if len(number) <= 9 else cap + 1
        if spec["key"] is not None and mapping is not None:
            value = mapping.get(spec["key"])
        else:
            value = positional.pop(0) if positional else None
        total += text_size(value, cap, sizes)
        if total > cap:
            break
    return total


def format_spec_size(spec: str) -> int:
    """The most characters a `str.format` spec such as `>20.3f` can add to a value."""
    return sum(int(run) if len(run) <= 9 else 10**9 for run in _DIGITS.findall(spec))
