"""HTML for the end-user pages, from the Jinja templates next to this module."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from herald.models.users import QuietHours

if TYPE_CHECKING:
    from jinja2 import Environment


@cache
def _pages() -> Environment:
    """Herald's own templates, not tenants': autoescaped, and an undefined name is a bug.

    Made on the first page rendered: Jinja2 is not imported by a cold start that needs none.
    """
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


CHANNEL_LABELS = {
    "email": "Email",
    "sms": "Text messages (SMS)",
    "whatsapp": "WhatsApp",
    "push": "Mobile notifications",
    "web_push": "Browser notifications",
    "in_app": "In-app messages",
    "webhook": "Webhooks",
}
# What the quiet-hours inputs show before the user has chosen a window.
DEFAULT_QUIET_HOURS = QuietHours(start="22:00", end="08:00")


def render_preference_page(
    *,
    token: str,
    user_name: str | None,
    channels: Sequence[tuple[str, bool]],
    categories: Sequence[tuple[str, bool]],
    quiet_hours: QuietHours | None,
    saved: bool,
    action_url: str,
    timezone: str | None = None,
) -> str:
    """The preference center: a toggle per channel and category, and quiet hours.

    The form posts (urlencoded, see `parse_preference_form`) to `action_url` with the token
    added to its query string, so the token travels the same way on GET and POST.
    """
    return (
        _pages()
        .get_template("preferences.html")
        .render(
            action=_with_token(action_url, token),
            user_name=user_name,
            channels=[(name, CHANNEL_LABELS.get(name, name), on) for name, on in channels],
            categories=categories,
            quiet_hours=quiet_hours or DEFAULT_QUIET_HOURS,
            quiet_hours_enabled=quiet_hours is not None,
            timezone=timezone,
            saved=saved,
        )
    )


def render_unsubscribe_confirmation(*, token: str, category: str | None, action_url: str) -> str:
    """The page behind an unsubscribe link: GET explains, its button makes the POST.

    Link scanners in mail systems open links: a GET must never unsubscribe. The form posts
    the same body as an RFC 8058 one-click client, so one handler serves both.
    """
    return (
        _pages()
        .get_template("unsubscribe.html")
        .render(action=_with_token(action_url, token), category=category)
    )


def render_unsubscribed(category: str | None, preferences_url: str | None = None) -> str:
    """The confirmation shown after unsubscribing, with a way to the preference center."""
    return (
        _pages()
        .get_template("unsubscribed.html")
        .render(category=category, preferences_url=preferences_url)
    )


def render_error(message: str, status: int) -> str:
    """An error page; `message` is shown as given (escaped), `status` picks the heading."""
    if status in (401, 403):
        heading = "This link can't be used"
    elif status == 404:
        heading = "Page not found"
    elif status < 500:
        heading = "Please check your choices"
    else:
        heading = "Something went wrong"
    return _pages().get_template("error.html").render(heading=heading, message=message)


def _with_token(url: str, token: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "token"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("token", token)])))
