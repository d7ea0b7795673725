"""The `<herald-inbox>` widget in a real headless Chromium, embedded by a page of another
origin, against `herald dev`: items show, a notification sent through the API appears live,
reading drops the count, and the keyboard alone can do all of it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from local.http import DevRequest, DevResponse, LocalHttpServer
from tests.browser import chromium_page
from tests.e2e.conftest import LocalHerald, wait_for

pytestmark = pytest.mark.e2e

HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Acme · Orders</title>
<script src="{api}/v1/inbox/widget.js"></script>
<style>
  body {{ margin: 0; font: 15px/1.5 system-ui, sans-serif; background: #f6f7f9; color: #111827; }}
  nav {{ display: flex; align-items: center; justify-content: space-between; padding: 12px 32px;
        background: #fff; border-bottom: 1px solid #e5e7eb; }}
  nav strong {{ font-size: 18px; letter-spacing: -0.01em; }}
  main {{ max-width: 720px; margin: 32px auto; padding: 0 32px; color: #4b5563; }}
  herald-inbox {{ --herald-inbox-accent: #0f766e; }}
</style></head>
<body><nav><strong>Acme</strong>
<herald-inbox api-url="{api}" token="{token}"></herald-inbox></nav>
<main><h1>Your orders</h1><p>Everything you bought, and where it is.</p></main>
</body></html>"""


def send(herald: LocalHerald, user_id: str, title: str, body: str, **extra: Any) -> None:
    with herald.client() as client:
        response = client.post(
            "/v1/notifications",
            json={
                "recipients": [{"user_id": user_id}],
                "content": {"in_app": {"title": title, "body": body, **extra}},
            },
        )
    assert response.status_code == 202, response.text


def total(herald: LocalHerald, user_id: str) -> int:
    with herald.client() as client:
        return int(client.get(f"/v1/users/{user_id}/inbox/count").json()["total"])


@pytest.fixture
def user_with_items(herald: LocalHerald) -> tuple[str, str]:
    """A user with two items, and their inbox token."""
    user_id = f"u_{uuid.uuid4().hex[:8]}"
    send(herald, user_id, "Welcome to Acme", "Your account is ready. Say hello to your inbox.")
    send(
        herald,
        user_id,
        "Your order shipped",
        "Order A-42 left our warehouse and arrives Thursday.",
        actions=[
            {"label": "Track parcel", "url": "https://acme.example/track/A-42"},
            {"label": "View order", "url": "/orders/A-42"},
        ],
    )
    wait_for(lambda: total(herald, user_id) == 2)
    with herald.client() as client:
        token = client.post(f"/v1/users/{user_id}/inbox-token").json()["token"]
    return user_id, str(token)


@pytest.fixture
def widget_page(herald: LocalHerald, user_with_items: tuple[str, str]) -> Iterator[Page]:
    """Chromium showing a page of another origin that embeds the widget."""
    html = HOST_PAGE.format(api=herald.url, token=user_with_items[1])

    def serve(_: DevRequest) -> DevResponse:
        return DevResponse(200, html, {"content-type": "text/html; charset=utf-8"})

    site = LocalHttpServer("127.0.0.1", 0, serve)
    site.start()
    try:
        with chromium_page() as page:
            page.set_viewport_size({"width": 960, "height": 620})
            page.goto(site.url)
            yield page
    finally:
        site.stop()


def bell(page: Page, unread: int) -> Locator:
    label = "none unread" if unread == 0 else f"{unread} unread"
    return page.get_by_role("button", name=f"Notifications, {label}")


def badge(page: Page) -> Locator:
    return page.locator("herald-inbox .badge")


