"""The pages behind the links in messages: unsubscribe and the preference center.

Each request carries a signed, expiring token (`herald.services.links`); a forged, expired
or malformed one is Unauthenticated and changes nothing. These functions return the page's
HTML; the caller turns a HeraldError into an error page.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from herald.db import categories, suppressions, users
from herald.db.connection import Connection, Database, Row
from herald.errors import NotFound, Unauthenticated
from herald.models.common import CHANNELS
from herald.models.users import PreferenceLink, Preferences
from herald.pages import (
    parse_preference_form,
    render_preference_page,
    render_unsubscribe_confirmation,
    render_unsubscribed,
)
from herald.services import links, preferences
from herald.services.links import EndUserToken, Purpose

UNSUBSCRIBE_PATH = "/v1/unsubscribe"
PREFERENCES_PATH = "/v1/preferences/page"
# Tokens Herald issues are under 200 characters; anything far longer is not one of them.
MAX_TOKEN_LENGTH = 1024
# The preference center offers the categories the tenant sent in this many days.
RECENT_CATEGORY_DAYS = 90
# How long a preference-center link made through the API stays valid.
LINK_TTL = timedelta(days=30)

NO_PREFERENCES = "We have no preferences for this link. Use the link in a more recent message."


def preference_center_link(
    db: Database, secret: bytes, tenant_id: str, user_id: str, *, base_url: str, now: datetime
) -> PreferenceLink:
    """A signed link to a user's preference center, valid for LINK_TTL; NotFound for an
    unknown user."""
    if users.get_user(db.connection(), tenant_id, user_id) is None:
        raise NotFound(f"user '{user_id}' not found")
    expires_at = (now + LINK_TTL).replace(microsecond=0)
    token = links.issue_token(
        secret,
        tenant_id=tenant_id,
        user_id=user_id,
        purpose="preferences",
        category=None,
        expires_at=expires_at,
    )
    return PreferenceLink(url=links.preferences_link(base_url, token), expires_at=expires_at)


def unsubscribe_confirmation(secret: bytes, token: str | None, *, now: datetime) -> str:
    """GET: what unsubscribing would do, with the button that does it. Changes nothing."""
    token, claims = _verify(secret, token, "unsubscribe", now)
    # A raw address is suppressed altogether: the page must not promise less than that.
    category = claims.category if claims.user_id is not None else None
    return render_unsubscribe_confirmation(
        token=token, category=category, action_url=UNSUBSCRIBE_PATH
    )


def unsubscribe(db: Database, secret: bytes, token: str | None, *, now: datetime) -> str:
    """POST (RFC 8058 one-click, or the confirmation's button): unsubscribe, idempotently.

    A user's link turns off its category, or the email channel when it has none; a link
    sent to a raw address suppresses that address. Either is recorded as a preference
    event with source `one_click`.
    """
    _, claims = _verify(secret, token, "unsubscribe", now)
    if claims.user_id is None:
        assert claims.address is not None  # a token names a user or an address
        detail = {"category": claims.category} if claims.category else {}
        suppressions.add_suppressions(
            db.connection(),
            claims.tenant_id,
            [(claims.address, "unsubscribe", "one_click", detail)],
        )
        return render_unsubscribed(None)
    preferences.opt_out(db, claims.tenant_id, claims.user_id, category=claims.category)
    # The way on to every other choice, valid no longer than the link that led here.
    manage = links.issue_token(
        secret,
        tenant_id=claims.tenant_id,
        user_id=claims.user_id,
        purpose="preferences",
        category=None,
        expires_at=claims.expires_at,
    )
    return render_unsubscribed(claims.category, links.preferences_link("", manage))


def preference_center(db: Database, secret: bytes, token: str | None, *, now: datetime) -> str:
    """GET: the user's channels, categories and quiet hours, as a form."""
    token, claims = _verify(secret, token, "preferences", now)
    conn = db.connection()
    user = _user(conn, claims)
    current = preferences.stored_preferences(user)
    offered = _offered_categories(conn, claims.tenant_id, current)
    return _render(token, user, current, offered, saved=False)


def save_preference_center(
    db: Database, secret: bytes, token: str | None, form: str, *, now: datetime
) -> str:
    """POST: save the submitted form (a preference event with source `page`), show it again.

    Only what the page offered is read from the form. InvalidRequest for unusable quiet
    hours; nothing is saved then.
    """
    token, claims = _verify(secret, token, "preferences", now)
    conn = db.connection()
    user = _user(conn, claims)
    offered = _offered_categories(conn, claims.tenant_id, preferences.stored_preferences(user))
    wanted = parse_preference_form(form, CHANNELS, offered)
    saved = preferences.replace_preferences(
        db, claims.tenant_id, user["user_id"], wanted, source="page"
    )
    return _render(token, user, saved, offered, saved=True)


def _verify(
    secret: bytes, token: str | None, purpose: Purpose, now: datetime
) -> tuple[str, EndUserToken]:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise Unauthenticated(links.INVALID)
    return token, links.verify_token(secret, token, purpose=purpose, now=now)


def _user(conn: Connection, claims: EndUserToken) -> Row:
    user = users.get_user(conn, claims.tenant_id, claims.user_id) if claims.user_id else None
    if user is None:
        raise NotFound(NO_PREFERENCES)
    return user


def _offered_categories(conn: Connection, tenant_id: str, current: Preferences) -> list[str]:
    """The user's own categories and those the tenant sent lately."""
    recent = categories.recent_categories(conn, tenant_id, days=RECENT_CATEGORY_DAYS)
    return sorted({*current.categories, *recent})


def _render(token: str, user: Row, current: Preferences, offered: list[str], *, saved: bool) -> str:
    return render_preference_page(
        token=token,
        user_name=user["name"],
        channels=[(channel, current.channels.get(channel, True)) for channel in CHANNELS],
        categories=[(name, current.categories.get(name, True)) for name in offered],
        quiet_hours=current.quiet_hours,
        saved=saved,
        action_url=PREFERENCES_PATH,
        timezone=user["timezone"],
    )
