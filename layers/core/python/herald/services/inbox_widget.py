"""The `<herald-inbox>` web component, served as one static script with a strong ETag."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from importlib import resources

CONTENT_TYPE = "text/javascript; charset=utf-8"
# Browsers revalidate after five minutes (a 304 when unchanged), so a deploy shows up soon.
CACHE_CONTROL = "public, max-age=300"


@dataclass(frozen=True)
class Script:
    text: str
    etag: str


@functools.cache
def script() -> Script:
    """The widget's source, read and hashed once per execution environment."""
    text = (resources.files("herald.pages") / "widget" / "herald-inbox.js").read_text("utf-8")
    digest = hashlib.sha256(text.encode()).hexdigest()[:32]
    return Script(text=text, etag=f'"{digest}"')
