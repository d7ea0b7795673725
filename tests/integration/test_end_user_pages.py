"""The end-user pages through the real API handler, without an API key: one-click
unsubscribe (RFC 8058) and the preference center, opened with signed, expiring tokens."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from herald.services.links import Purpose, issue_token

from tests.integration.conftest import LambdaContext, Stack, Tenant, http_event
from tests.integration.pipeline import call_api

FORM = "application/x-www-form-urlencoded"
ONE_CLICK = "List-Unsubscribe=One-Click"


def token(
    stack: Stack,
    tenant: Tenant,
    *,
    purpose: Purpose = "unsubscribe",
    user_id: str | None = "u_1",
    address: str | None = None,
    category: str | None = "marketing",
    expires_in: timedelta = timedelta(days=30),
) -> str:
    return issue_token(
        stack.links_secret,
        tenant_id=tenant.id,
        user_id=user_id,
        address=address,
        purpose=purpose,
        category=category,
        expires_at=datetime.now(UTC) + expires_in,
    )


def forged(valid: str) -> str:
    payload, signature = valid.split(".")
    flipped = "A" if signature[0] != "A" else "B"
    return f"{payload}.{flipped}{signature[1:]}"


def page(
    stack: Stack, method: str, path: str, token: str | None, form: str | None = None
) -> tuple[int, dict[str, str], str]:
    """A browser's (or a mail client's) request: no API key, forms base64-encoded as API
    Gateway passes them."""
    event = http_event(
        method,
        path,
        headers={"content-type": FORM} if form is not None else {},
        query={"token": token} if token is not None else None,
    )
    if form is not None:
        event["body"] = base64.b64encode(form.encode()).decode()
        event["isBase64Encoded"] = True
    response = stack.handlers["api.handler"].handler(event, LambdaContext())
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    return response["statusCode"], headers, response["body"]


def create_user(stack: Stack, tenant: Tenant, user_id: str = "u_1", **preferences: Any) -> None:
    body = {"email": "ada@example.com", "name": "Ada", "timezone": "Europe/Paris"}
    status, _, _ = call_api(stack, "PUT", f"/v1/users/{user_id}", key=tenant.key, body=body)
    assert status == 200
    if preferences:
        call_api(stack, "PUT", f"/v1/users/{user_id}/preferences", key=tenant.key, body=preferences)


def preferences_of(stack: Stack, tenant: Tenant, user_id: str = "u_1") -> dict[str, Any]:
    status, _, body = call_api(stack, "GET", f"/v1/users/{user_id}/preferences", key=tenant.key)
    assert status == 200
    return dict(body)


def events(stack: Stack) -> list[tuple[str | None, str | None, str, Any]]:
    rows = (
        stack.db.connection()
        .execute("SELECT user_id, address, source, change FROM preference_events ORDER BY id")
        .fetchall()
    )
    return [(r["user_id"], r["address"], r["source"], r["change"]) for r in rows]


class Form(HTMLParser):
    """The inputs of a page: names with values, which checkboxes are ticked, the form action."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.action: str | None = None
        self.checked: set[tuple[str, str]] = set()
        self.unchecked: set[tuple[str, str]] = set()
        self.values: dict[str, str] = {}
        self.links: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.action = a.get("action")
        elif tag == "a" and a.get("href"):
            self.links.append(str(a["href"]))
        elif tag == "input" and a.get("type") == "checkbox":
            box = (str(a["name"]), str(a["value"]))
            (self.checked if "checked" in a else self.unchecked).add(box)
        elif tag == "input" and a.get("name"):
            self.values[str(a["name"])] = str(a.get("value"))


# Unsubscribe


