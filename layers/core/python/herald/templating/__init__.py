"""Template rendering: customer-authored Jinja2 templates per channel and locale,
compiled on save and rendered per recipient in a sandbox with hard limits.

The names below load their module on first use (PEP 562): Jinja2 and the compiler cost
~100 ms of imports, which a cold start of the API pays only once it compiles or renders a
template, not to serve a request that needs none (the SMS and text helpers are light).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from herald.templating.cache import TemplateCache
    from herald.templating.content import CompiledChannel, CompiledTemplate, compile_channel
    from herald.templating.errors import RenderFailed, TemplateInvalid
    from herald.templating.limits import DEFAULT_LIMITS, RenderLimits
    from herald.templating.sms import SmsEncoding, sms_encoding
    from herald.templating.text import html_to_text

_MODULES = {
    "TemplateCache": "cache",
    "CompiledChannel": "content",
    "CompiledTemplate": "content",
    "compile_channel": "content",
    "RenderFailed": "errors",
    "TemplateInvalid": "errors",
    "DEFAULT_LIMITS": "limits",
    "RenderLimits": "limits",
    "SmsEncoding": "sms",
    "sms_encoding": "sms",
    "html_to_text": "text",
}

__all__ = [
    "DEFAULT_LIMITS",
    "CompiledChannel",
    "CompiledTemplate",
    "RenderFailed",
    "RenderLimits",
    "SmsEncoding",
    "TemplateCache",
    "TemplateInvalid",
    "compile_channel",
    "html_to_text",
    "sms_encoding",
]


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)
    globals()[name] = value
    return value
