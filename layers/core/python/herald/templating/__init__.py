"""Template rendering: customer-authored Jinja2 templates per channel and locale,
compiled on save and rendered per recipient in a sandbox with hard limits."""

from herald.templating.cache import TemplateCache
from herald.templating.content import CompiledChannel, CompiledTemplate, compile_channel
from herald.templating.errors import RenderFailed, TemplateInvalid
from herald.templating.limits import DEFAULT_LIMITS, RenderLimits
from herald.templating.sms import SmsEncoding, sms_encoding
from herald.templating.text import html_to_text

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