def test_one_click_unsubscribes_a_user_from_the_category_once(stack: Stack, tenant: Tenant) -> None:
    # given
    create_user(stack, tenant)
    link = token(stack, tenant)

    # when: the mail client posts twice (a retry)
    first = page(stack, "POST", "/v1/unsubscribe", link, ONE_CLICK)
    second = page(stack, "POST", "/v1/unsubscribe", link, ONE_CLICK)

    # then
    for status, headers, html in (first, second):
        assert status == 200
        assert headers["content-type"] == "text/html; charset=utf-8"
        assert headers["cache-control"] == "no-store"
        assert "You are unsubscribed" in html and "marketing" in html
    assert preferences_of(stack, tenant)["categories"] == {"marketing": False}
    assert events(stack) == [("u_1", None, "one_click", {"categories": {"marketing": False}})]


def test_an_unsubscribe_link_without_a_category_turns_off_email(
    stack: Stack, tenant: Tenant
) -> None:
    # given
    create_user(stack, tenant, categories={"news": True})

    # when
    status, _, _ = page(stack, "POST", "/v1/unsubscribe", token(stack, tenant, category=None), "")

    # then
    assert status == 200
    assert preferences_of(stack, tenant) == {
        "channels": {"email": False},
        "categories": {"news": True},
        "quiet_hours": None,
    }
    assert events(stack)[-1] == ("u_1", None, "one_click", {"channels": {"email": False}})


def test_the_unsubscribe_page_asks_and_changes_nothing(stack: Stack, tenant: Tenant) -> None:
    # given
    create_user(stack, tenant)
    link = token(stack, tenant)

    # when: a link scanner, or the recipient, opens the link
    status, headers, html = page(stack, "GET", "/v1/unsubscribe", link)

    # then
    assert (status, headers["content-type"]) == (200, "text/html; charset=utf-8")
    form = Form(html)
    assert form.values == {"List-Unsubscribe": "One-Click"}
    action = urlsplit(form.action or "")
    assert (action.path, parse_qs(action.query)) == ("/v1/unsubscribe", {"token": [link]})
    assert preferences_of(stack, tenant)["categories"] == {}
    assert events(stack) == []

    # when: its button posts the form
    status, _, _ = page(stack, "POST", action.path, link, urlencode(form.values))

    # then
    assert status == 200
    assert preferences_of(stack, tenant)["categories"] == {"marketing": False}


def test_the_unsubscribed_page_leads_to_the_preference_center(stack: Stack, tenant: Tenant) -> None:
    # given
    create_user(stack, tenant)
    _, _, html = page(stack, "POST", "/v1/unsubscribe", token(stack, tenant), ONE_CLICK)

    # when
    (link,) = Form(html).links
    url = urlsplit(link)
    status, _, center = page(stack, "GET", url.path, parse_qs(url.query)["token"][0])

    # then
    assert (url.path, status) == ("/v1/preferences/page", 200)
    assert ("categories", "marketing") in Form(center).unchecked


@pytest.mark.parametrize(
    ("method", "link"),
    [
        ("POST", "forged"),
        ("GET", "forged"),
        ("POST", "expired"),
        ("POST", "for the preference center"),
        ("POST", "garbage"),
        ("POST", None),
    ],
)
def test_a_bad_unsubscribe_link_is_401_and_changes_nothing(
    stack: Stack, tenant: Tenant, method: str, link: str | None
) -> None:
    # given
    create_user(stack, tenant)
    tokens = {
        "forged": forged(token(stack, tenant)),
        "expired": token(stack, tenant, expires_in=timedelta(seconds=-1)),
        "for the preference center": token(stack, tenant, purpose="preferences"),
        "garbage": "x" * 5000,
    }

    # when
    status, headers, html = page(
        stack, method, "/v1/unsubscribe", tokens.get(link or ""), ONE_CLICK
    )

    # then
    assert status == 401
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert "This link can&#39;t be used" in html or "This link can't be used" in html
    assert ("expired" in html) == (link == "expired")
    assert preferences_of(stack, tenant)["categories"] == {}
    assert events(stack) == []


