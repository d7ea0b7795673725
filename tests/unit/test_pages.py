"""End-user pages: what the HTML says, what its form posts mean, and, in a real headless
Chromium, that the preference center and unsubscribe work from the keyboard, without script."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from herald.errors import InvalidRequest
from herald.models.common import Channel
from herald.models.users import Preferences, QuietHours
from herald.pages import (
    parse_preference_form,
    render_error,
    render_preference_page,
    render_unsubscribe_confirmation,
    render_unsubscribed,
)
from playwright.sync_api import Page, expect

from local.http import DevRequest, DevResponse, LocalHttpServer
from tests.browser import chromium_page

TOKEN = "eyJ0ZXN0Ijp0cnVlfQ.c2lnbmF0dXJl"
CHANNELS: list[Channel] = ["email", "sms"]
CATEGORIES = ["marketing", "billing.invoices"]
HTML = {"content-type": "text/html; charset=utf-8"}


def preference_page(**overrides: object) -> str:
    arguments: dict[str, object] = {
        "token": TOKEN,
        "user_name": "Ada",
        "channels": [("email", True), ("sms", False)],
        "categories": [("marketing", True), ("billing.invoices", True)],
        "quiet_hours": None,
        "saved": False,
        "action_url": "/v1/preferences/page",
    }
    return render_preference_page(**(arguments | overrides))  # type: ignore[arg-type]


class Elements(HTMLParser):
    """Every start tag with its attributes, in document order."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


# The HTML itself


def test_every_control_on_the_preference_page_has_a_label() -> None:
    # when
    elements = Elements(preference_page())

    # then
    labelled = {attrs["for"] for attrs in elements.all("label")}
    controls = [a for a in elements.all("input") if a["type"] != "hidden"]
    assert [a["id"] for a in controls] == [
        "channel-email",
        "channel-sms",
        "category-marketing",
        "category-billing.invoices",
        "quiet-hours-enabled",
        "quiet-hours-start",
        "quiet-hours-end",
    ]
    assert all(a["id"] in labelled for a in controls)
    assert elements.all("html") == [{"lang": "en"}]
    assert len(elements.all("main")) == 1
    assert elements.all("script") == []


def test_the_preference_page_shows_the_current_choices() -> None:
    elements = Elements(preference_page(quiet_hours=QuietHours(start="21:30", end="07:15")))
    inputs = {a["id"]: a for a in elements.all("input")}
    assert "checked" in inputs["channel-email"] and "checked" not in inputs["channel-sms"]
    assert "checked" in inputs["quiet-hours-enabled"]
    assert (inputs["quiet-hours-start"]["value"], inputs["quiet-hours-end"]["value"]) == (
        "21:30",
        "07:15",
    )
    assert "Preferences saved" not in preference_page()
    assert "Preferences saved" in preference_page(saved=True)


def test_the_form_posts_back_with_the_token_in_the_query() -> None:
    (form,) = Elements(preference_page(action_url="/v1/preferences/page?token=old")).all("form")
    assert form["method"] == "post"
    assert form["action"] == f"/v1/preferences/page?token={TOKEN}"


def test_what_the_user_or_tenant_wrote_is_escaped() -> None:
    html = preference_page(user_name='<script>alert("x")</script>')
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in render_error('<img src=x onerror="alert(1)">', 400)
    assert "<b>" not in render_unsubscribed("<b>news</b>")


def test_the_unsubscribe_page_asks_first_and_posts_like_a_one_click_client() -> None:
    # when
    html = render_unsubscribe_confirmation(
        token=TOKEN, category="marketing", action_url="/v1/unsubscribe"
    )

    # then
    elements = Elements(html)
    (form,) = elements.all("form")
    assert (form["method"], form["action"]) == ("post", f"/v1/unsubscribe?token={TOKEN}")
    assert elements.all("input") == [
        {"type": "hidden", "name": "List-Unsubscribe", "value": "One-Click"}
    ]
    assert "marketing" in html and elements.all("script") == []


def test_error_pages_say_what_went_wrong() -> None:
    html = render_error("This link has expired.", 401)
    assert "This link can&#39;t be used" in html and "This link has expired." in html


# The form post


def test_an_unticked_checkbox_is_absent_and_means_off() -> None:
    # given: only email and billing ticked, quiet hours off
    body = "token=x&channels=email&categories=billing.invoices&quiet_hours_start=22%3A00"

    # when
    preferences = parse_preference_form(body, CHANNELS, CATEGORIES)

    # then
    assert preferences == Preferences(
        channels={"email": True, "sms": False},
        categories={"marketing": False, "billing.invoices": True},
        quiet_hours=None,
    )


def test_a_form_cannot_add_channels_or_categories_the_page_did_not_list() -> None:
    form = {"channels": ["email", "push"], "categories": ["marketing", "secret-new"]}
    preferences = parse_preference_form(form, ["email"], ["marketing"])
    assert preferences.channels == {"email": True}
    assert preferences.categories == {"marketing": True}


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("22:00", "08:00", QuietHours(start="22:00", end="08:00")),
        ("13:00:00", "14:00:00.000", QuietHours(start="13:00", end="14:00")),
    ],
)
def test_quiet_hours_when_enabled(start: str, end: str, expected: QuietHours) -> None:
    form = {"quiet_hours_enabled": ["on"], "quiet_hours_start": [start], "quiet_hours_end": [end]}
    assert parse_preference_form(form, CHANNELS, CATEGORIES).quiet_hours == expected


