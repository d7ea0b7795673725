"""The pages end users open from links in messages: unsubscribe and the preference center.

Server-rendered HTML that works without JavaScript (there is none), with labelled controls
that can be used from the keyboard.
"""

from herald.pages.forms import parse_preference_form
from herald.pages.render import (
    render_error,
    render_preference_page,
    render_unsubscribe_confirmation,
    render_unsubscribed,
)

__all__ = [
    "parse_preference_form",
    "render_error",
    "render_preference_page",
    "render_unsubscribe_confirmation",
    "render_unsubscribed",
]