def test_a_link_sent_to_a_raw_address_suppresses_it(stack: Stack, tenant: Tenant) -> None:
    # given: a marketing email sent to an address, not to a user
    link = token(stack, tenant, user_id=None, address="Grace@Example.com")

    # when
    first, _, html = page(stack, "POST", "/v1/unsubscribe", link, ONE_CLICK)
    again, _, _ = page(stack, "POST", "/v1/unsubscribe", link, ONE_CLICK)

    # then
    assert (first, again) == (200, 200)
    assert "You are unsubscribed" in html
    _, _, suppressions = call_api(stack, "GET", "/v1/suppressions", key=tenant.key)
    assert [
        (s["address"], s["reason"], s["source"], s["detail"]) for s in suppressions["items"]
    ] == [("grace@example.com", "unsubscribe", "one_click", {"category": "marketing"})]
    assert events(stack) == [
        (None, "grace@example.com", "one_click", {"suppressed": "unsubscribe"})
    ]


def test_a_link_changes_only_its_own_tenants_user(
    stack: Stack, tenant: Tenant, other_tenant: Tenant
) -> None:
    # given: the same user id in two tenants
    create_user(stack, tenant)
    create_user(stack, other_tenant)

    # when
    page(stack, "POST", "/v1/unsubscribe", token(stack, other_tenant), ONE_CLICK)

    # then
    assert preferences_of(stack, tenant)["categories"] == {}
    assert preferences_of(stack, other_tenant)["categories"] == {"marketing": False}


# The preference center


def insert_notification(stack: Stack, tenant: Tenant, category: str, age: timedelta) -> None:
    stack.db.connection().execute(
        "INSERT INTO notifications (id, tenant_id, status, channels, recipients, content,"
        " category, recipient_count, created_at)"
        " VALUES (%s, %s, 'completed', '{email}', '[]', '{}', %s, 0, now() - %s)",
        (f"ntf_{category}_{age.days}", tenant.id, category, age),
    )


def test_the_preference_center_shows_the_users_choices_and_the_tenants_categories(
    stack: Stack, tenant: Tenant, other_tenant: Tenant
) -> None:
    # given: categories the tenant sent lately, long ago, and another tenant's
    create_user(
        stack,
        tenant,
        channels={"sms": False},
        categories={"billing": True, "marketing": False},
        quiet_hours={"start": "22:00", "end": "07:30"},
    )
    insert_notification(stack, tenant, "product_updates", timedelta(days=3))
    insert_notification(stack, tenant, "marketing", timedelta(days=10))
    insert_notification(stack, tenant, "old_newsletter", timedelta(days=200))
    insert_notification(stack, other_tenant, "their_secret_category", timedelta(days=1))

    # when
    status, headers, html = page(
        stack, "GET", "/v1/preferences/page", token(stack, tenant, purpose="preferences")
    )

    # then
    assert (status, headers["content-type"]) == (200, "text/html; charset=utf-8")
    form = Form(html)
    assert ("channels", "email") in form.checked and ("channels", "push") in form.checked
    assert ("channels", "sms") in form.unchecked
    assert {name for kind, name in form.checked | form.unchecked if kind == "categories"} == {
        "billing",
        "marketing",
        "product_updates",
    }
    assert ("categories", "marketing") in form.unchecked
    assert {("categories", "billing"), ("categories", "product_updates")} <= form.checked
    assert ("quiet_hours_enabled", "on") in form.checked
    assert (form.values["quiet_hours_start"], form.values["quiet_hours_end"]) == (
        "22:00",
        "07:30",
    )
    assert "Ada" in html and "Europe/Paris" in html