@pytest.mark.parametrize(
    ("start", "end"), [("22:00", "22:00"), ("", "08:00"), ("25:00", "08:00"), (None, None)]
)
def test_unusable_quiet_hours_are_refused(start: str | None, end: str | None) -> None:
    form = {"quiet_hours_enabled": ["on"]}
    form |= {"quiet_hours_start": [start]} if start is not None else {}
    form |= {"quiet_hours_end": [end]} if end is not None else {}
    with pytest.raises(InvalidRequest, match="Quiet hours need") as raised:
        parse_preference_form(form, CHANNELS, CATEGORIES)
    assert all(d["field"].startswith("quiet_hours") for d in raised.value.details)


# In a real browser


@dataclass
class PreferenceCenter:
    """A test-only stand-in for the API: serves the page and applies its form posts."""

    preferences: Preferences
    posted: list[Preferences] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)

    def handle(self, request: DevRequest) -> DevResponse:
        if request.query.get("token") != TOKEN:
            return DevResponse(401, render_error("This link is not valid.", 401), HTML)
        if request.path == "/v1/unsubscribe":
            return self._unsubscribe(request)
        saved = request.method == "POST"
        if saved:
            self.bodies.append(request.body.decode())
            self.preferences = parse_preference_form(request.body.decode(), CHANNELS, CATEGORIES)
            self.posted.append(self.preferences)
        html = render_preference_page(
            token=TOKEN,
            user_name="Ada",
            channels=[(c, self.preferences.channels.get(c, True)) for c in CHANNELS],
            categories=[(c, self.preferences.categories.get(c, True)) for c in CATEGORIES],
            quiet_hours=self.preferences.quiet_hours,
            saved=saved,
            action_url="/v1/preferences/page",
            timezone="Europe/Berlin",
        )
        return DevResponse(200, html, HTML)

    def _unsubscribe(self, request: DevRequest) -> DevResponse:
        if request.method == "POST":
            self.bodies.append(request.body.decode())
            return DevResponse(200, render_unsubscribed("marketing"), HTML)
        html = render_unsubscribe_confirmation(
            token=TOKEN, category="marketing", action_url="/v1/unsubscribe"
        )
        return DevResponse(200, html, HTML)


@pytest.fixture
def center() -> Iterator[tuple[PreferenceCenter, str]]:
    state = PreferenceCenter(
        Preferences(channels={"email": True, "sms": False}, categories={"marketing": True})
    )
    server = LocalHttpServer("127.0.0.1", 0, state.handle)
    server.start()
    yield state, server.url
    server.stop()


@pytest.fixture
def page() -> Iterator[Page]:
    with chromium_page(javascript=False) as page:
        yield page


def tab_to(page: Page, element_id: str) -> None:
    """Press Tab until `element_id` has the focus, as a keyboard user would."""
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == element_id:
            return
    raise AssertionError(f"#{element_id} cannot be reached with Tab")


def test_the_preference_center_works_from_the_keyboard(
    center: tuple[PreferenceCenter, str], page: Page
) -> None:
    # given
    state, url = center
    page.goto(f"{url}/v1/preferences/page?token={TOKEN}")
    assert "<script" not in page.content()
    marketing = page.get_by_label("marketing", exact=True)
    expect(marketing).to_be_checked()
    expect(page.get_by_label("Email", exact=True)).to_be_checked()
    expect(page.get_by_label("Text messages (SMS)")).not_to_be_checked()
    expect(page.get_by_label("Enable quiet hours")).not_to_be_checked()
    expect(page.get_by_role("status")).to_have_text("")

    # when: marketing off and quiet hours on, with Tab and Space, then Enter on the button
    tab_to(page, "category-marketing")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.keyboard.press("Space")
    tab_to(page, "quiet-hours-enabled")
    page.keyboard.press("Space")
    page.get_by_label("Quiet from").fill("21:30")
    page.get_by_label("Quiet until").fill("07:00")
    tab_to(page, "save-preferences")
    page.keyboard.press("Enter")

    # then
    expect(page.get_by_role("status")).to_have_text("Preferences saved")
    assert state.posted == [
        Preferences(
            channels={"email": True, "sms": False},
            categories={"marketing": False, "billing.invoices": True},
            quiet_hours=QuietHours(start="21:30", end="07:00"),
        )
    ]
    assert parse_qs(state.bodies[0]).keys() == {
        "channels",
        "categories",
        "quiet_hours_enabled",
        "quiet_hours_start",
        "quiet_hours_end",
    }
    expect(marketing).not_to_be_checked()
    expect(page.get_by_label("Enable quiet hours")).to_be_checked()
    expect(page.get_by_label("Quiet from")).to_have_value("21:30")
    assert urlsplit(page.url).query == f"token={TOKEN}"


def test_unsubscribing_from_the_confirmation_page(
    center: tuple[PreferenceCenter, str], page: Page
) -> None:
    # given
    state, url = center
    page.goto(f"{url}/v1/unsubscribe?token={TOKEN}")
    assert state.bodies == []  # opening the link changes nothing

    # when
    tab_to(page, "unsubscribe")
    page.keyboard.press("Enter")

    # then: the same request an RFC 8058 one-click client makes
    expect(page.get_by_role("heading")).to_have_text("You are unsubscribed")
    assert state.bodies == ["List-Unsubscribe=One-Click"]


def test_a_bad_token_gets_an_error_page(center: tuple[PreferenceCenter, str], page: Page) -> None:
    _, url = center
    response = page.goto(f"{url}/v1/preferences/page?token=forged")
    assert response is not None and response.status == 401
    expect(page.get_by_role("alert")).to_have_text("This link is not valid.")