def test_items_show_live_and_reading_drops_the_count(
    herald: LocalHerald,
    user_with_items: tuple[str, str],
    widget_page: Page,
    tmp_path: Path,
) -> None:
    page = widget_page
    user_id = user_with_items[0]
    # given: the bell shows two unread
    expect(bell(page, 2)).to_be_visible()
    expect(badge(page)).to_have_text("2")
    bell(page, 2).click()
    expect(page.get_by_text("Your order shipped")).to_be_visible()
    expect(page.get_by_text("Welcome to Acme")).to_be_visible()
    expect(page.get_by_role("link", name="Track parcel")).to_have_attribute(
        "href", "https://acme.example/track/A-42"
    )

    # when: a notification is sent through the API
    send(herald, user_id, "Payment received", "We received $42.00 for order A-42. Thank you!")

    # then: it appears and the badge increments, without a reload
    expect(page.get_by_text("Payment received")).to_be_visible(timeout=5000)
    expect(badge(page)).to_have_text("3")
    page.screenshot(path=str(tmp_path / "inbox-widget.png"))

    # when: an item is clicked
    page.get_by_role("button", name=re.compile("^Payment received")).click()
    # then: it is read, and the count drops
    expect(badge(page)).to_have_text("2")
    wait_for(lambda: _counts(herald, user_id)["unread"] == 2)

    # when: mark all as read
    page.get_by_role("button", name="Mark all as read").click()
    # then: the badge is gone
    expect(badge(page)).to_be_hidden()
    expect(bell(page, 0)).to_be_visible()
    wait_for(lambda: _counts(herald, user_id)["unread"] == 0)


def test_the_keyboard_alone_can_do_all_of_it(
    herald: LocalHerald, user_with_items: tuple[str, str], widget_page: Page
) -> None:
    page = widget_page
    user_id = user_with_items[0]
    expect(bell(page, 2)).to_be_visible()

    # Tab reaches the bell; Enter opens the panel on the newest item
    page.keyboard.press("Tab")
    expect(bell(page, 2)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog", name="Notifications")).to_be_visible()
    newest = page.get_by_role("button", name=re.compile("^Your order shipped"))
    expect(newest).to_be_focused()

    # ArrowDown moves to the next item; Enter reads it
    page.keyboard.press("ArrowDown")
    welcome = page.get_by_role("button", name=re.compile("^Welcome to Acme"))
    expect(welcome).to_be_focused()
    page.keyboard.press("Enter")
    expect(badge(page)).to_have_text("1")
    expect(page.get_by_role("status")).to_have_text("1 unread notification")

    # Shift+Tab goes back through the newer item and its two actions to "Mark all as read"
    for _ in range(4):
        page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("button", name="Mark all as read")).to_be_focused()
    page.keyboard.press("Enter")
    expect(badge(page)).to_be_hidden()
    expect(newest).to_be_focused()
    wait_for(lambda: _counts(herald, user_id)["unread"] == 0)

    # Escape closes the panel and gives the focus back to the bell
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="Notifications")).to_be_hidden()
    expect(bell(page, 0)).to_be_focused()


def test_the_widget_script_is_cached_with_an_etag(herald: LocalHerald) -> None:
    with herald.client() as client:
        first = client.get("/v1/inbox/widget.js")
        again = client.get("/v1/inbox/widget.js", headers={"If-None-Match": first.headers["etag"]})
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/javascript")
    assert 'customElements.define("herald-inbox"' in first.text
    assert again.status_code == 304 and again.content == b""


def _counts(herald: LocalHerald, user_id: str) -> dict[str, int]:
    with herald.client() as client:
        return dict(client.get(f"/v1/users/{user_id}/inbox/count").json())


def test_load_more_brings_the_older_items(herald: LocalHerald, widget_page: Page) -> None:
    # given: a user with more items than one page of the widget (20)
    user_id = f"u_{uuid.uuid4().hex[:8]}"
    for n in range(22):
        send(herald, user_id, f"Update {n:02d}", "Something changed.")
    wait_for(lambda: total(herald, user_id) == 22, timeout=30)
    with herald.client() as client:
        token = client.post(f"/v1/users/{user_id}/inbox-token").json()["token"]
    page = widget_page
    page.locator("herald-inbox").evaluate("(inbox, token) => { inbox.token = token; }", token)
    expect(bell(page, 22)).to_be_visible()
    bell(page, 22).click()
    expect(page.get_by_text("Update 21")).to_be_visible()
    expect(page.get_by_text("Update 01")).to_have_count(0)

    # when
    page.get_by_role("button", name="Load more").click()

    # then: the two oldest follow, and there is nothing more to load
    expect(page.get_by_text("Update 00")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Update "))).to_have_count(22)
    expect(page.get_by_role("button", name="Load more")).to_be_hidden()