def test_saving_the_preference_center_replaces_the_preferences(
    stack: Stack, tenant: Tenant
) -> None:
    # given
    create_user(stack, tenant, categories={"marketing": True, "billing": True})
    link = token(stack, tenant, purpose="preferences")
    _, _, html = page(stack, "GET", "/v1/preferences/page", link)
    action = Form(html).action or ""

    # when: email only, billing only, quiet from 21:30 to 07:00 (seconds, as some browsers send)
    form = urlencode(
        [
            ("channels", "email"),
            ("categories", "billing"),
            ("categories", "invented"),
            ("quiet_hours_enabled", "on"),
            ("quiet_hours_start", "21:30:00"),
            ("quiet_hours_end", "07:00"),
        ]
    )
    status, _, saved_page = page(stack, "POST", urlsplit(action).path, link, form)

    # then
    assert status == 200 and "Preferences saved" in saved_page
    saved = preferences_of(stack, tenant)
    assert saved["channels"] == {
        "email": True,
        "sms": False,
        "whatsapp": False,
        "push": False,
        "web_push": False,
        "in_app": False,
        "webhook": False,
    }
    assert saved["categories"] == {"billing": True, "marketing": False}
    assert saved["quiet_hours"] == {"start": "21:30", "end": "07:00"}
    assert events(stack)[-1] == ("u_1", None, "page", saved)
    assert ("categories", "marketing") in Form(saved_page).unchecked


def test_unusable_quiet_hours_are_400_and_save_nothing(stack: Stack, tenant: Tenant) -> None:
    # given
    create_user(stack, tenant)
    link = token(stack, tenant, purpose="preferences")

    # when
    form = "channels=email&quiet_hours_enabled=on&quiet_hours_start=22:00&quiet_hours_end=22:00"
    status, headers, html = page(stack, "POST", "/v1/preferences/page", link, form)

    # then
    assert (status, headers["content-type"]) == (400, "text/html; charset=utf-8")
    assert "Quiet hours need a start and an end time that differ" in html
    assert preferences_of(stack, tenant) == {"channels": {}, "categories": {}, "quiet_hours": None}
    assert events(stack) == []


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("link", ["forged", "expired", "for unsubscribing", None])
def test_a_bad_preference_link_is_401_and_saves_nothing(
    stack: Stack, tenant: Tenant, method: str, link: str | None
) -> None:
    # given
    create_user(stack, tenant)
    tokens = {
        "forged": forged(token(stack, tenant, purpose="preferences")),
        "expired": token(stack, tenant, purpose="preferences", expires_in=timedelta(seconds=-1)),
        "for unsubscribing": token(stack, tenant),
    }

    # when
    status, headers, html = page(
        stack, method, "/v1/preferences/page", tokens.get(link or ""), "channels=email"
    )

    # then
    assert (status, headers["content-type"]) == (401, "text/html; charset=utf-8")
    assert "<form" not in html
    assert preferences_of(stack, tenant) == {"channels": {}, "categories": {}, "quiet_hours": None}


def test_the_preference_center_of_an_erased_user_is_404(stack: Stack, tenant: Tenant) -> None:
    # given
    create_user(stack, tenant)
    link = token(stack, tenant, purpose="preferences")
    call_api(stack, "DELETE", "/v1/users/u_1", key=tenant.key)

    # when
    status, _, html = page(stack, "GET", "/v1/preferences/page", link)

    # then
    assert status == 404 and "We have no preferences for this link" in html


def test_the_api_makes_a_signed_link_to_a_users_preference_center(
    stack: Stack, tenant: Tenant
) -> None:
    # given
    create_user(stack, tenant, categories={"newsletter": True})

    # when
    status, _, link = call_api(stack, "POST", "/v1/users/u_1/preference-link", key=tenant.key)

    # then
    assert status == 200
    url = urlsplit(link["url"])
    assert f"{url.scheme}://{url.netloc}" == "http://127.0.0.1:8000"
    assert url.path == "/v1/preferences/page"
    expires_at = datetime.fromisoformat(link["expires_at"])
    assert timedelta(days=29) < expires_at - datetime.now(UTC) <= timedelta(days=30)
    status, _, html = page(stack, "GET", url.path, parse_qs(url.query)["token"][0])
    assert status == 200 and ("categories", "newsletter") in Form(html).checked
    missing, _, _ = call_api(stack, "POST", "/v1/users/ghost/preference-link", key=tenant.key)
    assert missing == 404
