"""The two ways a template fails: when it is saved, and when it is rendered."""

from __future__ import annotations

from herald.errors import Unprocessable


class TemplateInvalid(Unprocessable):
    """A template refused on save: a syntax error, a forbidden access, a bad structure.

    The message names the part and line (`email.html, line 3: unexpected '}'`); each
    detail names the request field of the part (`channels.email.html`).
    """


class RenderFailed(Unprocessable):
    """A template that cannot render for these variables: an undefined variable or
    attribute, a blocked access, or a render limit (size, loops, time, nesting)."""
